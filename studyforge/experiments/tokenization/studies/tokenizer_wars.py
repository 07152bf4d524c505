"""`tokenization.tokenizer_wars`: our BPE, WordPiece and Unigram against the libraries', on the same data.

Three ways to build a subword vocabulary: BPE merges the most frequent pair (Sennrich et al.,
arXiv:1508.07909), WordPiece the pair that most raises the likelihood (Schuster & Nakajima 2012; BERT,
arXiv:1810.04805), and the Unigram language model starts large and prunes the pieces whose loss costs least
(Kudo, arXiv:1804.10959). Each is trained from scratch here and by Hugging Face `tokenizers` and
`sentencepiece` (Kudo & Richardson, arXiv:1808.06226), then measured side by side.
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

from pydantic import Field

from studyforge.experiments.registry import register
from studyforge.experiments.tokenization import metrics, plots
from studyforge.experiments.tokenization.bpe import Tokenizer
from studyforge.experiments.tokenization.studies.common import AllData, load_corpora, train_bpe_on


class WarsConfig(AllData):
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

    secs, (vocab, merges) = timed(lambda: train_bpe_on([train], size))
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
    corpora = load_corpora(ctx, cfg, with_languages=True)
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
    ctx.log_figure("tokenizer_wars", plots.tokenizer_wars(summary, names, list(held)),
                   caption="Same data, same vocabulary size: compression on English and "
                   "Python, unknown tokens on other scripts (byte-level BPE has none), training time and encoding "
                   "speed. ours_wordpiece merges by WordPiece's likelihood score; ours_wordpiece_freq and HF's "
                   "WordPiece trainer merge by frequency, as BPE does.")
    ctx.summary(**summary, examples=examples)
