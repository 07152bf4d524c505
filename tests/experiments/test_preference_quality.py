"""The dataset-quality toolkit (`experiments/preference/quality.py`) against planted truths: duplicates (exact and
a few edited words), identical pairs, swapped-pair conflicts, a length bias of 0.8, hand-computed annotator
agreement, MinHash against exact Jaccard, and a label-noise estimate that tracks an injected flip rate on pairs
whose truth is the week-4 vowel share."""

from __future__ import annotations

import random

import numpy as np
import pytest

from studyforge.experiments.preference.formats import PreferencePair, UnpairedExample
from studyforge.experiments.preference.quality import (
    BYTES_PER_RECORD,
    byte_grams,
    gram_slot,
    inspect_preferences,
    jaccard_estimate,
    length_bias,
    minhash_signatures,
    near_duplicate_clusters,
    normalise,
    pair_directions,
)
from studyforge.experiments.preference_optimization.pairs import vowel_share


class Words:
    """Random sentences over a vocabulary whose words differ in vowel share (so texts do too)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        vowels, consonants = "aeiou", "bcdfghjklmnpqrstvwxyz"

        def word() -> str:
            p = self.rng.uniform(0.15, 0.7)
            return "".join(self.rng.choice(vowels if self.rng.random() < p else consonants)
                           for _ in range(self.rng.randint(2, 8)))

        self.vocab = [word() for _ in range(2000)]

    def text(self, lo: int = 15, hi: int = 60) -> str:
        return " ".join(self.rng.choices(self.vocab, k=self.rng.randint(lo, hi)))


def distinct_pairs(n: int, seed: int = 0) -> list[PreferencePair]:
    w = Words(seed)
    return [PreferencePair(w.text(), w.text(), w.text()) for _ in range(n)]


def edit_one_word(text: str) -> str:
    words = text.split()
    words[len(words) // 2] = "edited"
    return " ".join(words)


# -- small helpers, worked examples ---------------------------------------------------------------------------


def test_helpers_match_their_worked_examples():
    assert normalise("  Hello\n\tWORLD ") == "hello world"
    grams, rows = byte_grams([b"abc", b"de"], 2)
    assert grams.tolist() == [0x6162, 0x6263, 0x6465] and rows.tolist() == [0, 0, 1]
    assert length_bias(8, 0, 10).model_dump() == {"chosen_longer": 0.8, "ties": 0.0, "classifier_accuracy": 0.8,
                                                 "rule": "longer is chosen"}
    shorter = length_bias(1, 2, 10)  # a = 0.1 + 0.2/2 = 0.2 -> "shorter is chosen" is right 80% of the time
    assert (shorter.classifier_accuracy, shorter.rule) == (pytest.approx(0.8), "shorter is chosen")
    assert BYTES_PER_RECORD == 151


def test_pair_directions_match_their_worked_example_and_a_plain_counter():
    """The one-sort construction of x = (φ(c) − φ(r)) / ‖·‖ against the same features counted gram by gram."""
    x = pair_directions([b"ab"], [b"ba"])
    ab, ba = (int(gram_slot(np.array([g], np.uint64), 2)[0]) for g in (0x6162, 0x6261))
    assert dict(zip(x.indices.tolist(), x.data.tolist(), strict=True)) == {ab: pytest.approx(2 ** -0.5),
                                                                         ba: pytest.approx(-(2 ** -0.5))}

    def phi(text: bytes) -> dict[int, float]:
        out: dict[int, float] = {}
        for n in (1, 2, 3):
            grams = [int.from_bytes(text[i:i + n], "big") for i in range(len(text) - n + 1)]
            for g in grams:
                slot = int(gram_slot(np.array([g], np.uint64), n, bits=12)[0])
                out[slot] = out.get(slot, 0.0) + 1 / len(grams)
        return out

    w = Words(9)
    chosen, rejected = [w.text(1, 12).encode() for _ in range(30)], [w.text(1, 12).encode() for _ in range(30)]
    chosen[3] = rejected[3]  # equal texts: a row of zeros
    x = pair_directions(chosen, rejected, bits=12).toarray()
    for i, (c, r) in enumerate(zip(chosen, rejected, strict=True)):
        expected = np.zeros(x.shape[1])
        for slot, v in phi(c).items():
            expected[slot] += v
        for slot, v in phi(r).items():
            expected[slot] -= v
        norm = np.linalg.norm(expected)
        np.testing.assert_allclose(x[i], expected / norm if norm else expected, atol=1e-12)
    assert not x[3].any()


def test_minhash_estimates_the_exact_jaccard_of_5_shingles():
    """Ĵ from 128 one-byte bins against |A ∩ B| / |A ∪ B| computed from the shingle sets themselves."""
    w = Words(1)
    rng = random.Random(2)
    pairs = []
    for i in range(60):
        a = w.text(40, 80).split()
        rate = (0.02, 0.1, 0.3, 0.6)[i % 4]  # share of words replaced
        b = [w.text(1, 1) if rng.random() < rate else x for x in a]
        pairs.append((" ".join(a).encode(), " ".join(b).encode()))

    def shingles(t: bytes) -> set[bytes]:
        return {t[i:i + 5] for i in range(len(t) - 4)}

    exact = np.array([len(shingles(a) & shingles(b)) / len(shingles(a) | shingles(b)) for a, b in pairs])
    sigs = minhash_signatures([t for pair in pairs for t in pair])
    estimate = jaccard_estimate(sigs[0::2], sigs[1::2])
    assert exact.min() < 0.4 and exact.max() > 0.9  # the pairs span the range
    assert np.abs(estimate - exact).mean() < 0.04 and np.abs(estimate - exact).max() < 0.15
    assert jaccard_estimate(sigs[0], sigs[0]) == 1.0
    assert minhash_signatures([b"abc"]).shape == (1, 128)  # shorter than a shingle: still a signature
    assert (minhash_signatures([b"abc"]) == minhash_signatures([b"abc"])).all()


def test_banding_links_signatures_across_storage_chunks():
    """10,000 random signatures kept in 8,192-row chunks: a near copy of row 5 at row 9,500 (12 of 128 bytes
    changed, Ĵ ≈ 0.9) is found across the chunk boundary, a copy with 60 bytes changed (Ĵ ≈ 0.5) is not."""
    rng = np.random.default_rng(0)
    sigs = rng.integers(0, 256, (10_000, 128), dtype=np.uint8)
    sigs[9_500] = sigs[5]
    sigs[9_500, rng.choice(128, 12, replace=False)] += 1
    sigs[9_600] = sigs[7]
    sigs[9_600, rng.choice(128, 60, replace=False)] += 1
    labels = near_duplicate_clusters(sigs)
    assert labels[9_500] == labels[5] and labels[9_600] != labels[7]
    assert len(set(labels.tolist())) == 10_000 - 1
    rows = np.array([5, 7, 9_500, 9_600])  # the same, on a subset of the rows
    assert near_duplicate_clusters(sigs, subset=rows).tolist() == [0, 1, 0, 2]


# -- duplicates, identical pairs, conflicts ---------------------------------------------------------------------


def test_planted_exact_and_near_duplicates_are_found():
    base = distinct_pairs(300)
    records = list(base)
    # 10 exact copies (case and whitespace differ: normalised away), 10 near copies with one word edited
    records += [PreferencePair(p.prompt.upper(), p.chosen + "  ", p.rejected) for p in base[:10]]
    records += [PreferencePair(p.prompt, edit_one_word(p.chosen), p.rejected) for p in base[10:20]]
    random.Random(0).shuffle(records)
    report = inspect_preferences(iter(records))  # a generator: one pass
    d = report.duplicates
    assert (d.exact, d.exact_groups) == (10, 10)
    assert (d.near, d.near_clusters) == (10, 10)
    assert (d.identical_pairs, d.conflicts) == (0, 0)
    assert report.records == 320


def test_identical_pairs_and_swapped_conflicts():
    base = distinct_pairs(200, seed=3)
    records = list(base)
    records += [PreferencePair(p.prompt, p.rejected, p.chosen) for p in base[:5]]  # labelled the other way
    records += [PreferencePair(p.prompt, p.chosen, p.chosen) for p in distinct_pairs(3, seed=4)]  # nothing to compare
    d = inspect_preferences(records).duplicates
    assert d.conflicts == 5 and d.identical_pairs == 3
    assert d.exact == 0
    # a swapped twin holds the same texts, so it is a near duplicate as well (the docstring says so)
    assert d.near == 5


# -- length bias -----------------------------------------------------------------------------------------------


def test_planted_length_bias_of_0_8():
    w = Words(4)
    rng = random.Random(5)
    records = []
    for i in range(1000):
        short, long_ = w.text(10, 20), w.text(30, 50)
        longer_chosen = i % 5 != 0  # 80%
        records.append(PreferencePair(w.text(), *((long_, short) if longer_chosen else (short, long_))))
    rng.shuffle(records)
    bias = inspect_preferences(records).length_bias
    assert bias.chosen_longer == pytest.approx(0.8) and bias.ties == 0
    assert bias.classifier_accuracy == pytest.approx(0.8) and bias.rule == "longer is chosen"


# -- annotator agreement ---------------------------------------------------------------------------------------


def test_annotator_agreement_against_hand_computed_values():
    T, F = True, False
    votes = [(T, T, T), (T, T, F), (T, F), (F, F, T), (T,)]  # the one-vote record does not count
    records = [PreferencePair(f"p{i}", f"chosen {i}", f"rejected {i}", votes=v) for i, v in enumerate(votes)]
    a = inspect_preferences(records).agreement
    # P_i: 1, (2·1 + 1·0)/(3·2) = 1/3, 0, 1/3  ->  P̄ = 5/12;  p = 7/11 votes for chosen, P_e = p² + (1 − p)²
    observed, p = 5 / 12, 7 / 11
    expected = p * p + (1 - p) ** 2
    assert a.records_with_votes == 4 and a.mean_votes == pytest.approx(11 / 4)
    assert a.pairwise_agreement == pytest.approx(observed)
    assert a.fleiss_kappa == pytest.approx((observed - expected) / (1 - expected))
    assert a.majority_against_label == pytest.approx((0 + 0 + 0.5 + 1) / 4)  # the tie counts half
    assert inspect_preferences(records[:1]).agreement.fleiss_kappa is None  # every vote the same: κ undefined
    assert inspect_preferences(distinct_pairs(3)).agreement is None


# -- label noise ------------------------------------------------------------------------------------------------


def vowel_pairs(n: int, flip: float, seed: int, source: str | None = None) -> list[PreferencePair]:
    """Pairs whose truth is the higher vowel share (week 4's known reward), each label flipped with prob `flip`."""
    w = Words(seed)
    rng = random.Random(seed + 1)
    pairs = []
    for _ in range(n):
        a, b = w.text(), w.text()
        if vowel_share(a) < vowel_share(b):
            a, b = b, a
        if rng.random() < flip:
            a, b = b, a
        pairs.append(PreferencePair(w.text(5, 10), a, b, source))
    return pairs


def test_the_noise_estimate_tracks_the_injected_flip_rate():
    estimates = [inspect_preferences(vowel_pairs(2000, flip, seed=10)).noise.estimate for flip in (0, 0.1, 0.2, 0.3)]
    assert estimates == sorted(estimates) and len(set(estimates)) == 4, estimates
    for flip, estimate in zip((0, 0.1, 0.2, 0.3), estimates, strict=True):
        assert abs(estimate - flip) <= 0.07, (flip, estimates)


def test_per_source_statistics_tell_a_clean_source_from_a_noisy_one():
    clean, noisy = vowel_pairs(1000, 0.0, seed=20, source="clean"), vowel_pairs(1000, 0.3, seed=21, source="noisy")
    records = [r for pair in zip(clean, noisy, strict=True) for r in pair]
    report = inspect_preferences(records)
    by = {s.source: s for s in report.sources}
    assert set(by) == {"clean", "noisy"} and by["clean"].records == by["noisy"].records == 1000
    assert by["clean"].noise_estimate <= 0.07 and abs(by["noisy"].noise_estimate - 0.3) <= 0.1
    assert by["clean"].confident_records + by["noisy"].confident_records == report.noise.confident_records
    for name, pairs in (("clean", clean), ("noisy", noisy)):
        longer = sum(len(p.chosen) > len(p.rejected) for p in pairs) / len(pairs)
        assert by[name].chosen_longer == pytest.approx(longer)


def test_report_is_the_same_for_the_same_records_and_seed():
    records = vowel_pairs(600, 0.2, seed=30)
    assert inspect_preferences(records).model_dump() == inspect_preferences(records).model_dump()


# -- unpaired (KTO) data ----------------------------------------------------------------------------------------


def test_unpaired_examples_get_duplicates_conflicts_and_label_balance():
    w = Words(7)
    examples = [UnpairedExample(w.text(), w.text(), i % 4 != 0) for i in range(100)]  # 75 desirable
    examples += [examples[0], examples[1]]  # exact duplicates
    examples += [UnpairedExample(e.prompt, e.completion, not e.label) for e in examples[2:5]]  # both labels
    report = inspect_preferences(examples)
    assert report.kind == "unpaired" and report.records == 105
    assert report.duplicates.exact == 2 and report.duplicates.conflicts == 3
    # 75 of the first 100; of the copies, example 1 is desirable (0 is not); flipped, 4 becomes desirable (2, 3 not)
    assert report.desirable_share == pytest.approx((75 + 1 + 1) / 105)
    assert report.noise is None and report.length_bias is None


def test_empty_input_is_an_empty_report():
    report = inspect_preferences([])
    assert report.records == 0 and report.duplicates.exact == 0 and report.noise.estimate is None
