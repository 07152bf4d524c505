"""`tokenization.bpe_from_scratch`: byte-pair encoding merge by merge, two merge scores, and BPE-dropout.

BPE (Sennrich et al., arXiv:1508.07909) repeatedly replaces the most frequent adjacent pair by a new symbol;
WordPiece's likelihood score (Schuster & Nakajima 2012) merges the pair that most raises a unigram model's
likelihood, count(ab) / (count(a) · count(b)); BPE-dropout (Provilkov et al., arXiv:1910.13267) skips each
merge with probability p while encoding, so one word has many segmentations.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, ClassVar

from pydantic import Field

from studyforge.experiments.registry import register
from studyforge.experiments.tokenization import data as datalib
from studyforge.experiments.tokenization import metrics, plots
from studyforge.experiments.tokenization.bpe import DropoutTokenizer, Tokenizer, learn_merges, merge
from studyforge.experiments.tokenization.pretokenize import count_pretokens_in_text
from studyforge.experiments.tokenization.studies.common import EnglishData, train_bpe_on


class BPEStepsConfig(EnglishData):
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


def _pkey(p: float) -> str:
    """0.1 -> 'p0_1' (summary keys cannot contain dots)."""
    return "p" + f"{p:g}".replace(".", "_")


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
        ctx.log_figure("toy_sequence_length", plots.toy_sequence_length(cfg.toy_text, ours_lengths, steps,
                                                                        wiki_lengths),
                       caption="Each merge replaces every occurrence of the most "
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
            vocab, merges = train_bpe_on([train], cfg.vocab_size, strategy,
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
        ctx.log_figure("merge_strategies", plots.merge_strategies(
            lengths, initial, {s: results[s]["bytes_per_token"] for s in lengths}),
            caption="Symbols left in the training text after each merge, "
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
        ctx.log_figure("dropout_length", plots.dropout_length(
            cfg.dropout_ps, [dropout[_pkey(p)]["length_ratio"] for p in cfg.dropout_ps]),
            caption="Held-out English encoded with BPE-dropout at each p, "
                    "relative to plain BPE (p = 0 is plain BPE exactly).")
        ctx.summary(dropout=dropout)
        bar.advance(1)
