"""Week 2's runnable studies: tokenization from scratch, compression across languages, and the tokenizer wars.

- `tokenization.bpe_from_scratch`              BPE step by step on "aaabdaaabac"; frequency vs likelihood merges
                                               on English prose; BPE-dropout's segmentations and their cost.
- `tokenization.cross_lingual_compression`     bytes per token and tokens per word against vocabulary size, for
                                               English prose, Python source and each language, with a tokenizer
                                               trained on English only and one trained on a balanced mix.
- `tokenization.vocab_efficiency_vs_coverage`  share of the vocabulary used on held-out text, byte-fallback rate,
                                               token lengths, against vocabulary size.
- `tokenization.information_theory`            token entropy, bits per byte of a unigram code over tokens, and
                                               zlib / lzma on the same text.
- `tokenization.tokenizer_wars`                our BPE, WordPiece and Unigram against Hugging Face `tokenizers` and
                                               `sentencepiece`: training time, throughput, compression, examples.

Data come from `data.py`: offline by default (Python's documentation and licence as English prose, the
standard library as Python source, and only Python's tiny CJK codec samples as other languages); pass
`multilingual=lingua`, a folder of `<lang>.txt` files or `hf:<dataset>` for the full cross-lingual picture.
Every run records in its summary where each corpus came from. Vocabulary sizes are written `v1000` in
summary keys.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any, ClassVar

from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.plotting import label_points
from studyforge.experiments.registry import register
from studyforge.experiments.tokenization import data as datalib
from studyforge.experiments.tokenization import metrics
from studyforge.experiments.tokenization.bpe import (
    DropoutTokenizer,
    Tokenizer,
    learn_merges,
    merge,
    train_bpe_from_counts,
)
from studyforge.experiments.tokenization.pretokenize import PRETOKEN_RE, count_pretokens_in_text

FEW_LANGUAGES = 15  # the issue asks for at least this many languages in the cross-lingual comparison


# ---------------------------------------------------------------------------------------------------------
# data shared by the studies
# ---------------------------------------------------------------------------------------------------------


class _EnglishData(ExperimentConfig):
    english_chars: int | None = Field(1_000_000, ge=1_000, description="characters of English prose "
                                      "(Python's documentation and licence; None: all of it, about 0.5 M)")
    python_chars: int | None = Field(1_000_000, ge=1_000, description="characters of standard-library source")


class _AllData(_EnglishData):
    multilingual: str = Field("builtin", description="other languages: 'builtin' (offline: Python's tiny "
                              "zh/ja/ko codec samples), 'lingua' (26 languages, downloaded once), a folder of "
                              "<lang>.txt files, or hf:<dataset>?text=...&label=...")
    language_chars: int | None = Field(200_000, ge=1_000, description="characters per language")
    languages: list[str] = Field(default_factory=list, description="language codes to keep (empty: all)")
    vocab_sizes: list[int] = Field(default_factory=lambda: [500, 1000, 2000, 4000, 8000],
                                   description="vocabulary sizes to compare (bytes included, ≥ 257)")


def _load(ctx, cfg: _EnglishData, with_languages: bool) -> list[datalib.Corpus]:
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


def _vkey(size: int) -> str:
    return f"v{size}"


def _pkey(p: float) -> str:
    """0.1 -> 'p0_1' (summary keys cannot contain dots)."""
    return "p" + f"{p:g}".replace(".", "_")


def _truncate(vocab: dict[int, bytes], merges: list[tuple[bytes, bytes]], size: int) -> Tokenizer:
    """The tokenizer of vocabulary `size` inside a larger one: BPE's merges are learned in order, so a
    smaller vocabulary is a prefix of the merge list (plus the 256 bytes)."""
    kept = merges[: max(0, size - 256)]
    tokens = [bytes([b]) for b in range(256)] + [a + b for a, b in kept]
    sub = {i: t for i, t in enumerate(dict.fromkeys(tokens))}
    return Tokenizer(sub, kept)


def _train_bpe_on(texts: list[str], vocab_size: int, strategy: str = "frequency", on_merge=None):
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(count_pretokens_in_text(text))
    return train_bpe_from_counts(counts, vocab_size, (), strategy, on_merge)  # type: ignore[arg-type]


def _vocab_axis(ax, sizes: list[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{v:,}" for v in sizes], fontsize=8)
    ax.minorticks_off()


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------------------------------------------------
# tokenization.bpe_from_scratch
# ---------------------------------------------------------------------------------------------------------


class BPEStepsConfig(_EnglishData):
    """BPE step by step, merge strategies, BPE-dropout."""

    toy_text: str = Field("aaabdaaabac", min_length=2, description="the toy string merged step by step")
    vocab_size: int = Field(4000, ge=257, description="vocabulary size of the English tokenizers")
    log_every: int = Field(10, ge=1, description="log the training-corpus length every this many merges")
    dropout_ps: list[float] = Field(default_factory=lambda: [0.0, 0.05, 0.1, 0.2, 0.4],
                                    description="BPE-dropout probabilities to compare")
    dropout_chars: int = Field(100_000, ge=1_000, description="held-out characters encoded per dropout p")
    dropout_samples: int = Field(50, ge=2, description="samples per example word for its segmentations")
    example_words: list[str] = Field(
        default_factory=lambda: [" tokenization", " unbelievable", " internationalization", " iterator"],
        description="words (with their leading space) whose dropout segmentations are shown")

    presets: ClassVar = {
        "quick": {"english_chars": 60_000, "python_chars": 1_000, "vocab_size": 600, "dropout_chars": 5_000,
                  "dropout_samples": 10, "dropout_ps": [0.0, 0.1, 0.4]},
        "full": {"english_chars": None, "vocab_size": 16_000, "dropout_chars": 500_000, "log_every": 1,
                 "dropout_samples": 200},
    }


_NEW_NAMES = "ZYXWVUTSRQPONMLKJIHGFEDCBA"


@register("tokenization.bpe_from_scratch", week=2, config=BPEStepsConfig, headline="toy.final_length")
def bpe_from_scratch(ctx, cfg: BPEStepsConfig) -> None:
    """BPE from scratch: the toy example merge by merge, two merge strategies, and BPE-dropout.

    (1) "aaabdaaabac" merged step by step until no pair occurs twice: the merge table, the shrinking
    sequence, and Wikipedia's route (which breaks a tie the other way) beside ours. (2) Byte-level BPE
    trained on English prose with frequency merges (Sennrich et al.) and with WordPiece's likelihood score,
    logging the training corpus's length after every merge, and comparing held-out compression. (3)
    BPE-dropout (Provilkov et al.) at several p: the cost in sequence length and the variety of
    segmentations of a few words.
    """
    plt = _plt()
    with ctx.progress(total=4, description="BPE from scratch") as bar:
        # (1) the toy string ----------------------------------------------------------------------------
        labels = [bytes([i]) for i in range(256)]
        words = [list(cfg.toy_text.encode("utf-8"))]
        names: dict[int, str] = {}
        steps: list[dict[str, Any]] = []

        def show(seq) -> str:
            return "".join(names.get(t) or labels[t].decode("utf-8", "replace") for t in seq)

        def on_toy_merge(n, pair, score, merged):
            names[n] = _NEW_NAMES[len(names) % len(_NEW_NAMES)]
            steps.append({"step": len(steps) + 1, "merge": f"{show([pair[0]])}{show([pair[1]])} -> {names[n]}",
                          "spells": labels[n].decode("utf-8", "replace"), "pair_count": int(score),
                          "sequence": show(words[0]), "length": len(words[0])})

        learn_merges(words, [1], labels, len(cfg.toy_text), "frequency", on_toy_merge)
        # Wikipedia stops when no pair occurs twice
        steps = [s for s in steps if s["pair_count"] >= 2]
        ours_lengths = [len(cfg.toy_text.encode())] + [s["length"] for s in steps]
        # row 0 is the text before any merge: no pair was counted (None, an empty CSV cell; W&B wants one
        # type per column, so not "")
        ctx.log_table("toy_merges", [{"step": 0, "merge": "", "spells": "", "pair_count": None,
                                      "sequence": cfg.toy_text, "length": ours_lengths[0]}, *steps],
                      caption=f"BPE on {cfg.toy_text!r}, ties to the lexicographically greater pair of byte "
                              f"strings; stops when no pair occurs twice.")
        wiki_lengths = None
        if cfg.toy_text == "aaabdaaabac":  # Wikipedia's route: aa -> Z, ab -> Y, ZY -> X
            seq, wiki_lengths = list(b"aaabdaaabac"), [11]
            for a, b, new in ((97, 97, 256), (97, 98, 257), (256, 257, 258)):
                seq = merge(seq, (a, b), new)
                wiki_lengths.append(len(seq))
        fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
        ax.plot(range(len(ours_lengths)), ours_lengths, "o-", label="ties → greater pair (ours)")
        if wiki_lengths:
            ax.plot(range(len(wiki_lengths)), wiki_lengths, "s--", label="Wikipedia's tie choice", alpha=0.7)
        ax.set_xticks(range(len(ours_lengths)))
        ax.set(xlabel="merges", ylabel="symbols in the sequence", title=f"BPE on {cfg.toy_text!r}")
        ax.margins(x=0.2, y=0.15)  # room for the sequences written beside the points
        ax.legend(fontsize=8, loc="upper right")
        # each route's sequence beside its point: ours above, Wikipedia's below (the lengths coincide)
        label_points(ax, [(s["step"], s["length"]) for s in steps], [s["sequence"] for s in steps], color="C0",
                     prefer=("above right", "above", "above left", "right", "below right"))
        if wiki_lengths:
            label_points(ax, [(k, wiki_lengths[k]) for k in (1, 2, 3)], ["ZabdZabac", "ZYdZYac", "XdXac"],
                         color="C1", prefer=("below left", "below", "below right", "left", "above left"))
        ctx.log_figure("toy_sequence_length", fig, caption="Each merge replaces every occurrence of the most "
                       "frequent pair by a new symbol; the sequence shrinks by the number of occurrences.")
        ctx.summary(toy={"text": cfg.toy_text, "merges": [s["merge"] for s in steps],
                         "spelled": [s["spells"] for s in steps], "lengths": ours_lengths,
                         "final_sequence": steps[-1]["sequence"] if steps else cfg.toy_text,
                         "final_length": ours_lengths[-1], "wikipedia_lengths": wiki_lengths})
        bar.advance(1)

        # (2) two merge strategies on English prose ---------------------------------------------------------
        english = datalib.english_prose(cfg.english_chars)
        ctx.summary(data={"english": {"bytes": english.n_bytes, "source": english.source}})
        train, held = english.split()
        initial = sum(len(w.encode()) * c for w, c in count_pretokens_in_text(train).items())
        lengths: dict[str, list[int]] = {}
        tokenizers: dict[str, tuple[dict, list]] = {}
        results: dict[str, dict[str, Any]] = {}
        for strategy in ("frequency", "likelihood"):
            series = [initial]
            start = time.perf_counter()
            vocab, merges = _train_bpe_on([train], cfg.vocab_size, strategy,
                                          lambda n, p, s, k, series=series: series.append(series[-1] - k))
            seconds = time.perf_counter() - start
            lengths[strategy], tokenizers[strategy] = series, (vocab, merges)
            ids = Tokenizer(vocab, merges).encode(held)
            results[strategy] = {
                "train_seconds": seconds, "merges": len(merges),
                "bytes_per_token": metrics.bytes_per_token(held, len(ids)),
                "train_symbols_per_byte": series[-1] / initial,
                "first_merges": [(a + b).decode("utf-8", "replace") for a, b in merges[:20]],
            }
        for i in range(0, max(map(len, lengths.values())), cfg.log_every):
            ctx.log({f"bpe/{s}/train_symbols_per_byte": lengths[s][min(i, len(lengths[s]) - 1)] / initial
                     for s in lengths}, step=i)
        fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
        for s, series in lengths.items():
            ax.plot([x / initial for x in series], label=f"{s} (held-out {results[s]['bytes_per_token']:.2f} B/token)")
        ax.set(xlabel="merges", ylabel="training symbols per byte",
               title="Corpus length during BPE training (English prose)")
        ax.legend(fontsize=8)
        ctx.log_figure("merge_strategies", fig, caption="Symbols left in the training text after each merge, "
                       "per byte. Frequency merges shorten the text fastest by construction; the likelihood "
                       "score first glues rare pairs whose parts seldom occur apart.")
        ctx.log_table("merge_tables", [
            {"merge": i + 1, "frequency": results["frequency"]["first_merges"][i] if i < len(
                results["frequency"]["first_merges"]) else "",
             "likelihood": results["likelihood"]["first_merges"][i] if i < len(
                results["likelihood"]["first_merges"]) else ""} for i in range(20)],
            caption="The first 20 merges of each strategy (spelled tokens).")
        ctx.summary(english=results)
        bar.advance(2)

        # (3) BPE-dropout ----------------------------------------------------------------------------------------
        vocab, merges = tokenizers["frequency"]
        sample = held[: cfg.dropout_chars]
        plain = len(Tokenizer(vocab, merges).encode(sample))
        dropout: dict[str, Any] = {}
        examples = []
        for p in cfg.dropout_ps:
            tok = DropoutTokenizer(vocab, merges, p=p, seed=ctx.seed)
            n = len(tok.encode(sample))
            entry = {"p": p, "bytes_per_token": metrics.bytes_per_token(sample, n), "length_ratio": n / plain}
            segmentations = {}
            for word in cfg.example_words:
                seen = Counter(tuple(tok.vocab[i].decode("utf-8", "replace") for i in tok.encode(word))
                               for _ in range(cfg.dropout_samples))
                segmentations[word.strip()] = len(seen)
                (top, _), = seen.most_common(1)
                examples.append({"p": p, "word": word, "distinct_segmentations": len(seen),
                                 "most_common": " · ".join(top)})
            entry["distinct_segmentations"] = segmentations
            dropout[_pkey(p)] = entry
            ctx.log({"dropout/length_ratio": entry["length_ratio"], "dropout/p": p})
        ctx.log_table("dropout_examples", examples, caption=f"Segmentations of example words under BPE-dropout "
                      f"({cfg.dropout_samples} samples per p, seed {ctx.seed}).")
        fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
        ax.plot(cfg.dropout_ps, [dropout[_pkey(p)]["length_ratio"] for p in cfg.dropout_ps], "o-")
        ax.set(xlabel="dropout probability p", ylabel="tokens / tokens without dropout",
               title="BPE-dropout: the price in sequence length")
        ctx.log_figure("dropout_length", fig, caption="Held-out English encoded with BPE-dropout at each p, "
                       "relative to plain BPE (p = 0 is plain BPE exactly).")
        ctx.summary(dropout=dropout)
        bar.advance(1)


# ---------------------------------------------------------------------------------------------------------
# tokenization.cross_lingual_compression
# ---------------------------------------------------------------------------------------------------------


class CompressionConfig(_AllData):
    """Compression across languages and domains against vocabulary size."""

    mix_chars: int = Field(200_000, ge=1_000, description="training characters taken from each corpus for "
                           "the balanced tokenizer")
    gpt2_files: list[str] = Field(default_factory=list, description="optional [vocab.json, merges.txt] of "
                                  "GPT-2, evaluated as a reference point")

    presets: ClassVar = {
        "quick": {"english_chars": 40_000, "python_chars": 20_000, "language_chars": 10_000, "mix_chars": 10_000,
                  "vocab_sizes": [300, 600]},
        "full": {"english_chars": None, "python_chars": 5_000_000, "language_chars": None,
                 "mix_chars": 1_000_000, "vocab_sizes": [500, 1000, 2000, 4000, 8000, 16000, 32000]},
    }


def _train_regimes(corpora: list[datalib.Corpus], cfg) -> dict[str, tuple[dict, list]]:
    """A tokenizer trained on English prose only, and one on an equal share of every corpus."""
    splits = {c.name: c.split()[0] for c in corpora}
    top = max(cfg.vocab_sizes)
    return {"english_only": _train_bpe_on([splits["english"]], top),
            "balanced": _train_bpe_on([text[: cfg.mix_chars] for text in splits.values()], top)}


@register("tokenization.cross_lingual_compression", week=2, config=CompressionConfig,
          headline="english_bytes_per_token")
def cross_lingual_compression(ctx, cfg: CompressionConfig) -> None:
    """Compression across languages and domains: bytes per token and tokens per word against vocabulary size.

    Two byte-level BPE tokenizers per vocabulary size — one trained on English prose only, one on an equal
    share of every corpus (English prose, Python source, each language) — encode every corpus's held-out
    lines (every tenth). Reports bytes per token (compression), tokens per word (fertility) and the share of
    words that are a single token (coverage); with `gpt2_files`, GPT-2's tokenizer too.
    """
    plt = _plt()
    corpora = _load(ctx, cfg, with_languages=True)
    held = {c.name: c.split()[1] for c in corpora}
    sizes = sorted(cfg.vocab_sizes)
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"bytes_per_token": {}, "tokens_per_word": {}, "single_token_words": {}}
    with ctx.progress(total=len(sizes) * 2 + 1, description="compression") as bar:
        regimes = _train_regimes(corpora, cfg)
        bar.advance(1)
        evaluated: list[tuple[str, int, Tokenizer]] = [(r, v, _truncate(*regimes[r], v)) for r in regimes
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
                    summary[key].setdefault(regime, {}).setdefault(name, {})[_vkey(size)] = row[key]
                logged[f"compression/{regime}/{name}/bytes_per_token"] = row["bytes_per_token"]
            if regime != "gpt2":
                ctx.log(logged, step=size)
            bar.advance(1)
    ctx.log_table("compression", rows, caption="Held-out compression per corpus, vocabulary size and training "
                  "regime (byte-level BPE; words = whitespace-separated).")
    names = list(held)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, layout="constrained")
    for ax, regime in zip(axes, ("english_only", "balanced"), strict=True):
        for name in names:
            ax.plot(sizes, [summary["bytes_per_token"][regime][name][_vkey(v)] for v in sizes], "o-",
                    label=name, lw=2.5 if name in ("english", "python") else 1)
        ax.set(xlabel="vocabulary size", title=f"trained on: {regime.replace('_', ' ')}")
        _vocab_axis(ax, sizes)
    axes[0].set_ylabel("bytes per token (held-out)")
    axes[1].legend(fontsize=7, ncol=2, bbox_to_anchor=(1.02, 1), loc="upper left")
    ctx.log_figure("bytes_per_token_vs_vocab", fig, caption="Compression against vocabulary size. A tokenizer "
                   "trained on English compresses other scripts little better than raw bytes; a balanced "
                   "mix shares the vocabulary out.")
    top = _vkey(sizes[-1])
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(names)), 3.5), layout="constrained")
    width = 0.4
    for k, regime in enumerate(("english_only", "balanced")):
        ax.bar([i + k * width for i in range(len(names))],
               [summary["bytes_per_token"][regime][n][top] for n in names], width, label=regime)
    ax.set_xticks([i + width / 2 for i in range(len(names))], names, rotation=60, fontsize=8)
    ax.set(ylabel="bytes per token", title=f"Compression per corpus at vocabulary {sizes[-1]}")
    ax.legend(fontsize=8)
    ctx.log_figure("bytes_per_token_by_corpus", fig, caption="Bytes per token of each corpus's held-out text "
                   f"at the largest vocabulary ({sizes[-1]}), for both training regimes.")
    ctx.summary(**summary, english_bytes_per_token=summary["bytes_per_token"]["balanced"]["english"][top])


# ---------------------------------------------------------------------------------------------------------
# tokenization.vocab_efficiency_vs_coverage
# ---------------------------------------------------------------------------------------------------------


class EfficiencyConfig(_AllData):
    """Vocabulary efficiency against coverage."""

    mix_chars: int = Field(200_000, ge=1_000, description="training characters from each corpus")

    presets: ClassVar = CompressionConfig.presets


@register("tokenization.vocab_efficiency_vs_coverage", week=2, config=EfficiencyConfig,
          headline="english_vocab_used")
def vocab_efficiency_vs_coverage(ctx, cfg: EfficiencyConfig) -> None:
    """Vocabulary efficiency vs. coverage: how much of the vocabulary held-out text uses, and what it misses.

    A balanced byte-level BPE tokenizer (equal share of every corpus) at each vocabulary size encodes each
    corpus's held-out lines. Reports the share of the vocabulary used (per corpus and by any corpus), the
    byte-fallback rate (tokens that are a lone byte of a multi-byte character: no piece covers it) and the
    distribution of token lengths, in the vocabulary and in use.
    """
    plt = _plt()
    corpora = _load(ctx, cfg, with_languages=True)
    held = {c.name: c.split()[1] for c in corpora}
    sizes = sorted(cfg.vocab_sizes)
    summary: dict[str, Any] = {"vocab_used": {}, "byte_fallback": {}, "mean_token_bytes": {}, "vocab_used_any": {}}
    rows = []
    with ctx.progress(total=len(sizes) + 1, description="vocabulary efficiency") as bar:
        vocab, merges = _train_regimes(corpora, cfg)["balanced"]
        bar.advance(1)
        in_use: dict[str, Counter] = {}
        for size in sizes:
            tok = _truncate(vocab, merges, size)
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
                    summary[key].setdefault(name, {})[_vkey(size)] = row[key]
                if size == sizes[-1]:
                    in_use[name] = Counter(metrics.token_length_counts(ids, tok.vocab))
            summary["vocab_used_any"][_vkey(size)] = len(used_any) / len(tok)
            ctx.log({"efficiency/vocab_used_any": summary["vocab_used_any"][_vkey(size)],
                     **{f"efficiency/{n}/byte_fallback": summary["byte_fallback"][n][_vkey(size)] for n in held}},
                    step=size)
            bar.advance(1)
    ctx.log_table("efficiency", rows, caption="Per corpus and vocabulary size: share of the vocabulary used on "
                  "held-out text, byte-fallback rate, mean bytes per token.")
    names = list(held)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name in names:
        axes[0].plot(sizes, [summary["vocab_used"][name][_vkey(v)] for v in sizes], "o-", label=name)
        axes[1].plot(sizes, [summary["byte_fallback"][name][_vkey(v)] for v in sizes], "o-", label=name)
    axes[0].plot(sizes, [summary["vocab_used_any"][_vkey(v)] for v in sizes], "k--", lw=2, label="any corpus")
    axes[0].set(xlabel="vocabulary size", ylabel="share of vocabulary used", title="Vocabulary used on held-out text")
    axes[1].set(xlabel="vocabulary size", ylabel="byte-fallback rate", title="Tokens that are a lone byte of a character")
    for ax in axes:
        _vocab_axis(ax, sizes)
    axes[1].legend(fontsize=7, ncol=2, bbox_to_anchor=(1.02, 1), loc="upper left")
    ctx.log_figure("efficiency_vs_vocab", fig, caption="Left: each corpus uses a shrinking share of a growing "
                   "vocabulary. Right: where a script's characters have no token, bytes stand in for them.")
    full = _truncate(vocab, merges, sizes[-1])
    in_vocab = Counter(len(t) for t in full.vocab.values())
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    lengths = range(1, min(25, max(in_vocab) + 1))
    ax.bar(lengths, [in_vocab.get(n, 0) / len(full) for n in lengths], alpha=0.4, label="in the vocabulary")
    for name in ("english", "python"):
        total = sum(in_use[name].values())
        ax.plot(lengths, [in_use[name].get(n, 0) / total for n in lengths], "o-", label=f"used: {name}")
    ax.set(xlabel="token length (bytes)", ylabel="share", title=f"Token lengths at vocabulary {sizes[-1]}")
    ax.legend(fontsize=8)
    ctx.log_figure("token_lengths", fig, caption="Lengths of the tokens in the vocabulary, and of the tokens "
                   "actually used on held-out English and Python.")
    top = _vkey(sizes[-1])
    ctx.summary(**summary, token_lengths_in_vocab=dict(sorted(in_vocab.items())),
                english_vocab_used=summary["vocab_used"]["english"][top])


# ---------------------------------------------------------------------------------------------------------
# tokenization.information_theory
# ---------------------------------------------------------------------------------------------------------


class InformationConfig(_AllData):
    """Entropy of token streams and comparison with general-purpose compressors."""

    mix_chars: int = Field(200_000, ge=1_000, description="training characters from each corpus")

    presets: ClassVar = CompressionConfig.presets


@register("tokenization.information_theory", week=2, config=InformationConfig,
          headline="english_best_bits_per_byte")
def information_theory(ctx, cfg: InformationConfig) -> None:
    """Information theory of tokenization: token entropy, bits per byte, and zlib / lzma on the same text.

    For each corpus's held-out lines and each vocabulary size (256 = raw bytes): the unigram entropy H of
    the tokens (bits per token), the code length of a unigram code per byte, H · tokens / bytes, with the
    probabilities measured on the held-out text itself (an ideal) and estimated on the training text
    (add-one smoothing: a code one could actually use), against zlib (level 9) and lzma (preset 9e).
    """
    import math

    plt = _plt()
    corpora = _load(ctx, cfg, with_languages=True)
    splits = {c.name: c.split() for c in corpora}
    sizes = [256, *sorted(v for v in cfg.vocab_sizes if v > 256)]
    summary: dict[str, Any] = {"entropy_bits_per_token": {}, "bits_per_byte": {}, "cross_bits_per_byte": {},
                               "zlib_bits_per_byte": {}, "lzma_bits_per_byte": {}}
    rows = []
    with ctx.progress(total=len(sizes) + 1, description="information") as bar:
        for name, (_, held) in splits.items():
            summary["zlib_bits_per_byte"][name] = metrics.compressed_bits_per_byte(held, "zlib")
            summary["lzma_bits_per_byte"][name] = metrics.compressed_bits_per_byte(held, "lzma")
        vocab, merges = _train_regimes(corpora, cfg)["balanced"]
        bar.advance(1)
        for size in sizes:
            tok = _truncate(vocab, merges, size)
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
                    summary[key].setdefault(name, {})[_vkey(size)] = row[key]
                logged[f"information/{name}/bits_per_byte"] = row["bits_per_byte"]
            ctx.log(logged, step=size)
            bar.advance(1)
    ctx.log_table("information", rows, caption="Unigram token entropy and code lengths per byte, against zlib "
                  "and lzma on the same held-out text.")
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, name in enumerate(n for n in ("english", "python") if n in splits):
        c = colors[k]
        ax.plot(sizes, [summary["bits_per_byte"][name][_vkey(v)] for v in sizes], "o-", color=c,
                label=f"{name}: unigram code, ideal")
        ax.plot(sizes, [summary["cross_bits_per_byte"][name][_vkey(v)] for v in sizes], "o:", color=c,
                label=f"{name}: unigram code, trained")
        ax.axhline(summary["zlib_bits_per_byte"][name], color=c, ls="--", lw=1, label=f"{name}: zlib")
        ax.axhline(summary["lzma_bits_per_byte"][name], color=c, ls="-.", lw=1, label=f"{name}: lzma")
    ax.set(xlabel="vocabulary size (256 = bytes)", ylabel="bits per byte", title="Tokens as a compressor")
    _vocab_axis(ax, sizes)
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    ctx.log_figure("bits_per_byte", fig, caption="A unigram code over BPE tokens against general-purpose "
                   "compressors: larger vocabularies move context into the tokens and approach zlib.")
    best = min(summary["bits_per_byte"]["english"].values())
    ctx.summary(**summary, english_best_bits_per_byte=best,
                english_best_over_lzma=best / summary["lzma_bits_per_byte"]["english"])


# ---------------------------------------------------------------------------------------------------------
# tokenization.tokenizer_wars
# ---------------------------------------------------------------------------------------------------------


class WarsConfig(_AllData):
    """BPE vs WordPiece vs Unigram, ours and the libraries'."""

    vocab_size: int = Field(4000, ge=300, description="vocabulary size of every tokenizer")
    train_chars: int = Field(400_000, ge=1_000, description="English training characters (same for all)")
    example_words: list[str] = Field(
        default_factory=lambda: ["tokenization", "unbelievable", "internationalization", "don't", "iterators",
                                 "Pythonic", "naïve", "東京"],
        description="words whose segmentations are compared")

    presets: ClassVar = {
        "quick": {"english_chars": 40_000, "python_chars": 20_000, "language_chars": 10_000, "vocab_size": 400,
                  "train_chars": 30_000},
        "full": {"english_chars": None, "language_chars": None, "vocab_size": 16_000, "train_chars": 2_000_000},
    }


def _contestants(train: str, size: int) -> dict[str, Any]:
    """name -> (train seconds, encode(text) -> ids, pieces(text) -> list[str], unk id or None)."""
    import io

    import sentencepiece as spm
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, pre_tokenizers, trainers

    from studyforge.experiments.tokenization.unigram import UnigramTokenizer
    from studyforge.experiments.tokenization.wordpiece import WordPieceTokenizer

    lines = train.splitlines()
    out: dict[str, Any] = {}

    def timed(fn):
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result

    secs, (vocab, merges) = timed(lambda: _train_bpe_on([train], size))
    bpe = Tokenizer(vocab, merges)
    out["ours_bpe"] = (secs, bpe.encode, lambda s: [bpe.vocab[i].decode("utf-8", "replace") for i in bpe.encode(s)],
                       None)
    for strategy, name in (("likelihood", "ours_wordpiece"), ("frequency", "ours_wordpiece_freq")):
        secs, wp = timed(lambda strategy=strategy: WordPieceTokenizer.train([train], size, strategy=strategy))
        out[name] = (secs, wp.encode, lambda s, wp=wp: [wp.tokens[i] for i in wp.encode(s)], wp.unk_id)
    secs, uni = timed(lambda: UnigramTokenizer.train([train], size))
    out["ours_unigram"] = (secs, uni.encode, uni.encode_pieces, uni.unk_id)

    def hf(model, pre, trainer):
        tok = HFTokenizer(model)
        tok.pre_tokenizer = pre
        secs, _ = timed(lambda: tok.train_from_iterator(lines, trainer))
        return secs, (lambda s: tok.encode(s).ids), (lambda s: tok.encode(s).tokens), tok.token_to_id(
            "[UNK]") if tok.token_to_id("[UNK]") is not None else tok.token_to_id("<unk>")

    out["hf_bpe"] = hf(models.BPE(), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
                       trainers.BpeTrainer(vocab_size=size, show_progress=False,
                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    out["hf_wordpiece"] = hf(models.WordPiece(unk_token="[UNK]"), pre_tokenizers.BertPreTokenizer(),
                             trainers.WordPieceTrainer(vocab_size=size, special_tokens=["[UNK]"],
                                                       show_progress=False))
    out["hf_unigram"] = hf(models.Unigram(), pre_tokenizers.Metaspace(),
                           trainers.UnigramTrainer(vocab_size=size, special_tokens=["<unk>"], unk_token="<unk>",
                                                   show_progress=False))
    for kind in ("unigram", "bpe"):
        buffer = io.BytesIO()
        secs, _ = timed(lambda kind=kind, buffer=buffer: spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=buffer, vocab_size=size, model_type=kind,
            character_coverage=1.0, hard_vocab_limit=False, minloglevel=2, num_threads=os.cpu_count() or 1))
        sp = spm.SentencePieceProcessor(model_proto=buffer.getvalue())
        out[f"spm_{kind}"] = (secs, (lambda s, sp=sp: sp.encode(s)), (lambda s, sp=sp: sp.encode(s, out_type=str)),
                              sp.unk_id())
    return out


@register("tokenization.tokenizer_wars", week=2, config=WarsConfig, headline="bytes_per_token.english.ours_bpe")
def tokenizer_wars(ctx, cfg: WarsConfig) -> None:
    """The tokenization wars: our BPE, WordPiece and Unigram against HF tokenizers and sentencepiece.

    Every tokenizer is trained on the same English prose at the same vocabulary size, then measured:
    training time, encoding throughput on held-out English, bytes per token and unknown-token rate on
    held-out English, Python and each language, and how each splits a few words. HF tokenizers and
    sentencepiece run multi-threaded where they can (recorded); ours are single-threaded Python.
    """
    plt = _plt()
    corpora = _load(ctx, cfg, with_languages=True)
    held = {c.name: c.split()[1] for c in corpora}
    train = corpora[0].split()[0][: cfg.train_chars]
    summary: dict[str, Any] = {"train_seconds": {}, "encode_mb_per_s": {}, "bytes_per_token": {}, "unk_rate": {},
                               "threads": {"hf": os.environ.get("RAYON_NUM_THREADS", str(os.cpu_count())),
                                           "sentencepiece": os.cpu_count(), "ours": 1}}
    with ctx.progress(total=2, description="tokenizer wars") as bar:
        contestants = _contestants(train, cfg.vocab_size)
        bar.advance(1)
        examples = {w: {} for w in cfg.example_words}
        for name, (secs, encode, pieces, unk) in contestants.items():
            summary["train_seconds"][name] = secs
            start = time.perf_counter()
            encode(held["english"])
            summary["encode_mb_per_s"][name] = len(held["english"].encode()) / 1e6 / (time.perf_counter() - start)
            for corpus, text in held.items():
                ids = encode(text)
                summary["bytes_per_token"].setdefault(corpus, {})[name] = metrics.bytes_per_token(text, len(ids))
                summary["unk_rate"].setdefault(corpus, {})[name] = (ids.count(unk) / max(len(ids), 1)
                                                                    if unk is not None else 0.0)
            for word in cfg.example_words:
                examples[word][name] = " · ".join(pieces(word))
        bar.advance(1)
    names = list(contestants)
    ctx.log_table("segmentations", [{"word": w, **examples[w]} for w in cfg.example_words],
                  caption="How each tokenizer splits a few words (WordPiece marks continuations with ##, "
                          "SentencePiece and Unigram mark word starts with ▁, byte-level BPE spells a space "
                          "as part of the token; GPT-2-style BPE sees these words without a leading space).")
    ctx.log_table("wars", [{"tokenizer": n, "train_seconds": summary["train_seconds"][n],
                            "encode_mb_per_s": summary["encode_mb_per_s"][n],
                            **{f"bytes_per_token_{c}": summary["bytes_per_token"][c][n] for c in held},
                            **{f"unk_rate_{c}": summary["unk_rate"][c][n] for c in held}} for n in names],
                  caption=f"All tokenizers trained on the same {len(train):,} characters of English prose, "
                          f"vocabulary {cfg.vocab_size}.")
    # one row per tokenizer, shared by the four panels: the names read horizontally, once
    fig, axes = plt.subplots(1, 4, figsize=(15, 0.32 * len(names) + 1.6), sharey=True, layout="constrained")
    groups = [c for c in ("english", "python") if c in held]
    others = [c for c in held if c not in groups]
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
    ctx.log_figure("tokenizer_wars", fig, caption="Same data, same vocabulary size: compression on English and "
                   "Python, unknown tokens on other scripts (byte-level BPE has none), training time and encoding "
                   "speed. ours_wordpiece merges by WordPiece's likelihood score; ours_wordpiece_freq and HF's "
                   "WordPiece trainer merge by frequency, as BPE does.")
    ctx.summary(**summary, examples=examples)
