"""Which Claude model drafts by default, and what a call costs — an ESTIMATE from a small price table.

The default model is the newest Sonnet-class alias the installed SDK knows (`anthropic.types.Model`),
so upgrading the SDK upgrades the default; `drafting.model` in curriculum.yaml or `--model` override it.

Prices are USD per million tokens, per model family, as published for the current generation when
this table was written (check https://www.anthropic.com/pricing before relying on a figure). Cache
writes (5-minute TTL) cost 1.25× input and cache reads 0.1× input; the Message Batches API halves
everything. A family missing from the table has no estimate (None), rather than a wrong one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studyforge.drafting.llm import Usage


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float

    @property
    def cache_write(self) -> float:
        return self.input * 1.25

    @property
    def cache_read(self) -> float:
        return self.input * 0.1


PRICES: dict[str, Price] = {
    "haiku": Price(1.0, 5.0),
    "sonnet": Price(3.0, 15.0),
    "opus": Price(5.0, 25.0),  # Opus 4.5 and later
}
OLD_OPUS = Price(15.0, 75.0)  # Opus 4.1 and earlier
BATCH_DISCOUNT = 0.5

_FAMILY = re.compile(r"claude-(?:(\d+)-(?:(\d+)-)?)?(haiku|sonnet|opus|[a-z]+)(?:-(\d{1,2}))?(?:-(\d{1,2}))?(?:-|$)")


def family(model: str) -> str | None:
    """The model family: `claude-sonnet-5-5` -> 'sonnet', `claude-3-5-haiku-20241022` -> 'haiku'."""
    match = _FAMILY.match(model)
    return match.group(3) if match else None


def price_of(model: str | None) -> Price | None:
    """`price_of("claude-sonnet-4-5")` -> Price(input=3.0, output=15.0); unknown families -> None."""
    if not model:
        return None
    match = _FAMILY.match(model)
    if not match:
        return None
    fam = match.group(3)
    if fam == "opus":
        version = (int(match.group(4) or 0), int(match.group(5) or 0)) if match.group(4) else (
            int(match.group(1) or 0), int(match.group(2) or 0))
        return OLD_OPUS if version < (4, 5) else PRICES["opus"]
    return PRICES.get(fam)


def estimate_cost(model: str | None, usage: Usage, *, batch: bool = False) -> float | None:
    """USD for one call's usage (input excludes cached tokens, as the API reports it); None if unpriced.

    >>> from studyforge.drafting.llm import Usage
    >>> round(estimate_cost("claude-sonnet-4-5", Usage(input_tokens=1_000_000, output_tokens=100_000)), 4)
    4.5
    """
    price = price_of(model)
    if price is None:
        return None
    cost = (usage.input_tokens * price.input + usage.output_tokens * price.output
            + usage.cache_write_tokens * price.cache_write + usage.cache_read_tokens * price.cache_read) / 1e6
    return cost * (BATCH_DISCOUNT if batch else 1.0)


@lru_cache(maxsize=1)
def known_models() -> tuple[str, ...]:
    """The model ids the installed SDK's `Model` type lists."""
    from typing import get_args

    from anthropic.types import Model

    ids: list[str] = []
    for arg in get_args(Model):
        ids += [a for a in get_args(arg) if isinstance(a, str)]
    return tuple(ids)


_SONNET_ALIAS = re.compile(r"^claude-sonnet-(\d+)(?:-(\d{1,2}))?$")


@lru_cache(maxsize=1)
def default_model() -> str:
    """The newest Sonnet alias in the installed SDK (dated snapshots are skipped: an alias tracks fixes)."""
    best: tuple[tuple[int, int], str] | None = None
    for model in known_models():
        match = _SONNET_ALIAS.match(model)
        if match:
            version = (int(match.group(1)), int(match.group(2) or 0))
            if best is None or version > best[0]:
                best = (version, model)
    if best is None:  # an SDK without Sonnet aliases: the newest dated Sonnet it lists, else a known id
        dated = sorted(m for m in known_models() if m.startswith("claude-sonnet-"))
        return dated[-1] if dated else "claude-sonnet-4-5"
    return best[1]


def approx_tokens(text: str) -> int:
    """A local estimate of Claude tokens (~4 characters each, counting words and symbols).

    Used only where the API cannot be asked (offline `--dry-run`, the benchmark's fake API).
    `approx_tokens("Value iteration converges.")` -> 6
    """
    words = re.findall(r"\w+|[^\w\s]", text)
    return max(len(text) // 4, len(words) * 3 // 4) if text else 0
