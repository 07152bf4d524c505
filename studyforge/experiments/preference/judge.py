"""AI feedback: a written constitution, and judges that label a pair of completions against one of its principles.

Constitutional AI (Bai et al. 2022, arXiv:2212.08073) replaces the human labeller of harmlessness comparisons
with a model that is shown a *principle* sampled from a short written constitution and asked which of two
responses better follows it; RLAIF (Lee et al. 2023, arXiv:2309.00267) trains the reward model on such AI
labels and finds it about as good as one trained on human labels. Here the judge's verdicts can be checked,
because the synthetic task has gold rewards (`gold.py`) for the principles that name one.

**The constitution** (`templates/constitution.md`, parsed by `parse_constitution`): one principle per level-2
heading `## id: title`, its plain-language text below it, and an optional line `gold: NAME` naming the gold
reward that measures it (`style` or `fluency`). Principles without `gold:` are ones no code can check.

**Judges** (the `Judge` protocol: `judge(prompt_text, a_text, b_text, principle) -> Verdict`):

- `ClaudeJudge`: sends the principle, the prompt and both completions to Claude through the project's own
  client (`drafting.llm.AnthropicClient`: the SDK's retries with backoff, the key read by the SDK from the
  environment and never stored), logs each call to the call log (`drafting.calllog`, kind "judge"), and
  prices it (`drafting.pricing`). The reply must end with the line `Verdict: A` or `Verdict: B`
  (`parse_verdict`); a malformed reply is asked again once, then the pair is counted as abstained — a study
  never crashes on what a model wrote.
- `CodeJudge`: the offline stand-in, deterministic and free: on a principle with a gold reward it prefers the
  completion with the higher gold value (a tie abstains); on the others it abstains.

**Position bias** (`judge_both_orders`, `position_bias`): each pair is judged twice, as (A, B) and swapped
as (B, A). A judge that reads the texts prefers the same *completion* both times; one that favours a slot
changes its pick. The flip rate is the share of twice-decided pairs whose preferred completion changes (the
code judge's is 0 by construction: its verdict is a function of the two texts, not of their order). As in
RLAIF, the label kept is the one both orders agree on; a conflict is no label.

**Cost per 1,000 labels** = 1000 · Σ cost of every call (retries included) / verdicts asked.

>>> parse_verdict("Response A is made of real words.\\nVerdict: A")
'A'
>>> parse_verdict("I prefer B.") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from studyforge.drafting.llm import LLMError, LLMRequest, Usage
from studyforge.experiments.preference.gold import GoldRewards

Choice = Literal["A", "B"]

# -------------------------------------------------------------------------------------------------
# The constitution.


@dataclass(frozen=True)
class Principle:
    """One principle: an id, a short title, the text the judge reads, and the gold reward measuring it (or None)."""

    id: str
    title: str
    text: str
    gold: str | None = None


_HEADING = re.compile(r"^##\s+([A-Za-z0-9_-]+)\s*:\s*(.+?)\s*$")
_GOLD = re.compile(r"^gold\s*:\s*([A-Za-z0-9_-]+)\s*$")


def parse_constitution(text: str) -> list[Principle]:
    """The principles of a constitution in the format above (text before the first `##` is a preamble).

    >>> [(p.id, p.gold) for p in parse_constitution("# C\\nintro\\n## a: A\\nBe kind.\\n## b: B\\nSpell.\\ngold: fluency\\n")]
    [('a', None), ('b', 'fluency')]
    """
    principles: list[Principle] = []
    current: dict | None = None

    def close() -> None:
        if current is None:
            return
        body = " ".join(" ".join(current["lines"]).split())
        if not body:
            raise ValueError(f"principle {current['id']!r} has no text")
        principles.append(Principle(current["id"], current["title"], body, current["gold"]))

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            close()
            current = {"id": heading.group(1), "title": heading.group(2), "lines": [], "gold": None}
        elif line.startswith("## "):
            raise ValueError(f"principle heading {line.strip()!r} must read '## id: title'")
        elif current is not None:
            gold = _GOLD.match(line.strip())
            if gold:
                current["gold"] = gold.group(1)
            else:
                current["lines"].append(line.strip())
    close()
    ids = [p.id for p in principles]
    if not principles:
        raise ValueError("the constitution has no principles (each starts with a heading '## id: title')")
    if len(set(ids)) != len(ids):
        raise ValueError(f"principle ids repeat: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}")
    return principles


def constitution_path(workspace_root: Path | None, override: str | None = None) -> Path:
    """Which constitution a run reads: `override` if given, else the workspace's `templates/constitution.md`,
    else the packaged default (a workspace made before week 9 has no copy of its own)."""
    from studyforge.workspace import DEFAULTS

    if override:
        return Path(override).expanduser()
    if workspace_root is not None and (workspace_root / "templates" / "constitution.md").is_file():
        return workspace_root / "templates" / "constitution.md"
    return DEFAULTS / "templates" / "constitution.md"


def load_constitution(path: Path) -> list[Principle]:
    """The principles in the file at `path` (a ForgeError naming the file when it is missing or malformed)."""
    from studyforge.errors import ForgeError

    try:
        return parse_constitution(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ForgeError(f"no constitution at {path}", hint="set constitution=PATH or restore "
                         "templates/constitution.md") from None
    except ValueError as exc:
        raise ForgeError(f"{path}: {exc}", hint="each principle is '## id: title', its text, and optionally "
                         "'gold: style' or 'gold: fluency'") from None


# -------------------------------------------------------------------------------------------------
# Verdicts and judges.


@dataclass
class Verdict:
    """A judge's answer: "A", "B", or None (abstained, with the reason), and what it cost."""

    choice: Choice | None
    reason: str = ""  # why it abstained: "no gold reward", "tie", "malformed", "api error: ..."
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    calls: int = 0  # API calls it took (a retried malformed reply: 2)

    @property
    def abstained(self) -> bool:
        return self.choice is None


class Judge(Protocol):
    kind: str  # "claude" or "code"
    model: str | None

    def judge(self, prompt_text: str, a_text: str, b_text: str, principle: Principle) -> Verdict: ...


class CodeJudge:
    """Checks what code can: a principle with a gold reward prefers the completion that scores higher on it."""

    kind = "code"
    model = None

    def __init__(self, gold: GoldRewards):
        self.gold = gold

    def judge(self, prompt_text: str, a_text: str, b_text: str, principle: Principle) -> Verdict:
        if principle.gold is None or principle.gold not in self.gold.names:
            return Verdict(None, "no gold reward")
        m = self.gold.index(principle.gold)
        a, b = self.gold.score([a_text, b_text])[:, m].tolist()
        if a == b:
            return Verdict(None, "tie")
        return Verdict("A" if a > b else "B")


SYSTEM = ("You are a careful judge of two short continuations of the same text. You compare them against ONE "
          "principle only, ignoring everything else, including which one is shown first. Explain your choice in at "
          "most two sentences, then end your reply with a final line that is exactly 'Verdict: A' or 'Verdict: B'.")

_VERDICT = re.compile(r"^\**\s*verdict\s*\**\s*:\s*\**\s*([AB])\s*\**\.?$", re.IGNORECASE)


def parse_verdict(text: str) -> Choice | None:
    """The choice on the reply's last non-empty line `Verdict: A` / `Verdict: B` (markdown bold allowed), else None.

    >>> parse_verdict("**Verdict:** B"), parse_verdict("Verdict: A or B"), parse_verdict("Verdict: A\\nThanks!")
    ('B', None, None)
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    match = _VERDICT.match(lines[-1])
    return match.group(1).upper() if match else None  # type: ignore[return-value]


def judge_message(prompt_text: str, a_text: str, b_text: str, principle: Principle) -> str:
    """The user turn: the principle, the prompt, and the two completions between tags (whitespace kept)."""
    return (f"Principle: {principle.text}\n\n"
            f"<prompt>{prompt_text}</prompt>\n\n"
            f"<response_a>{a_text}</response_a>\n\n"
            f"<response_b>{b_text}</response_b>\n\n"
            "Which response better follows the principle? End with 'Verdict: A' or 'Verdict: B'.")


def default_judge_model() -> str:
    """The newest Haiku alias the installed SDK knows (the cheapest capable judge), else drafting's default."""
    from studyforge.drafting.pricing import default_model, known_models

    best: tuple[tuple[int, int], str] | None = None
    for model in known_models():
        match = re.match(r"^claude-haiku-(\d+)(?:-(\d{1,2}))?$", model)
        if match:
            version = (int(match.group(1)), int(match.group(2) or 0))
            if best is None or version > best[0]:
                best = (version, model)
    return best[1] if best else default_model()


class ClaudeJudge:
    """Claude as the judge, through `drafting.llm.AnthropicClient` (or any `LLMClient`), one call per verdict.

    A malformed reply (no final `Verdict: A|B` line) is asked once more; a second malformed reply abstains.
    A call that still fails after the SDK's retries abstains when the failure is transient (429, 5xx, 529, a
    connection or stream error) and is raised when it is not (a rejected key, an unknown model): those would
    fail every call, and the user must fix them."""

    kind = "claude"

    def __init__(self, client, model: str | None = None, max_tokens: int = 200, call_log=None, label: str = ""):
        self.client = client
        self.model = model or default_judge_model()
        self.max_tokens = max_tokens
        self.call_log = call_log  # a drafting.calllog.CallLog, or None
        self.label = label  # recorded as the call log's `post` (e.g. the study id)

    def _call(self, request: LLMRequest):
        from studyforge.drafting.pricing import estimate_cost

        try:
            response = self.client.generate(request)
        except LLMError as exc:
            self._log(request, None, "error", error=exc.message)
            if exc.status is not None and exc.status < 500 and exc.status not in (408, 409, 429):
                raise
            return None, f"api error: {exc.message}"
        cost = estimate_cost(response.model or self.model, response.usage) or 0.0
        return response, cost

    def _log(self, request: LLMRequest, response, outcome: str, cost: float | None = None, error: str = "") -> None:
        if self.call_log is None:
            return
        u = response.usage if response is not None else Usage()
        self.call_log.record(week=9, post=self.label, edition="judge", backend=getattr(self.client, "backend", ""),
                             model=(response.model if response is not None else None) or self.model, kind="judge",
                             prompt_hash=request.hash, input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                             cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens,
                             cost_usd=cost, duration_s=response.duration_s if response is not None else None,
                             request_id=response.request_id if response is not None else None, outcome=outcome,
                             error=error or None)

    def judge(self, prompt_text: str, a_text: str, b_text: str, principle: Principle) -> Verdict:
        request = LLMRequest.from_turn(self.model, self.max_tokens, SYSTEM,
                                       judge_message(prompt_text, a_text, b_text, principle), week=9, post=self.label,
                                       edition="judge")
        usage, cost, calls = Usage(), 0.0, 0
        for _attempt in range(2):  # the first answer, and one retry of a malformed one
            response, extra = self._call(request)
            calls += 1
            if response is None:
                return Verdict(None, extra, usage, cost, calls)
            usage = _add(usage, response.usage)
            cost += extra
            choice = parse_verdict(response.text)
            self._log(request, response, "ok" if choice else "malformed", extra)
            if choice is not None:
                return Verdict(choice, "", usage, cost, calls)
        return Verdict(None, "malformed", usage, cost, calls)


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(**{k: getattr(a, k) + getattr(b, k) for k in Usage.model_fields})


def make_judge(kind: Literal["auto", "claude", "code"], gold: GoldRewards, model: str | None = None,
               call_log=None, label: str = "", client=None) -> Judge:
    """`auto`: Claude when an API key is set (`drafting.llm.has_api_key`), else the code judge. `client`
    replaces the AnthropicClient (tests pass one talking to the fake API)."""
    from studyforge.drafting.llm import AnthropicClient, has_api_key

    if kind not in ("auto", "claude", "code"):
        raise ValueError(f"unknown judge {kind!r}; use auto, claude or code")
    if kind == "code" or (kind == "auto" and client is None and not has_api_key()):
        return CodeJudge(gold)
    return ClaudeJudge(client or AnthropicClient(), model, call_log=call_log, label=label)


# -------------------------------------------------------------------------------------------------
# Both orders, position bias, agreement with gold, cost.


@dataclass
class PairJudgement:
    """One pair judged in both orders: `forward` saw (first, second) as (A, B), `swapped` saw (second, first).
    `first_wins`: True / False where both orders prefer the same completion, None otherwise (no label)."""

    principle: Principle
    forward: Verdict
    swapped: Verdict

    @property
    def forward_first_wins(self) -> bool | None:
        return None if self.forward.abstained else self.forward.choice == "A"

    @property
    def swapped_first_wins(self) -> bool | None:
        return None if self.swapped.abstained else self.swapped.choice == "B"  # the first completion was shown as B

    @property
    def flipped(self) -> bool | None:
        """Did swapping the order change which completion was preferred? None unless both orders decided."""
        f, s = self.forward_first_wins, self.swapped_first_wins
        return None if f is None or s is None else f != s

    @property
    def first_wins(self) -> bool | None:
        f, s = self.forward_first_wins, self.swapped_first_wins
        return f if f is not None and f == s else None


def judge_both_orders(judge: Judge, prompt_text: str, first: str, second: str, principle: Principle) -> PairJudgement:
    """Ask the judge about (first, second) and again with the pair swapped."""
    return PairJudgement(principle, judge.judge(prompt_text, first, second, principle),
                         judge.judge(prompt_text, second, first, principle))


def position_bias(judgements: Sequence[PairJudgement]) -> dict[str, float | int | None]:
    """`flip_rate`: share of pairs decided in both orders whose preferred completion changed when swapped;
    `slot_a_rate`: share of all decided verdicts that picked slot A (0.5 for an unbiased judge on balanced data);
    `pairs_both_decided`: how many pairs the flip rate is over.

    >>> from types import SimpleNamespace as S
    >>> always_a = [S(flipped=True, forward=Verdict("A"), swapped=Verdict("A"))] * 3
    >>> position_bias(always_a)
    {'flip_rate': 1.0, 'slot_a_rate': 1.0, 'pairs_both_decided': 3}
    """
    decided = [j.flipped for j in judgements if j.flipped is not None]
    verdicts = [v.choice for j in judgements for v in (j.forward, j.swapped) if not v.abstained]
    return {"flip_rate": sum(decided) / len(decided) if decided else None,
            "slot_a_rate": verdicts.count("A") / len(verdicts) if verdicts else None,
            "pairs_both_decided": len(decided)}


def agreement_with_gold(judgements: Sequence[PairJudgement], gold_first: Sequence[Sequence[float]],
                        gold_second: Sequence[Sequence[float]], objectives: Sequence[str]) -> dict:
    """Per principle and overall: the share of labelled pairs (both orders agree) whose pick has the higher gold
    value of the principle's own reward (pairs tied in that reward left out), the share of single verdicts that
    do (`single_order`), and how many verdicts abstained. Principles without a gold reward: agreement None.

    `gold_first[i][m]`: gold reward `objectives[m]` of pair i's first completion."""
    per: dict[str, dict] = {}
    for i, j in enumerate(judgements):
        p = j.principle
        row = per.setdefault(p.id, {"gold": p.gold, "pairs": 0, "labelled": 0, "abstained_verdicts": 0,
                                    "_agree": [], "_single": []})
        row["pairs"] += 1
        row["labelled"] += j.first_wins is not None
        row["abstained_verdicts"] += j.forward.abstained + j.swapped.abstained
        if p.gold is None or p.gold not in objectives:
            continue
        m = list(objectives).index(p.gold)
        diff = gold_first[i][m] - gold_second[i][m]
        if diff == 0:
            continue
        truth = diff > 0  # the first completion is truly better on this principle
        if j.first_wins is not None:
            row["_agree"].append(j.first_wins == truth)
        row["_single"] += [w == truth for w in (j.forward_first_wins, j.swapped_first_wins) if w is not None]
    out: dict = {"per_principle": {}}
    agree_all: list[bool] = []
    single_all: list[bool] = []
    for pid, row in per.items():
        agree, single = row.pop("_agree"), row.pop("_single")
        checkable = row["gold"] is not None and row["gold"] in objectives
        row["agreement"] = (sum(agree) / len(agree) if agree else None) if checkable else None
        row["single_order_agreement"] = (sum(single) / len(single) if single else None) if checkable else None
        out["per_principle"][pid] = row
        agree_all += agree
        single_all += single
    out["overall"] = sum(agree_all) / len(agree_all) if agree_all else None
    out["overall_single_order"] = sum(single_all) / len(single_all) if single_all else None
    out["pairs_checked"] = len(agree_all)
    return out


def cost_summary(judgements: Sequence[PairJudgement]) -> dict[str, float | int]:
    """Verdicts asked, API calls made (retries included), tokens, total USD and USD per 1,000 labels."""
    verdicts = [v for j in judgements for v in (j.forward, j.swapped)]
    cost = sum(v.cost_usd for v in verdicts)
    return {"verdicts": len(verdicts), "calls": sum(v.calls for v in verdicts),
            "input_tokens": sum(v.usage.input_tokens for v in verdicts),
            "output_tokens": sum(v.usage.output_tokens for v in verdicts), "cost_usd": cost,
            "cost_per_1k_labels": 1000.0 * cost / len(verdicts) if verdicts else 0.0}
