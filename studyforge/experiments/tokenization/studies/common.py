"""What the week-2 studies share: the corpora they read, and BPE trained on them.

Data come from `data.py`: offline by default (Python's documentation and licence as English prose, the
standard library as Python source, and only Python's tiny CJK codec samples as other languages); pass
`multilingual=lingua`, a folder of `<lang>.txt` files or `hf:<dataset>` for the full cross-lingual picture.
Every run records in its summary where each corpus came from. Vocabulary sizes are written `v1000` in
summary keys.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.tokenization import data as datalib
from studyforge.experiments.tokenization.bpe import Tokenizer, train_bpe_from_counts
from studyforge.experiments.tokenization.pretokenize import count_pretokens_in_text

FEW_LANGUAGES = 15  # the issue asks for at least this many languages in the cross-lingual comparison


class EnglishData(ExperimentConfig):
    english_chars: int | None = Field(1_000_000, ge=1_000, description="characters of English prose "
                                      "(Python's documentation and licence; None: all of it, about 0.5 M)")
    python_chars: int | None = Field(1_000_000, ge=1_000, description="characters of standard-library source")


class AllData(EnglishData):
    multilingual: str = Field("builtin", description="other languages: 'builtin' (offline: Python's tiny "
                              "zh/ja/ko codec samples), 'lingua' (26 languages, downloaded once), a folder of "
                              "<lang>.txt files, or hf:<dataset>?text=...&label=...")
    language_chars: int | None = Field(200_000, ge=1_000, description="characters per language")
    languages: list[str] = Field(default_factory=list, description="language codes to keep (empty: all)")
    vocab_sizes: list[int] = Field(default_factory=lambda: [500, 1000, 2000, 4000, 8000],
                                   description="vocabulary sizes to compare (bytes included, ≥ 257)")


class SweepConfig(AllData):
    """The studies that sweep vocabulary sizes over every corpus: their data, the share of each corpus the
    balanced tokenizer sees, and their presets."""

    mix_chars: int = Field(200_000, ge=1_000, description="training characters taken from each corpus for "
                           "the balanced tokenizer")

    presets: ClassVar = {
        "quick": {"english_chars": 40_000, "python_chars": 20_000, "language_chars": 10_000, "mix_chars": 10_000,
                  "vocab_sizes": [300, 600]},
        "full": {"english_chars": None, "python_chars": 5_000_000, "language_chars": None,
                 "mix_chars": 1_000_000, "vocab_sizes": [500, 1000, 2000, 4000, 8000, 16000, 32000]},
    }


def load_corpora(ctx, cfg: EnglishData, with_languages: bool) -> list[datalib.Corpus]:
    """English prose, Python source and (optionally) the languages of `cfg.multilingual`; recorded in the
    summary under `data`."""
    corpora = [datalib.english_prose(cfg.english_chars), datalib.python_source(cfg.python_chars)]
    if with_languages:
        corpora += datalib.multilingual(cfg.multilingual, cfg.language_chars, cfg.languages or None)
    languages = [c.name for c in corpora if c.domain == "multilingual"]
    note = ""
    if with_languages and len(languages) < FEW_LANGUAGES:
        note = (f"only {len(languages)} other language(s) available from multilingual={cfg.multilingual!r}; "
                f"run with multilingual=lingua (network, cached) or a folder of <lang>.txt files for ≥ "
                f"{FEW_LANGUAGES} languages")
    ctx.summary(data={"corpora": {c.name: {"domain": c.domain, "bytes": c.n_bytes, "source": c.source}
                                  for c in corpora},
                      "languages": languages, "note": note})
    return corpora


def vkey(size: int) -> str:
    """1000 -> 'v1000', a vocabulary size as a summary key."""
    return f"v{size}"


def truncate(vocab: dict[int, bytes], merges: list[tuple[bytes, bytes]], size: int) -> Tokenizer:
    """The tokenizer of vocabulary `size` inside a larger one: BPE's merges are learned in order, so a
    smaller vocabulary is a prefix of the merge list (plus the 256 bytes)."""
    kept = merges[: max(0, size - 256)]
    tokens = [bytes([b]) for b in range(256)] + [a + b for a, b in kept]
    sub = {i: t for i, t in enumerate(dict.fromkeys(tokens))}
    return Tokenizer(sub, kept)


def train_bpe_on(texts: list[str], vocab_size: int, strategy: str = "frequency", on_merge=None):
    """Byte-level BPE on the GPT-2 pre-tokens of `texts`: (vocab, merges)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(count_pretokens_in_text(text))
    return train_bpe_from_counts(counts, vocab_size, (), strategy, on_merge)  # type: ignore[arg-type]


def train_regimes(corpora: list[datalib.Corpus], cfg) -> dict[str, tuple[dict, list]]:
    """A tokenizer trained on English prose only, and one on an equal share of every corpus."""
    splits = {c.name: c.split()[0] for c in corpora}
    top = max(cfg.vocab_sizes)
    return {"english_only": train_bpe_on([splits["english"]], top),
            "balanced": train_bpe_on([text[: cfg.mix_chars] for text in splits.values()], top)}
