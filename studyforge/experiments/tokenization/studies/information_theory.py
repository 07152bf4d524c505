"""`tokenization.information_theory`: tokens as a compressor, measured in bits per byte.

A unigram code over tokens spends −log₂ p(t) bits on token t (Shannon 1948), so text costs H · tokens / bytes
bits per byte, H the entropy of the token distribution. BPE moves context into the tokens: a larger
vocabulary raises H per token but cuts the tokens per byte by more. The yardsticks are general-purpose
compressors that use context themselves: zlib (DEFLATE: LZ77 + Huffman) and lzma (LZMA).
"""

from __future__ import annotations

import math
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


class InformationConfig(SweepConfig):
    """Entropy of token streams and comparison with general-purpose compressors."""


@register("tokenization.information_theory", week=2, config=InformationConfig,
          headline="english_best_bits_per_byte")
def information_theory(ctx, cfg: InformationConfig) -> None:
    """Information theory of tokenization: token entropy, bits per byte, and zlib / lzma on the same text.

    For each corpus's held-out lines and each vocabulary size (256 = raw bytes): the unigram entropy H of
    the tokens (bits per token), the code length of a unigram code per byte, H · tokens / bytes, with the
    probabilities measured on the held-out text itself (an ideal) and estimated on the training text
    (add-one smoothing: a code one could actually use), against zlib (level 9) and lzma (preset 9e).
    """
    corpora = load_corpora(ctx, cfg, with_languages=True)
    splits = {c.name: c.split() for c in corpora}
    sizes = [256, *sorted(v for v in cfg.vocab_sizes if v > 256)]
    summary: dict[str, Any] = {"entropy_bits_per_token": {}, "bits_per_byte": {}, "cross_bits_per_byte": {},
                               "zlib_bits_per_byte": {}, "lzma_bits_per_byte": {}}
    rows = []
    with ctx.progress(total=len(sizes) + 1, description="information") as bar:
        for name, (_, held) in splits.items():
            summary["zlib_bits_per_byte"][name] = metrics.compressed_bits_per_byte(held, "zlib")
            summary["lzma_bits_per_byte"][name] = metrics.compressed_bits_per_byte(held, "lzma")
        vocab, merges = train_regimes(corpora, cfg)["balanced"]
        bar.advance(1)
        for size in sizes:
            tok = truncate(vocab, merges, size)
            logged = {}
            for name, (train, held) in splits.items():
                ids = tok.encode(held)
                n_bytes = len(held.encode("utf-8"))
                entropy = metrics.unigram_entropy(ids)
                # cross-entropy with p(t) = (c_train(t) + 1) / (N_train + V), in bits per held-out token
                train_counts = Counter(tok.encode(train))
                n_train = sum(train_counts.values())
                cross = -sum(math.log2((train_counts.get(i, 0) + 1) / (n_train + len(tok))) for i in ids) / max(
                    len(ids), 1)
                row = {"vocab_size": size, "corpus": name, "entropy_bits_per_token": entropy,
                       "bits_per_byte": entropy * len(ids) / n_bytes, "cross_bits_per_byte": cross * len(ids) / n_bytes,
                       "zlib_bits_per_byte": summary["zlib_bits_per_byte"][name],
                       "lzma_bits_per_byte": summary["lzma_bits_per_byte"][name]}
                rows.append(row)
                for key in ("entropy_bits_per_token", "bits_per_byte", "cross_bits_per_byte"):
                    summary[key].setdefault(name, {})[vkey(size)] = row[key]
                logged[f"information/{name}/bits_per_byte"] = row["bits_per_byte"]
            ctx.log(logged, step=size)
            bar.advance(1)
    ctx.log_table("information", rows, caption="Unigram token entropy and code lengths per byte, against zlib "
                  "and lzma on the same held-out text.")
    ctx.log_figure("bits_per_byte", plots.bits_per_byte(summary, [n for n in ("english", "python") if n in splits],
                                                        sizes),
                   caption="A unigram code over BPE tokens against general-purpose "
                   "compressors: larger vocabularies move context into the tokens and approach zlib.")
    best = min(summary["bits_per_byte"]["english"].values())
    ctx.summary(**summary, english_best_bits_per_byte=best,
                english_best_over_lzma=best / summary["lzma_bits_per_byte"]["english"])
