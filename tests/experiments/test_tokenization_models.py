"""WordPiece and the Unigram LM tokenizer: hand-made known answers, brute force, EM's monotonicity, and Hugging
Face's WordPiece model side by side."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studyforge.experiments.tokenization.unigram import (
    UnigramTokenizer,
    em_step,
    forward_backward,
    log_likelihood,
    seed_vocabulary,
    sp_pretokenize,
    viterbi,
)
from studyforge.experiments.tokenization.wordpiece import WordPieceTokenizer, bert_pretokenize

# -- WordPiece ---------------------------------------------------------------------------------------------------


def test_wordpiece_greedy_longest_match_on_hand_made_vocab():
    # BERT's own example, "unaffable" -> un ##aff ##able
    vocab = ["[UNK]", "un", "##aff", "##able", "##a", "##ff", "##f", "##b", "##le", "aff", "u", "##n", "able"]
    wp = WordPieceTokenizer(vocab)
    spell = lambda ids: [wp.tokens[i] for i in ids]  # noqa: E731
    assert spell(wp.encode_word("unaffable")) == ["un", "##aff", "##able"]
    # longest first, not best overall: "affable" -> aff ##able; "una" -> un ##a
    assert spell(wp.encode_word("affable")) == ["aff", "##able"]
    assert spell(wp.encode_word("una")) == ["un", "##a"]
    # nothing matches at "x": the whole word is unknown, not just the "x"
    assert spell(wp.encode_word("unx")) == ["[UNK]"]
    assert spell(wp.encode("unaffable able, un")) == ["un", "##aff", "##able", "able", "[UNK]", "un"]
    assert WordPieceTokenizer(vocab, max_word_chars=5).encode_word("unaffable") == [0]
    assert wp.decode(wp.encode("unaffable able")) == "unaffable able"


def test_bert_pretokenizer_splits_punctuation():
    assert bert_pretokenize("Hello, world!! (it's) 3.5€ 東京") == [
        "Hello", ",", "world", "!", "!", "(", "it", "'", "s", ")", "3", ".", "5€", "東京"]


def test_wordpiece_training_and_hf_side_by_side(shared_data):
    """Train on Tiny Shakespeare; HF's WordPiece model (same greedy algorithm) with our vocabulary and BERT's
    pre-tokenizer must give the same ids on English and on other scripts."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    text = (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")[:300_000]
    wp = WordPieceTokenizer.train([text], 1500)
    assert len(wp) == 1500 and wp.tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(set(wp.tokens)) == len(wp.tokens)
    # every character seen in training is in the vocabulary, word-initially or as a continuation
    words = bert_pretokenize(text)
    assert {w[0] for w in words} <= set(wp.tokens)
    assert {"##" + ch for w in words for ch in w[1:]} <= set(wp.tokens)
    hf = Tokenizer(models.WordPiece({t: i for i, t in enumerate(wp.tokens)}, unk_token="[UNK]"))
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    for name in ("tinyshakespeare.txt", "multilingual/en.txt", "multilingual/fr.txt", "multilingual/ru.txt",
                 "multilingual/zh.txt"):
        sample = (shared_data / name).read_text(encoding="utf-8")[:100_000]
        assert wp.encode(sample) == hf.encode(sample).ids, name


def test_wordpiece_likelihood_differs_from_frequency(shared_data):
    text = (shared_data / "cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    by_likelihood = WordPieceTokenizer.train([text], 200)
    by_frequency = WordPieceTokenizer.train([text], 200, strategy="frequency")
    words = Counter(bert_pretokenize(text))
    # frequency-chosen tokens cover more of the text with fewer tokens
    n_freq = sum(c * len(by_frequency.encode_word(w)) for w, c in words.items())
    n_like = sum(c * len(by_likelihood.encode_word(w)) for w, c in words.items())
    assert n_freq < n_like
    assert by_likelihood.tokens != by_frequency.tokens


# -- Unigram -----------------------------------------------------------------------------------------------------


def all_segmentations(word: str, vocab) -> list[list[str]]:
    if not word:
        return [[]]
    out = []
    for k in range(1, len(word) + 1):
        if word[:k] in vocab:
            out += [[word[:k], *rest] for rest in all_segmentations(word[k:], vocab)]
    return out


_vocab = st.dictionaries(st.text("abc", min_size=1, max_size=3), st.floats(-8.0, -0.1), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(_vocab, st.text("abc", min_size=1, max_size=8))
def test_viterbi_is_the_brute_force_best_segmentation(logp, word):
    segs = all_segmentations(word, logp)
    pieces, score = viterbi(word, logp, max_len=3)
    if not segs:
        assert pieces == [] and score == -math.inf
        return
    best = max(sum(logp[p] for p in s) for s in segs)
    assert score == pytest.approx(best, abs=1e-9)
    assert "".join(pieces) == word and sum(logp[p] for p in pieces) == pytest.approx(best, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(_vocab, st.text("abc", min_size=1, max_size=7))
def test_forward_backward_is_the_brute_force_sum(logp, word):
    segs = all_segmentations(word, logp)
    log_z, counts = forward_backward(word, logp, max_len=3)
    if not segs:
        assert log_z == -math.inf
        return
    probs = [math.exp(sum(logp[p] for p in s)) for s in segs]
    z = sum(probs)
    assert math.exp(log_z) == pytest.approx(z, rel=1e-9)
    expected: Counter = Counter()
    for s, pr in zip(segs, probs, strict=True):
        for piece in s:
            expected[piece] += pr / z
    assert set(counts) <= set(expected)
    for piece, n in expected.items():
        assert counts.get(piece, 0.0) == pytest.approx(n, abs=1e-9)


def test_em_never_decreases_the_likelihood(shared_data):
    text = (shared_data / "cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    words = Counter(sp_pretokenize(text))
    logp = seed_vocabulary(words, 400, max_piece_len=8)
    lls = []
    for _ in range(5):
        new, ll = em_step(words, logp, 8, keep={p for p in logp if len(p) == 1})
        assert ll == pytest.approx(log_likelihood(words, logp, 8))
        lls.append(ll)
        logp = new
    lls.append(log_likelihood(words, logp, 8))
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(lls)), lls
    assert lls[-1] > lls[0] + 1.0


def test_unigram_training_keeps_characters_and_round_trips(shared_data):
    text = (shared_data / "cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    rounds = []
    uni = UnigramTokenizer.train([text], 300, max_piece_len=8, on_round=rounds.append)
    assert 290 <= len(uni) <= 300
    sizes = [r["vocab"] for r in rounds]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == len(uni) - 3  # + <unk>, <s>, </s>
    chars = set("".join(sp_pretokenize(text)))
    assert chars <= set(uni.pieces)
    # frequent words survive as whole pieces
    assert {"▁the", "▁and", "▁was"} <= set(uni.pieces)
    normalised = " ".join(text.split())
    assert uni.decode(uni.encode(text)) == normalised
    assert uni.encode("Zqx") and uni.decode(uni.encode("hello world")) == "hello world"
    # a character never seen in training becomes <unk>
    assert uni.unk_id in uni.encode("snow ☃")
