"""`tokenization.cross_lingual_compression`: how well byte-level BPE compresses each language and domain.

A tokenizer's vocabulary is spent on what its training text holds: trained on English, byte-level BPE
(GPT-2, Radford et al. 2019) compresses other scripts little better than raw UTF-8 bytes, so the same text
costs a speaker of those languages more tokens (Petrov et al., "Language Model Tokenizers Introduce
Unfairness Between Languages", arXiv:2305.15425). Measured: bytes per token (compression), tokens per word
(fertility) and single-token words (coverage), for a tokenizer trained on English only and one on a balanced
mix.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from studyforge.experiments.registry import register
from studyforge.experiments.tokenization import metrics, plots
from studyforge.experiments.tokenization.bpe import Tokenizer
from studyforge.experiments.tokenization.pretokenize import PRETOKEN_RE
from studyforge.experiments.tokenization.studies.common import (
    SweepConfig,
    load_corpora,
    train_regimes,
    truncate,
    vkey,
)


class CompressionConfig(SweepConfig):
    """Compression across languages and domains against vocabulary size."""

    gpt2_files: list[str] = Field(default_factory=list, description="optional [vocab.json, merges.txt] of "
                                  "GPT-2, evaluated as a reference point")


@register("tokenization.cross_lingual_compression", week=2, config=CompressionConfig,
          headline="english_bytes_per_token")
def cross_lingual_compression(ctx, cfg: CompressionConfig) -> None:
    """Compression across languages and domains: bytes per token and tokens per word against vocabulary size.

    Two byte-level BPE tokenizers per vocabulary size — one trained on English prose only, one on an equal
    share of every corpus (English prose, Python source, each language) — encode every corpus's held-out
    lines (every tenth). Reports bytes per token (compression), tokens per word (fertility) and the share of
    words that are a single token (coverage); with `gpt2_files`, GPT-2's tokenizer too.
    """
    corpora = load_corpora(ctx, cfg, with_languages=True)
    held = {c.name: c.split()[1] for c in corpora}
    sizes = sorted(cfg.vocab_sizes)
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"bytes_per_token": {}, "tokens_per_word": {}, "single_token_words": {}}
    with ctx.progress(total=len(sizes) * 2 + 1, description="compression") as bar:
        regimes = train_regimes(corpora, cfg)
        bar.advance(1)
        evaluated: list[tuple[str, int, Tokenizer]] = [(r, v, truncate(*regimes[r], v)) for r in regimes
                                                       for v in sizes]
        if len(cfg.gpt2_files) == 2:
            gpt2 = Tokenizer.from_files(*cfg.gpt2_files)
            evaluated.append(("gpt2", len(gpt2), gpt2))
        for regime, size, tok in evaluated:
            logged = {}
            for name, text in held.items():
                ids = tok.encode(text)
                pre = PRETOKEN_RE.findall(text)
                single = sum(1 for w in pre if len(tok.encode(w)) == 1) / max(len(pre), 1)
                row = {"regime": regime, "vocab_size": size, "corpus": name,
                       "bytes_per_token": metrics.bytes_per_token(text, len(ids)),
                       "tokens_per_word": metrics.tokens_per_word(text, len(ids)), "single_token_words": single}
                rows.append(row)
                for key in summary:
                    summary[key].setdefault(regime, {}).setdefault(name, {})[vkey(size)] = row[key]
                logged[f"compression/{regime}/{name}/bytes_per_token"] = row["bytes_per_token"]
            if regime != "gpt2":
                ctx.log(logged, step=size)
            bar.advance(1)
    ctx.log_table("compression", rows, caption="Held-out compression per corpus, vocabulary size and training "
                  "regime (byte-level BPE; words = whitespace-separated).")
    names = list(held)
    ctx.log_figure("bytes_per_token_vs_vocab", plots.bytes_per_token_vs_vocab(summary["bytes_per_token"], names,
                                                                              sizes),
                   caption="Compression against vocabulary size. A tokenizer "
                   "trained on English compresses other scripts little better than raw bytes; a balanced "
                   "mix shares the vocabulary out.")
    top = vkey(sizes[-1])
    ctx.log_figure("bytes_per_token_by_corpus", plots.bytes_per_token_by_corpus(summary["bytes_per_token"], names,
                                                                                sizes[-1]),
                   caption="Bytes per token of each corpus's held-out text "
                   f"at the largest vocabulary ({sizes[-1]}), for both training regimes.")
    ctx.summary(**summary, english_bytes_per_token=summary["bytes_per_token"]["balanced"]["english"][top])
