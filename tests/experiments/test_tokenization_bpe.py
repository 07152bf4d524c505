"""Byte-level BPE: known answers, a slow recount-every-step reference, Hugging Face `tokenizers` side by side
on every shared corpus, and property tests (round trip, streaming, chunking)."""

from __future__ import annotations

import doctest
import os
import tracemalloc
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studyforge.experiments.tokenization import bpe, data, metrics, pretokenize, unigram, wordpiece
from studyforge.experiments.tokenization.bpe import (
    DropoutTokenizer,
    Tokenizer,
    get_pair_counts,
    learn_merges,
    merge,
    train_bpe,
    train_bpe_from_counts,
)
from studyforge.experiments.tokenization.pretokenize import (
    SpecialSplitter,
    count_pretokens,
    count_pretokens_in_range,
    find_chunk_boundaries,
    iter_safe_pieces,
)

EOT = "<|endoftext|>"
# the pattern as GPT-2's encoder.py spells it, written out independently of the module under test
GPT2_SPLIT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def corpora(data: Path) -> list[Path]:
    """The corpora in ../shared/data (the `shared_data` fixture): English, four cs336 files, 26 languages."""
    names = ["tinyshakespeare.txt", *(f"cs336/{n}" for n in ("corpus.en", "tinystories_sample.txt", "german.txt",
                                                                "address.txt"))]
    return [data / n for n in names] + sorted((data / "multilingual").glob("*.txt"))


# -- a slow, obviously correct reference: recount every pair at every step ---------------------------------


def reference_train(word_counts: Counter, vocab_size: int, n_specials: int = 0, strategy: str = "frequency"):
    """Words as tuples of byte strings; every step recounts all pairs and rebuilds every word."""
    words = Counter({tuple(bytes([b]) for b in w.encode("utf-8")): c for w, c in word_counts.items()})
    symbols = {bytes([b]) for b in range(256)}
    merges = []
    while n_specials + len(symbols) < vocab_size:
        pairs: Counter = Counter()
        for word, c in words.items():
            for pair in zip(word, word[1:], strict=False):
                pairs[pair] += c
        if not pairs:
            break
        if strategy == "frequency":
            best = max(pairs, key=lambda p: (pairs[p], p))
        else:
            units: Counter = Counter()
            for word, c in words.items():
                for s in word:
                    units[s] += c
            best = max(pairs, key=lambda p: (Fraction(pairs[p], units[p[0]] * units[p[1]]), p))
        merges.append(best)
        symbols.add(best[0] + best[1])
        rebuilt: Counter = Counter()
        for word, c in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            rebuilt[tuple(out)] += c
        words = rebuilt
    return merges


def reference_pretoken_counts(text: str, specials: list[str]) -> Counter:
    segments = [text]
    if specials:
        segments = regex.split("|".join(map(regex.escape, sorted(specials, key=len, reverse=True))), text)
    return Counter(t for s in segments for t in regex.findall(GPT2_SPLIT, s))


# -- known answers -------------------------------------------------------------------------------------------


def test_wikipedia_aaabdaaabac_merge_routine():
    """Wikipedia's BPE example: aa -> Z, ab -> Y, ZY -> X turns "aaabdaaabac" into "XdXac"."""
    a, b, c, d = b"abcd"
    Z, Y, X = 256, 257, 258
    ids = list(b"aaabdaaabac")
    assert get_pair_counts(ids) == {(a, a): 4, (a, b): 2, (b, d): 1, (d, a): 1, (b, a): 1, (a, c): 1}
    ids = merge(ids, (a, a), Z)
    assert ids == [Z, a, b, d, Z, a, b, a, c]  # ZabdZabac
    ids = merge(ids, (a, b), Y)
    assert ids == [Z, Y, d, Z, Y, a, c]  # ZYdZYac
    ids = merge(ids, (Z, Y), X)
    assert ids == [X, d, X, a, c]  # XdXac


def test_aaabdaaabac_training_ties_go_to_the_greater_pair():
    """Training on the same string: aa first (4 overlapping occurrences); then (aa, a) and (a, b) tie at 2 and
    the lexicographically greater pair of byte strings, (b"aa", b"a"), wins; the end is "XdXac" again."""
    words = [list(b"aaabdaaabac")]
    labels = [bytes([i]) for i in range(256)]
    merges = learn_merges(words, [1], labels, 3)
    assert [(labels[x], labels[y]) for x, y in merges] == [(b"a", b"a"), (b"aa", b"a"), (b"aaa", b"b")]
    assert [labels[t] for t in words[0]] == [b"aaab", b"d", b"aaab", b"a", b"c"]
    assert reference_train(Counter({"aaabdaaabac": 1}), 256 + 3) == [(b"a", b"a"), (b"aa", b"a"), (b"aaa", b"b")]


def test_sennrich_toy_corpus_and_likelihood_score_prefers_rare_parts():
    counts = {"low": 5, "lower": 2, "newest": 6, "widest": 3}
    assert train_bpe_from_counts(counts, 256 + 3)[1] == [(b"s", b"t"), (b"e", b"st"), (b"o", b"w")]
    # likelihood: c(ab)/(c(a)c(b)); "i" and "d" occur only in "widest" (3 times each, always together): 3/9 = 1/3,
    # the best ratio, although "es" is three times as frequent (9 / (17·9))
    assert train_bpe_from_counts(counts, 256 + 1, merge_strategy="likelihood")[1] == [(b"i", b"d")]


def test_docstring_examples():
    for module in (bpe, pretokenize, wordpiece, unigram, data, metrics):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# -- training equals the slow reference --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "vocab_size", "strategy"), [
    ("cs336/corpus.en", 500, "frequency"),
    ("cs336/tinystories_sample.txt", 1000, "frequency"),
    ("cs336/tinystories_sample.txt", 700, "likelihood"),
    ("cs336/german.txt", 400, "likelihood"),
])
def test_train_bpe_equals_reference(name, vocab_size, strategy, shared_data):
    path = shared_data / name
    vocab, merges = train_bpe(path, vocab_size, [EOT], merge_strategy=strategy)
    expected = reference_train(reference_pretoken_counts(read(path), [EOT]), vocab_size, 1, strategy)
    assert merges == expected
    assert vocab[0] == EOT.encode() and [vocab[1 + b] for b in range(256)] == [bytes([b]) for b in range(256)]
    assert [vocab[257 + k] for k in range(len(merges))] == [x + y for x, y in merges]
    if name.endswith("corpus.en"):  # the well-known test: vocab 500 means 243 merges
        assert len(vocab) == 500 and len(merges) == 243


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text("abc ", min_size=1, max_size=9), st.integers(1, 6), min_size=1, max_size=7),
       st.integers(0, 20), st.sampled_from(["frequency", "likelihood"]))
def test_learn_merges_equals_reference_on_random_corpora(word_counts, extra, strategy):
    _, merges = train_bpe_from_counts(word_counts, 256 + extra, merge_strategy=strategy)
    assert merges == reference_train(Counter(word_counts), 256 + extra, 0, strategy)


def test_special_tokens_are_atoms_never_merged(tmp_path):
    # "<|endoftext|>" is by far the most frequent string; no pair may form from or across it
    path = tmp_path / "t.txt"
    text = ("x" + EOT) * 200 + "hello hello"
    path.write_text(text, encoding="utf-8")
    vocab, merges = train_bpe(path, 300, [EOT])
    assert len(merges) == 5 and b" hello" in vocab.values()  # everything "hello hello" has to offer
    assert merges == reference_train(reference_pretoken_counts(text, [EOT]), 300, 1)
    assert all(b"<" not in x + y and b"|" not in x + y and b"x" not in x + y for x, y in merges)
    assert list(vocab.values()).count(EOT.encode()) == 1


def test_parallel_pretokenization_equals_serial(tmp_path, shared_data):
    story = read(shared_data / "cs336/tinystories_sample.txt")
    path = tmp_path / "stories.txt"
    path.write_text(story * 30, encoding="utf-8")
    serial = count_pretokens(path, [EOT], num_processes=1)
    assert serial == reference_pretoken_counts(story * 30, [EOT])
    bounds = find_chunk_boundaries(path, 4, [EOT])
    assert len(bounds) == 5 and bounds[0] == 0 and bounds[-1] == path.stat().st_size
    assert count_pretokens(path, [EOT], num_processes=3) == serial
    parts = Counter()
    for start, end in zip(bounds, bounds[1:], strict=False):
        parts.update(count_pretokens_in_range(path, [EOT], start, end))
    assert parts == serial
    # and without special tokens, chunks cut at whitespace
    shakespeare = shared_data / "tinyshakespeare.txt"
    assert count_pretokens(shakespeare, None, num_processes=2) == count_pretokens(shakespeare, None, num_processes=1)


_texty = st.lists(st.sampled_from([*"ab 'é\n\t\u3000", "   ", "<|x|>", "<|x|><|x|>", "<|", "x", "x y"]),
                  max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_texty, st.lists(st.integers(0, 60), max_size=6))
def test_safe_cuts_preserve_pretokenization(text, cuts):
    """Cutting a text anywhere into chunks and re-cutting them at safe points gives the same pre-tokens."""
    specials = ["<|x|>", "<|x|><|x|>", "x y"]  # a special token may contain a space
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[i:j] for i, j in zip([0, *points], [*points, len(text)], strict=False)]
    got: Counter = Counter()
    splitter = SpecialSplitter(specials)
    pieces = list(iter_safe_pieces(chunks, splitter, min_chars=1))
    assert "".join(pieces) == text
    for piece in pieces:
        got.update(t for s in splitter.split(piece)[::2] for t in regex.findall(GPT2_SPLIT, s))
    assert got == reference_pretoken_counts(text, specials)


@settings(max_examples=150, deadline=None)
@given(_texty, st.integers(2, 6), st.integers(1, 8))
def test_chunk_boundaries_preserve_pretokenization(text, n_chunks, window):
    """Byte-range chunks (as the parallel trainer uses them) pre-tokenize to the same counts as the whole."""
    import tempfile

    specials = ["<|x|>", "<|x|><|x|>", "x y"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.txt"
        path.write_bytes(text.encode("utf-8"))
        bounds = find_chunk_boundaries(path, n_chunks, specials, window=window)
        assert bounds[0] == 0 and bounds[-1] == len(text.encode("utf-8")) and bounds == sorted(set(bounds))
        got: Counter = Counter()
        for start, end in zip(bounds, bounds[1:], strict=False):
            got.update(count_pretokens_in_range(path, specials, start, end))
    assert got == reference_pretoken_counts(text, specials)


# -- the tokenizer: GPT-2's files, Hugging Face side by side ----------------------------------------------


@pytest.fixture(scope="module")
def gpt2(shared_data) -> Tokenizer:
    return Tokenizer.from_files(shared_data / "cs336/gpt2_vocab.json", shared_data / "cs336/gpt2_merges.txt", [EOT])


@pytest.fixture(scope="module")
def hf_gpt2(shared_data):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, pre_tokenizers

    hf = HFTokenizer(models.BPE.from_file(str(shared_data / "cs336/gpt2_vocab.json"),
                                          str(shared_data / "cs336/gpt2_merges.txt")))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return hf


def test_gpt2_known_ids(gpt2):
    assert len(gpt2) == 50257 and gpt2.special_ids[EOT] == 50256
    assert gpt2.encode("Hello world") == [15496, 995]
    assert gpt2.encode("Hello world" + EOT) == [15496, 995, 50256]
    assert gpt2.decode([15496, 995]) == "Hello world"


def test_hf_byte_level_pretokenizer_uses_gpt2_regex(hf_gpt2, shared_data):
    text = read(shared_data / "tinyshakespeare.txt")[:20_000] + " it's 3.14 — naïve  \n\n  café 東京 😀!!"
    theirs = [piece for piece, _ in hf_gpt2.pre_tokenizer.pre_tokenize_str(text)]
    mapping = bpe.bytes_to_unicode()
    ours = ["".join(mapping[b] for b in t.encode("utf-8")) for t in regex.findall(GPT2_SPLIT, text)]
    assert theirs == ours


def test_encodings_identical_to_hf_on_every_shared_corpus(gpt2, hf_gpt2, shared_data):
    checked = 0
    for path in corpora(shared_data):
        if not path.exists():
            continue
        text = read(path).replace(EOT, "")  # HF knows nothing of our special token here
        assert gpt2.encode(text) == hf_gpt2.encode(text).ids, path.name
        checked += 1
    assert checked >= 30  # tinyshakespeare, 4 cs336 files, 26 languages


def test_trained_tokenizer_identical_to_hf_with_same_vocab(tmp_path, shared_data):
    """Our encoder on our own vocabulary, against HF's BPE model loaded with the same vocab/merges."""
    import json

    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, pre_tokenizers

    vocab, merges = train_bpe(shared_data / "cs336/corpus.en", 800)
    mapping = bpe.bytes_to_unicode()

    def spell(b: bytes) -> str:
        return "".join(mapping[x] for x in b)

    (tmp_path / "v.json").write_text(json.dumps({spell(b): i for i, b in vocab.items()}))
    (tmp_path / "m.txt").write_text("#version: 0.2\n" + "".join(f"{spell(x)} {spell(y)}\n" for x, y in merges))
    ours = Tokenizer.from_files(tmp_path / "v.json", tmp_path / "m.txt")
    assert ours.vocab == vocab
    hf = HFTokenizer(models.BPE.from_file(str(tmp_path / "v.json"), str(tmp_path / "m.txt")))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    for name in ("cs336/tinystories_sample.txt", "multilingual/de.txt", "multilingual/ru.txt"):
        text = read(shared_data / name).replace(EOT, "")
        assert Tokenizer(vocab, merges).encode(text) == hf.encode(text).ids


def test_overlapping_special_tokens_match_longest_first(gpt2):
    vocab, merges = gpt2.vocab, [(gpt2.vocab[a], gpt2.vocab[b]) for a, b in sorted(gpt2.ranks, key=gpt2.ranks.get)]
    double = EOT + EOT
    tok = Tokenizer(vocab, merges, [EOT, double])
    ids = tok.encode("a" + double + EOT + "b")
    assert ids == [64, tok.special_ids[double], tok.special_ids[EOT], 65]
    assert tok.decode(ids) == "a" + double + EOT + "b"


def test_decode_replaces_invalid_utf8(gpt2):
    lone = gpt2.id_of[b"\xe2"]  # first byte of a 3-byte character, alone
    assert gpt2.decode([15496, lone, 995]) == "Hello\ufffd world"
    with pytest.raises(ValueError):
        gpt2.decode([10**9])


_unicode = st.lists(st.one_of(st.text(max_size=40), st.sampled_from([EOT, EOT + EOT, "<|endoftext", "😀", "👩‍👩‍👧",
                                                                     "\r\n", "  \n ", "東京"])), max_size=8).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_unicode)
def test_round_trip_gpt2(gpt2, text):
    assert gpt2.decode(gpt2.encode(text)) == text


@pytest.fixture(scope="module")
def small(shared_data) -> Tokenizer:
    vocab, merges = train_bpe(shared_data / "cs336/tinystories_sample.txt", 400, [EOT])
    return Tokenizer(vocab, merges, [EOT, EOT + EOT])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_unicode)
def test_round_trip_trained_with_overlapping_specials(small, text):
    ids = small.encode(text)
    assert small.decode(ids) == text
    # the special tokens found are those of a longest-first, left-to-right scan
    found = regex.findall(regex.escape(EOT + EOT) + "|" + regex.escape(EOT), text)
    specials = {i: s for s, i in small.special_ids.items()}
    assert [specials[i] for i in ids if i in specials] == found


def test_encode_iterable_equals_encode_in_fixed_memory(gpt2, tmp_path, shared_data):
    text = read(shared_data / "tinyshakespeare.txt")
    lines = text.splitlines(keepends=True)
    assert list(gpt2.encode_iterable(iter(lines[:4000]))) == gpt2.encode("".join(lines[:4000]))
    # odd chunking: 7-character pieces, cutting words and "\n\n" runs
    part = text[:30_000]
    assert list(gpt2.encode_iterable(part[i:i + 7] for i in range(0, len(part), 7))) == gpt2.encode(part)
    # a 4.5 MB file streamed line by line: the ids are counted, never stored
    big = tmp_path / "big.txt"
    big.write_text(text * 4, encoding="utf-8")
    gpt2.clear_cache()
    tracemalloc.start()
    with open(big, encoding="utf-8", newline="") as f:
        n = sum(1 for _ in gpt2.encode_iterable(f))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 4 * 338_025  # Hugging Face's count for Tiny Shakespeare
    print(f"encode_iterable: peak {peak / 1e6:.2f} MB streaming {big.stat().st_size / 1e6:.1f} MB")
    assert peak < 3_000_000  # the pre-token cache (bounded) and one line at a time


def test_cache_is_bounded(gpt2, shared_data):
    tok = Tokenizer(gpt2.vocab, [(gpt2.vocab[a], gpt2.vocab[b]) for a, b in sorted(gpt2.ranks, key=gpt2.ranks.get)],
                    cache_size=100)
    text = read(shared_data / "multilingual/fi.txt")
    assert tok.encode(text) == gpt2.encode(text) and len(tok._cache) <= 100


# -- BPE-dropout ------------------------------------------------------------------------------------------------


def test_bpe_dropout(gpt2, shared_data):
    merges = [(gpt2.vocab[a], gpt2.vocab[b]) for a, b in sorted(gpt2.ranks, key=gpt2.ranks.get)]
    text = read(shared_data / "cs336/tinystories_sample.txt")[:2000]
    assert DropoutTokenizer(gpt2.vocab, merges, [EOT], p=0.0).encode(text) == gpt2.encode(text)
    all_bytes = DropoutTokenizer(gpt2.vocab, merges, p=1.0).encode("héllo")
    assert all_bytes == [gpt2.byte_ids[b] for b in "héllo".encode()]
    a = DropoutTokenizer(gpt2.vocab, merges, [EOT], p=0.1, seed=3)
    b = DropoutTokenizer(gpt2.vocab, merges, [EOT], p=0.1, seed=3)
    samples = [a.encode(text) for _ in range(5)]
    assert samples == [b.encode(text) for _ in range(5)]  # seeded
    assert len({tuple(s) for s in samples}) == 5  # different segmentations each time
    assert all(a.decode(s) == text for s in samples)
    # dropping merges can only make sequences longer, and at p = 0.1 they grow by a bounded amount
    plain = len(gpt2.encode(text))
    assert all(plain < len(s) < 2 * plain for s in samples)
    segmentations = {tuple(a.encode(" unbelievable")) for _ in range(200)}
    assert len(segmentations) > 3 and tuple(gpt2.encode(" unbelievable")) in segmentations
