"""Figures of the week-2 studies: BPE's toy route and merge strategies, BPE-dropout's cost, compression and
vocabulary use against vocabulary size, tokens as a compressor, and the tokenizer wars.

matplotlib is imported inside the functions (the CLI must start fast). Each function returns a Figure for
`ctx.log_figure`, which saves and closes it. Summary-shaped arguments are the studies' own summary dicts,
keyed by `vkey(size)` ('v1000') where they go by vocabulary size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from studyforge.experiments.plotting import label_points
from studyforge.experiments.tokenization.studies.common import vkey


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _vocab_axis(ax, sizes: list[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{v:,}" for v in sizes], fontsize=8)
    ax.minorticks_off()


def toy_sequence_length(text: str, lengths: list[int], steps: list[dict[str, Any]], wiki_lengths: list[int] | None):
    """The toy string's length after each merge, ours against Wikipedia's route, each point labelled with the
    sequence it leaves (`steps`: the merge table's rows, with `step`, `length` and `sequence`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
    ax.plot(range(len(lengths)), lengths, "o-", label="ties → greater pair (ours)")
    if wiki_lengths:
        ax.plot(range(len(wiki_lengths)), wiki_lengths, "s--", label="Wikipedia's tie choice", alpha=0.7)
    ax.set_xticks(range(len(lengths)))
    ax.set(xlabel="merges", ylabel="symbols in the sequence", title=f"BPE on {text!r}")
    ax.margins(x=0.2, y=0.15)  # room for the sequences written beside the points
    ax.legend(fontsize=8, loc="upper right")
    # each route's sequence beside its point: ours above, Wikipedia's below (the lengths coincide)
    label_points(ax, [(s["step"], s["length"]) for s in steps], [s["sequence"] for s in steps], color="C0",
                 prefer=("above right", "above", "above left", "right", "below right"))
    if wiki_lengths:
        label_points(ax, [(k, wiki_lengths[k]) for k in (1, 2, 3)], ["ZabdZabac", "ZYdZYac", "XdXac"],
                     color="C1", prefer=("below left", "below", "below right", "left", "above left"))
    return fig


def merge_strategies(lengths: Mapping[str, list[int]], initial: int, bytes_per_token: Mapping[str, float]):
    """Training symbols per byte after each merge, per merge strategy (labelled with its held-out bytes per
    token)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    for s, series in lengths.items():
        ax.plot([x / initial for x in series], label=f"{s} (held-out {bytes_per_token[s]:.2f} B/token)")
    ax.set(xlabel="merges", ylabel="training symbols per byte",
           title="Corpus length during BPE training (English prose)")
    ax.legend(fontsize=8)
    return fig


def dropout_length(ps: Sequence[float], length_ratios: Sequence[float]):
    """Tokens relative to plain BPE against the dropout probability p."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
    ax.plot(ps, length_ratios, "o-")
    ax.set(xlabel="dropout probability p", ylabel="tokens / tokens without dropout",
           title="BPE-dropout: the price in sequence length")
    return fig


def bytes_per_token_vs_vocab(bytes_per_token: Mapping[str, Any], names: list[str], sizes: list[int]):
    """Bytes per token against vocabulary size, one panel per training regime, one line per corpus
    (`bytes_per_token[regime][corpus][vkey(size)]`)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, layout="constrained")
    for ax, regime in zip(axes, ("english_only", "balanced"), strict=True):
        for name in names:
            ax.plot(sizes, [bytes_per_token[regime][name][vkey(v)] for v in sizes], "o-",
                    label=name, lw=2.5 if name in ("english", "python") else 1)
        ax.set(xlabel="vocabulary size", title=f"trained on: {regime.replace('_', ' ')}")
        _vocab_axis(ax, sizes)
    axes[0].set_ylabel("bytes per token (held-out)")
    axes[1].legend(fontsize=7, ncol=2, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def bytes_per_token_by_corpus(bytes_per_token: Mapping[str, Any], names: list[str], size: int):
    """Bytes per token of every corpus at vocabulary `size`, both training regimes side by side."""
    plt = _plt()
    top = vkey(size)
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(names)), 3.5), layout="constrained")
    width = 0.4
    for k, regime in enumerate(("english_only", "balanced")):
        ax.bar([i + k * width for i in range(len(names))],
               [bytes_per_token[regime][n][top] for n in names], width, label=regime)
    ax.set_xticks([i + width / 2 for i in range(len(names))], names, rotation=60, fontsize=8)
    ax.set(ylabel="bytes per token", title=f"Compression per corpus at vocabulary {size}")
    ax.legend(fontsize=8)
    return fig


def efficiency_vs_vocab(summary: Mapping[str, Any], names: list[str], sizes: list[int]):
    """Share of the vocabulary used (per corpus and by any) and byte-fallback rate against vocabulary size
    (`summary["vocab_used"|"byte_fallback"][corpus][vkey(size)]`, `summary["vocab_used_any"][vkey(size)]`)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name in names:
        axes[0].plot(sizes, [summary["vocab_used"][name][vkey(v)] for v in sizes], "o-", label=name)
        axes[1].plot(sizes, [summary["byte_fallback"][name][vkey(v)] for v in sizes], "o-", label=name)
    axes[0].plot(sizes, [summary["vocab_used_any"][vkey(v)] for v in sizes], "k--", lw=2, label="any corpus")
    axes[0].set(xlabel="vocabulary size", ylabel="share of vocabulary used", title="Vocabulary used on held-out text")
    axes[1].set(xlabel="vocabulary size", ylabel="byte-fallback rate", title="Tokens that are a lone byte of a character")
    for ax in axes:
        _vocab_axis(ax, sizes)
    axes[1].legend(fontsize=7, ncol=2, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def token_lengths(in_vocab: Counter, vocab_len: int, in_use: Mapping[str, Counter], size: int):
    """Token lengths in bytes: their share in the vocabulary (bars) and among the tokens English and Python
    use (lines)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    lengths = range(1, min(25, max(in_vocab) + 1))
    ax.bar(lengths, [in_vocab.get(n, 0) / vocab_len for n in lengths], alpha=0.4, label="in the vocabulary")
    for name in ("english", "python"):
        total = sum(in_use[name].values())
        ax.plot(lengths, [in_use[name].get(n, 0) / total for n in lengths], "o-", label=f"used: {name}")
    ax.set(xlabel="token length (bytes)", ylabel="share", title=f"Token lengths at vocabulary {size}")
    ax.legend(fontsize=8)
    return fig


def bits_per_byte(summary: Mapping[str, Any], names: list[str], sizes: list[int]):
    """A unigram code's bits per byte (ideal and trained) against vocabulary size, with zlib and lzma as
    horizontal lines, for the corpora `names`."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, name in enumerate(names):
        c = colors[k]
        ax.plot(sizes, [summary["bits_per_byte"][name][vkey(v)] for v in sizes], "o-", color=c,
                label=f"{name}: unigram code, ideal")
        ax.plot(sizes, [summary["cross_bits_per_byte"][name][vkey(v)] for v in sizes], "o:", color=c,
                label=f"{name}: unigram code, trained")
        ax.axhline(summary["zlib_bits_per_byte"][name], color=c, ls="--", lw=1, label=f"{name}: zlib")
        ax.axhline(summary["lzma_bits_per_byte"][name], color=c, ls="-.", lw=1, label=f"{name}: lzma")
    ax.set(xlabel="vocabulary size (256 = bytes)", ylabel="bits per byte", title="Tokens as a compressor")
    _vocab_axis(ax, sizes)
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def tokenizer_wars(summary: Mapping[str, Any], names: list[str], corpora: list[str]):
    """Four panels, one row per tokenizer: compression on English and Python, unknown tokens on the other
    corpora, training time, encoding throughput."""
    plt = _plt()
    # one row per tokenizer, shared by the four panels: the names read horizontally, once
    fig, axes = plt.subplots(1, 4, figsize=(15, 0.32 * len(names) + 1.6), sharey=True, layout="constrained")
    groups = [c for c in ("english", "python") if c in corpora]
    others = [c for c in corpora if c not in groups]
    rows = list(range(len(names)))
    height = 0.8 / len(groups)
    for k, corpus in enumerate(groups):
        axes[0].barh([r - 0.4 + (k + 0.5) * height for r in rows],
                     [summary["bytes_per_token"][corpus][n] for n in names], height, label=corpus)
    axes[0].set_yticks(rows, names)
    axes[0].invert_yaxis()  # the first tokenizer on top
    axes[0].set(xlabel="bytes per token (held-out)", title="Compression")
    axes[0].legend(fontsize=7)
    if others:
        axes[1].barh(rows, [sum(summary["unk_rate"][c][n] for c in others) / len(others) for n in names])
    axes[1].set(xlabel="share of tokens that are unknown", title=f"Unknown tokens, {len(others)} other languages")
    axes[2].barh(rows, [summary["train_seconds"][n] for n in names])
    axes[2].set(xscale="log", xlabel="seconds", title="Training time")
    axes[3].barh(rows, [summary["encode_mb_per_s"][n] for n in names])
    axes[3].set(xlabel="MB/s of English text", title="Encoding throughput (cold cache)")
    return fig
