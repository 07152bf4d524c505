"""`tokenization.vocab_efficiency_vs_coverage`: how much of a vocabulary is used, and what it fails to cover.

A larger vocabulary compresses better but spreads its entries over text that may never use them: the share
of the vocabulary used on held-out text falls as it grows, per corpus. Where a script's characters have no
token, byte-level BPE falls back to their UTF-8 bytes (Radford et al. 2019): the byte-fallback rate measures
that lack of coverage.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from studyforge.experiments.registry import register
from studyforge.experiments.tokenization import metrics, plots
from studyforge.experiments.tokenization.studies.common import (
    SweepConfig,
    load_corpora,
    train_regimes,
    truncate,
    vkey,
)


class EfficiencyConfig(SweepConfig):
    """Vocabulary efficiency against coverage."""


@register("tokenization.vocab_efficiency_vs_coverage", week=2, config=EfficiencyConfig,
          headline="english_vocab_used")
def vocab_efficiency_vs_coverage(ctx, cfg: EfficiencyConfig) -> None:
    """Vocabulary efficiency vs. coverage: how much of the vocabulary held-out text uses, and what it misses.

    A balanced byte-level BPE tokenizer (equal share of every corpus) at each vocabulary size encodes each
    corpus's held-out lines. Reports the share of the vocabulary used (per corpus and by any corpus), the
    byte-fallback rate (tokens that are a lone byte of a multi-byte character: no piece covers it) and the
    distribution of token lengths, in the vocabulary and in use.
    """
    corpora = load_corpora(ctx, cfg, with_languages=True)
    held = {c.name: c.split()[1] for c in corpora}
    sizes = sorted(cfg.vocab_sizes)
    summary: dict[str, Any] = {"vocab_used": {}, "byte_fallback": {}, "mean_token_bytes": {}, "vocab_used_any": {}}
    rows = []
    with ctx.progress(total=len(sizes) + 1, description="vocabulary efficiency") as bar:
        vocab, merges = train_regimes(corpora, cfg)["balanced"]
        bar.advance(1)
        in_use: dict[str, Counter] = {}
        for size in sizes:
            tok = truncate(vocab, merges, size)
            used_any: set[int] = set()
            for name, text in held.items():
                ids = tok.encode(text)
                used_any.update(ids)
                row = {"vocab_size": size, "corpus": name,
                       "vocab_used": metrics.vocabulary_used(ids, len(tok)),
                       "byte_fallback": metrics.byte_fallback_rate(ids, tok.vocab),
                       "mean_token_bytes": metrics.bytes_per_token(text, len(ids))}
                rows.append(row)
                for key in ("vocab_used", "byte_fallback", "mean_token_bytes"):
                    summary[key].setdefault(name, {})[vkey(size)] = row[key]
                if size == sizes[-1]:
                    in_use[name] = Counter(metrics.token_length_counts(ids, tok.vocab))
            summary["vocab_used_any"][vkey(size)] = len(used_any) / len(tok)
            ctx.log({"efficiency/vocab_used_any": summary["vocab_used_any"][vkey(size)],
                     **{f"efficiency/{n}/byte_fallback": summary["byte_fallback"][n][vkey(size)] for n in held}},
                    step=size)
            bar.advance(1)
    ctx.log_table("efficiency", rows, caption="Per corpus and vocabulary size: share of the vocabulary used on "
                  "held-out text, byte-fallback rate, mean bytes per token.")
    names = list(held)
    ctx.log_figure("efficiency_vs_vocab", plots.efficiency_vs_vocab(summary, names, sizes),
                   caption="Left: each corpus uses a shrinking share of a growing "
                   "vocabulary. Right: where a script's characters have no token, bytes stand in for them.")
    full = truncate(vocab, merges, sizes[-1])
    in_vocab = Counter(len(t) for t in full.vocab.values())
    ctx.log_figure("token_lengths", plots.token_lengths(in_vocab, len(full), in_use, sizes[-1]),
                   caption="Lengths of the tokens in the vocabulary, and of the tokens "
                   "actually used on held-out English and Python.")
    top = vkey(sizes[-1])
    ctx.summary(**summary, token_lengths_in_vocab=dict(sorted(in_vocab.items())),
                english_vocab_used=summary["vocab_used"]["english"][top])
