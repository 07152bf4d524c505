"""A preference dataset's quality in one streaming pass: size, duplicates, length bias, agreement, label noise.

`inspect_preferences(records) -> QualityReport` reads the records once (a generator is fine) and keeps
**151 bytes a record** — two 8-byte text keys, a 128-byte MinHash signature, a 4-byte ensemble margin, a
1-byte unanimity flag and a 2-byte source id — plus a fixed ~30 MB (the ensemble's weights and one
gradient, the batch in hand). Measured on the whole `forge prefs inspect` process (synthetic HH-RLHF rows
of ~1.3 KB, `benchmarks/bench_preference_data.py`): peak RSS 104 MB on a 20 MB file, 139 MB on a 300 MB
file (228k pairs) — ~166 bytes a record at the peak, so ~230 MB for 1 GB. What each statistic means, and
where it misleads:

**Size.** Records, UTF-8 bytes of their text, mean characters of the prompt and of each response.

**Exact duplicates.** Each record's text is normalised (lower case, runs of whitespace as one space) and
hashed (8-byte BLAKE2b of prompt ␟ chosen ␟ rejected). `exact` counts the records that repeat an earlier one,
`exact_groups` the texts that occur more than once. **Identical pairs**: chosen = rejected after normalising
(nothing to learn, and a Bradley–Terry loss pushes their equal rewards apart at random). **Conflicts**: the
same pair appearing both ways round (chosen and rejected swapped) — two annotations that disagree; for
unpaired data, one (prompt, completion) labelled both desirable and undesirable.

**Near duplicates** (MinHash, Broder 1997, "On the resemblance and containment of documents"; the LSH
banding of Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3; the recipe Lee et al. 2021,
arXiv:2107.06499, use to deduplicate LM training data). The normalised text is cut into byte 5-shingles;
the Jaccard similarity of two shingle sets J(A, B) = |A ∩ B| / |A ∪ B| is what a MinHash estimates:
P[min h(A) = min h(B)] = J. Three economies make it stream:

- *one permutation hashing* (Li, Owen & Zhang 2012, arXiv:1208.1259): each shingle is hashed once
  (splitmix64), its top 7 bits pick one of k = 128 bins and the bin keeps its smallest hash, instead of
  128 hash functions over every shingle; an empty bin borrows from the next non-empty bin to its right
  (densification by rotation, Shrivastava & Li, ICML 2014), so short texts get full signatures too;
- *b-bit minwise hashing* (Li & König 2010, arXiv:0910.3349): only the lowest 8 bits of each bin are kept,
  128 bytes a record. Two bytes agree with probability J + (1 − J)/256, so Ĵ = (m − 1/256)/(1 − 1/256)
  from the share m of agreeing bytes;
- *banding*: the 128 bytes are b = 16 bands of r = 8 rows, each band one uint64 key in a numpy array. Two
  records become candidates when any band matches, with probability 1 − (1 − J^r)^b: 0.95 at J = 0.8,
  0.24 at 0.6, 0.06 at 0.5 (the S-curve's midpoint is (1/b)^(1/r) ≈ 0.71). A candidate is kept when
  Ĵ ≥ `near_threshold` (0.8: a few edited words in a paragraph). Each band's bucket is checked against
  its first record, and the kept links are joined into clusters (connected components).

`near` counts what near-deduplication would drop beyond exact deduplication: Σ (cluster size − 1) over
clusters of distinct texts. Caveats: similarity is of the whole record, so two pairs with one long shared
prompt and different responses can count as near duplicates; Ĵ has a standard error of ≈ 0.035 at 0.8.

**Length bias** (Singhal et al. 2023, "A Long Way to Go: Investigating Length Correlations in RLHF",
arXiv:2310.03716). `chosen_longer`: the share of pairs whose chosen response has more characters; `ties`:
equal lengths. The length-only classifier predicts "the longer one is chosen" or, if the data favour it,
"the shorter one is chosen", ties counted half: accuracy = max(a, 1 − a) with a = chosen_longer + ties/2.
A reward model reaching only that accuracy has learnt nothing but length; 0.5 means length tells nothing.

**Annotator agreement**, over records with ≥ 2 votes (n_i votes, k_i of them for the chosen response):
pairwise agreement P_i = [k_i(k_i − 1) + (n_i − k_i)(n_i − k_i − 1)] / [n_i(n_i − 1)] (the chance that two
of its annotators agree), averaged; Fleiss' κ = (P̄ − P_e)/(1 − P_e) with P_e = p² + (1 − p)² and p the
share of all votes for the chosen response; and the share of records whose label goes against their
votes' majority (ties half). κ is low when p is near 1 even if agreement is high: that is κ, not a bug.

**Label-noise estimate** (ensemble disagreement, in the spirit of confident learning: Northcutt, Jiang &
Chuang 2021, arXiv:1911.00068). Five linear Bradley–Terry models on hashed character 1-3-gram frequencies,
P(chosen ≻ rejected) = σ(w · x) with x = (φ(chosen) − φ(rejected)) / ‖φ(chosen) − φ(rejected)‖, learn
online by SGD on −log σ(w · x), each weighting every record by its own Poisson(1) draw (online bagging,
Oza & Russell 2001). Each batch of records is scored *before* the ensemble learns from it, so a record's
score never saw its own label. After a burn-in (the first 10% of records), the `confident_share` (30%)
with the largest mean margin |m|, all members agreeing in sign, are the confident set, and the estimate
is the share of them the ensemble contradicts (m < 0).

Why it tracks the flip rate ε: a label is flipped independently of the text, so for a confident record
P(contradicted) = ε(1 − e) + (1 − ε)e = ε + e(1 − 2ε), with e the ensemble's error against the truth on
that set. When the text predicts the preference well (e → 0) the estimate is ε; no correction for e is
made (it cannot be told apart from ε in one pass), so the estimate errs *upwards* by e(1 − 2ε). On
synthetic pairs whose truth is the higher vowel share it tracks injected rates 0, 0.1, 0.2, 0.3 within
±0.07 (tests/experiments/test_preference_quality.py). On real data, where n-gram frequencies predict
human preference poorly, read it as "the share of confident records that go against what the rest of
the data teaches" — an upper estimate of noise that also holds genuine disagreement and the model's
own error; `progressive_accuracy` (how often the ensemble agreed with the label, after burn-in) says
how much the ensemble learned at all. Unpaired (KTO) data get no estimate and no length classifier.

**Per source**: records, length bias and noise estimate of each `source` (the first 1,000 sources; later
ones are pooled as "(other)").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from studyforge.experiments.preference.formats import PreferencePair, Record

SHINGLE = 5  # bytes per shingle
BINS = 128  # MinHash bins (one byte each)
BANDS, ROWS = 16, 8  # BANDS · ROWS = BINS
NEAR_THRESHOLD = 0.8
MEMBERS = 5
FEATURE_BITS = 18  # hashed n-gram features: 2^18 weights per member
ORDERS = (1, 2, 3)  # byte n-gram orders of the features
LEARNING_RATE = 0.3
CONFIDENT_SHARE = 0.3
BURN_IN = 0.1
BATCH = 256
MAX_SOURCES = 1000
BYTES_PER_RECORD = 8 + 8 + BINS + 4 + 1 + 2  # 151: the figure the module docstring promises

_U64 = np.uint64
_MASK57 = _U64((1 << 57) - 1)


# ---------------------------------------------------------------------------------------------
# The report.


class Duplicates(BaseModel):
    exact: int = Field(description="records that repeat an earlier record (after normalising case and whitespace)")
    exact_groups: int = Field(description="distinct records that occur more than once")
    near: int = Field(description="further records within near_threshold Jaccard of another distinct record")
    near_clusters: int = Field(description="clusters of near-duplicate distinct records")
    identical_pairs: int = Field(description="pairs whose chosen and rejected are the same text")
    conflicts: int = Field(description="pairs present both ways round (unpaired: one completion with both labels)")
    near_threshold: float
    bands: int
    rows: int
    shingle_bytes: int


class LengthBias(BaseModel):
    chosen_longer: float = Field(description="share of pairs whose chosen response has more characters")
    ties: float = Field(description="share of pairs whose responses have equal lengths")
    classifier_accuracy: float = Field(description="accuracy of the best length-only rule, ties half")
    rule: str = Field(description="'longer is chosen' or 'shorter is chosen'")


class Agreement(BaseModel):
    records_with_votes: int = Field(description="records with two or more annotator votes")
    mean_votes: float
    pairwise_agreement: float = Field(description="chance that two annotators of a record agree, averaged")
    fleiss_kappa: float | None = Field(description="agreement beyond chance (None when every vote is the same)")
    majority_against_label: float = Field(description="share of records whose label goes against their votes")


class NoiseEstimate(BaseModel):
    estimate: float | None = Field(description="share of confident records the ensemble contradicts")
    confident_records: int
    progressive_accuracy: float | None = Field(description="ensemble agrees with the label, after burn-in")
    members: int
    confident_share: float
    burn_in_records: int


class SourceStats(BaseModel):
    source: str | None
    records: int
    chosen_longer: float | None = None
    length_accuracy: float | None = None
    noise_estimate: float | None = None
    confident_records: int = 0


class QualityReport(BaseModel):
    """Everything `forge prefs inspect` prints; `.model_dump()` is its `--json`."""

    kind: str = Field(description="'pairs' (preference pairs) or 'unpaired' (KTO-style)")
    records: int
    text_bytes: int = Field(description="UTF-8 bytes of the records' text fields")
    mean_chars: dict[str, float] = Field(description="mean characters per field")
    duplicates: Duplicates
    length_bias: LengthBias | None = None
    agreement: Agreement | None = None
    noise: NoiseEstimate | None = None
    desirable_share: float | None = Field(None, description="unpaired data: share labelled desirable")
    sources: list[SourceStats] = []
    bytes_per_record: int = BYTES_PER_RECORD


# ---------------------------------------------------------------------------------------------
# Text keys.


def normalise(text: str) -> str:
    """Lower case, whitespace runs as one space: `normalise("  Hello\\n\\tWORLD ")` -> "hello world"."""
    return " ".join(text.lower().split())


def text_key(*parts: bytes) -> int:
    """An 8-byte BLAKE2b hash of the parts joined by ␟ (0x1f), as an unsigned int."""
    return int.from_bytes(hashlib.blake2b(b"\x1f".join(parts), digest_size=8).digest(), "little")


# ---------------------------------------------------------------------------------------------
# Shingles and MinHash signatures, a batch of texts at a time.


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (Steele et al. 2014): a fast, well-mixed 64-bit hash of uint64 values."""
    z = x + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def byte_grams(texts: list[bytes], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(grams, row): every run of `n` bytes inside each text, packed big-endian into a uint64, and its text's index.

    `byte_grams([b"abc", b"de"], 2)` -> `([0x6162, 0x6263, 0x6465], [0, 0, 1])` (no gram spans two texts).
    """
    return _grams(*_concatenated(texts), n)


def _concatenated(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """All bytes of `texts` end to end as uint64 codes, and the index of the text each byte belongs to."""
    codes = np.frombuffer(b"".join(texts), np.uint8).astype(_U64)
    return codes, np.repeat(np.arange(len(texts)), [len(t) for t in texts])


def _grams(codes: np.ndarray, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    count = len(codes) - n + 1
    if count <= 0:
        return np.zeros(0, _U64), np.zeros(0, np.int64)
    grams = codes[:count].copy()
    for j in range(1, n):
        grams <<= _U64(8)
        grams |= codes[j:j + count]
    inside = rows[:count] == rows[n - 1:]  # the gram's first and last byte belong to the same text
    return grams[inside], rows[:count][inside]


def minhash_signatures(texts: list[bytes], seed: int = 0) -> np.ndarray:
    """(B, 128) uint8: the b-bit one-permutation MinHash of each text's byte 5-shingles.

    Equal texts get equal signatures; the share of equal bytes of two signatures estimates their Jaccard
    similarity J as J + (1 − J)/256 (`jaccard_estimate`). A text with no shingle (shorter than 5 bytes) gets
    a signature from its whole bytes.
    """
    grams, rows = byte_grams(texts, SHINGLE)
    h = splitmix64(grams ^ _U64(seed))
    bins = (h >> _U64(57)).astype(np.int64)  # the top 7 bits choose one of 128 bins …
    flat = np.full(len(texts) * BINS, np.iinfo(np.uint64).max, _U64)
    np.minimum.at(flat, rows * BINS + bins, h & _MASK57)  # … which keeps its smallest remaining 57 bits
    sig = flat.reshape(len(texts), BINS)
    empty = sig == np.iinfo(np.uint64).max
    short = empty.all(axis=1)
    if short.any():  # no shingle at all: a signature from the text itself
        whole = np.array([text_key(t) for t, s in zip(texts, short, strict=True) if s], _U64)
        sig[short] = splitmix64(whole[:, None] + np.arange(BINS, dtype=_U64)) & _MASK57
        empty[short] = False
    if empty.any():  # densification by rotation: bin j takes the next non-empty bin j + t (circularly), mixed with t
        position = np.arange(2 * BINS)
        filled = np.where(np.tile(~empty, 2), position, 4 * BINS)
        nxt = np.minimum.accumulate(filled[:, ::-1], axis=1)[:, ::-1][:, :BINS]  # (B, 128)
        distance = (nxt - position[:BINS]).astype(_U64)
        borrowed = np.take_along_axis(sig, nxt % BINS, axis=1)
        sig = np.where(empty, splitmix64(borrowed + distance) & _MASK57, sig)
    return (sig & _U64(0xFF)).astype(np.uint8)


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ĵ from b-bit signatures (..., 128): the share m of equal bytes, less chance agreement, (m − 1/256)/(1 − 1/256)."""
    m = (a == b).mean(axis=-1)
    return (m - 1 / 256) / (1 - 1 / 256)


def near_duplicate_clusters(signatures: _Chunked | np.ndarray, threshold: float = NEAR_THRESHOLD,
                            subset: np.ndarray | None = None) -> np.ndarray:
    """Cluster label of each record (N,): records in one cluster are linked by Ĵ ≥ `threshold` via LSH banding.

    Each of the 16 bands (8 signature bytes read as one uint64) is sorted; records sharing a band key form
    a bucket, each member is checked against the bucket's first record, and kept links are joined by
    connected components. Records with no near duplicate are clusters of one. `subset`: only these rows, in
    increasing order (labels are then per position in `subset`).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    sigs = signatures if isinstance(signatures, _Chunked) else _Chunked.of(signatures)
    rows = np.arange(len(sigs)) if subset is None else subset
    n = len(rows)
    heads, members = [], []
    for band in range(BANDS):
        keys = sigs.band(band, rows)  # (n,) uint64
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        starts = np.r_[True, ordered[1:] != ordered[:-1]]
        head = order[np.flatnonzero(starts)[np.cumsum(starts) - 1]]  # the first record of each one's bucket
        linked = order != head
        if linked.any():
            a, b = head[linked], order[linked]
            keep = jaccard_estimate(sigs.take(rows[a]), sigs.take(rows[b])) >= threshold
            heads.append(a[keep])
            members.append(b[keep])
    a, b = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (heads, members))
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


# ---------------------------------------------------------------------------------------------
# The Bradley–Terry ensemble that estimates label noise.


def gram_slot(grams: np.ndarray, n: int, bits: int = FEATURE_BITS) -> np.ndarray:
    """The hashed feature slot (0 … 2^bits − 1) of byte n-grams packed as by `byte_grams`."""
    return splitmix64(grams + _U64(n << 40)) >> _U64(64 - bits)


def pair_directions(chosen: list[bytes], rejected: list[bytes], bits: int = FEATURE_BITS):
    """(B, 2^bits) sparse rows x = (φ(c) − φ(r)) / ‖φ(c) − φ(r)‖, one a pair; a row of zeros where φ(c) = φ(r).

    φ(t) holds t's byte 1-, 2- and 3-gram frequencies, each order summing to 1, at hashed slots (`gram_slot`).
    `pair_directions([b"ab"], [b"ba"])`: the unigrams cancel (½ a, ½ b on both sides), leaving "ab" − "ba",
    so x is +1/√2 at the slot of "ab" and −1/√2 at the slot of "ba".

    One sort does the sparse bookkeeping: each gram occurrence becomes a key (pair, slot, order, side);
    a run of equal keys is one gram seen m times, worth ±m / (grams of that order in that text), and the
    runs of one (pair, slot) add up to the slot's value of φ(c) − φ(r).
    """
    from scipy.sparse import csr_matrix

    b, shift = len(chosen), _U64(bits + 3)
    keys, counts = [], np.zeros((2, len(ORDERS), b))
    for side, texts in enumerate((chosen, rejected)):
        codes, rows = _concatenated(texts)
        for o, n in enumerate(ORDERS):
            grams, row = _grams(codes, rows, n)
            counts[side, o] = np.bincount(row, minlength=b)
            keys.append((row.astype(_U64) << shift) | (gram_slot(grams, n, bits) << _U64(3)) | _U64(o << 1 | side))
    key = np.sort(np.concatenate(keys))
    if not len(key):
        return csr_matrix((b, 1 << bits))
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    seen = np.diff(np.r_[first, len(key)])  # m: how often each (pair, slot, order, side) occurs
    key = key[first]
    row = (key >> shift).astype(np.int64)
    order, side = ((key >> _U64(1)) & _U64(3)).astype(np.int64), (key & _U64(1)).astype(np.int64)
    value = np.where(side == 0, 1.0, -1.0) * seen / counts[side, order, row]
    cell = key >> _U64(3)  # (pair, slot)
    first = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    value = np.add.reduceat(value, first)  # φ(c) − φ(r) at each slot
    kept = first[value != 0]  # slots where chosen and rejected agree (often the unigrams) drop out
    value = value[value != 0]
    row, slot = row[kept], (cell[kept] & _U64((1 << bits) - 1)).astype(np.int64)
    norm = np.sqrt(np.bincount(row, weights=value ** 2, minlength=b))
    value /= np.where(norm > 0, norm, 1.0)[row]
    indptr = np.r_[0, np.cumsum(np.bincount(row, minlength=b))]
    x = csr_matrix((value, slot, indptr), shape=(b, 1 << bits))
    x.has_canonical_format = True  # sorted slots, one entry each
    return x


class BradleyTerryEnsemble:
    """K linear Bradley–Terry models on `pair_directions`, trained online with Poisson(1) bootstrap weights.

    `score_then_learn(chosen, rejected)` returns each member's score s = w · x of every pair (B, K) *before*
    learning from the batch, then takes one SGD step per member on Σ_i ω_ik · −log σ(s_ik), ω ~ Poisson(1).
    """

    def __init__(self, members: int = MEMBERS, bits: int = FEATURE_BITS, lr: float = LEARNING_RATE, seed: int = 0):
        self.weights = np.zeros((1 << bits, members))  # (D, K): member k's weights are column k
        self.bits, self.lr = bits, lr
        self.rng = np.random.default_rng(seed)

    @property
    def members(self) -> int:
        return self.weights.shape[1]

    def score_then_learn(self, chosen: list[bytes], rejected: list[bytes]) -> np.ndarray:
        x = pair_directions(chosen, rejected, self.bits)  # (B, D) sparse
        scores = np.asarray(x @ self.weights)  # (B, K)
        omega = self.rng.poisson(1.0, scores.shape)
        # −∂/∂w_k Σ_i ω_ik log σ(s_ik) = Σ_i ω_ik σ(−s_ik) x_i
        self.weights += x.T @ (self.lr * omega / (1.0 + np.exp(scores)))  # (D, K)
        return scores


def noise_from_margins(margins: np.ndarray, unanimous: np.ndarray, burn_in: int,
                       confident_share: float = CONFIDENT_SHARE) -> tuple[float | None, np.ndarray]:
    """(estimate, confident mask): the share of the confident records (after `burn_in`, the `confident_share`
    largest |margin| of those whose members all agree in sign) with a negative margin."""
    confident = np.zeros(len(margins), bool)
    after = np.arange(len(margins)) >= burn_in
    pool = after & unanimous & (margins != 0)
    if not pool.any() or after.sum() == 0:
        return None, confident
    cut = np.quantile(np.abs(margins[after]), 1 - confident_share)
    confident = pool & (np.abs(margins) >= cut)
    return (float((margins[confident] < 0).mean()) if confident.any() else None), confident


# ---------------------------------------------------------------------------------------------
# One streaming pass.


class _Chunked:
    """A growing table of fixed-width rows kept as a list of numpy chunks (no doubling copies as it grows)."""

    CHUNK = 1 << 13  # 8,192 rows: 1.2 MB of columns for a small file, no large copies for a big one

    def __init__(self, dtype, width: int = 0):
        self.dtype, self.width = dtype, width
        self.chunks: list[np.ndarray] = []
        self.fill = 0

    @classmethod
    def of(cls, array: np.ndarray) -> _Chunked:
        table = cls(array.dtype, array.shape[1] if array.ndim > 1 else 0)
        table.extend(array)
        return table

    def __len__(self) -> int:
        return (len(self.chunks) - 1) * self.CHUNK + self.fill if self.chunks else 0

    def extend(self, rows: np.ndarray) -> None:
        done = 0
        while done < len(rows):
            if not self.chunks or self.fill == self.CHUNK:
                self.chunks.append(np.empty((self.CHUNK, self.width) if self.width else self.CHUNK, self.dtype))
                self.fill = 0
            take = min(self.CHUNK - self.fill, len(rows) - done)
            self.chunks[-1][self.fill:self.fill + take] = rows[done:done + take]
            self.fill += take
            done += take

    def all(self) -> np.ndarray:
        if not self.chunks:
            return np.empty((0, self.width) if self.width else 0, self.dtype)
        return np.concatenate([*self.chunks[:-1], self.chunks[-1][:self.fill]])

    def band(self, band: int, rows: np.ndarray) -> np.ndarray:
        """Word `band` of `rows` (sorted row numbers), the rows read as uint64 words (a signature's band keys)."""
        chunk = rows // self.CHUNK
        bounds = np.searchsorted(chunk, np.arange(len(self.chunks) + 1))
        return np.concatenate([self.chunks[c].view(_U64)[rows[lo:hi] % self.CHUNK, band]
                               for c, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))])

    def take(self, index: np.ndarray) -> np.ndarray:
        out = np.empty((len(index), self.width) if self.width else len(index), self.dtype)
        chunk, offset = np.divmod(index, self.CHUNK)
        for c in np.unique(chunk):
            where = chunk == c
            out[where] = self.chunks[c][offset[where]]
        return out


@dataclass
class _SourceCounts:
    records: int = 0
    longer: int = 0
    ties: int = 0


@dataclass
class _Pass:
    """The state of one streaming pass: per-record columns (151 bytes a record) and running sums."""

    near_threshold: float
    confident_share: float
    seed: int
    kind: str | None = None
    records: int = 0
    text_bytes: int = 0
    chars: dict[str, int] = field(default_factory=dict)
    longer: int = 0
    ties: int = 0
    identical: int = 0
    desirable: int = 0
    voted: int = 0
    vote_total: int = 0
    votes_for_chosen: int = 0
    pairwise_sum: float = 0.0
    against: float = 0.0
    sources: dict[str | None, int] = field(default_factory=dict)
    source_counts: list[_SourceCounts] = field(default_factory=list)
    batch: list[tuple] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys = _Chunked(_U64)
        self.swapped = _Chunked(_U64)
        self.signatures = _Chunked(np.uint8, BINS)
        self.margins = _Chunked(np.float32)
        self.unanimous = _Chunked(np.bool_)
        self.source_ids = _Chunked(np.uint16)
        self.ensemble = BradleyTerryEnsemble(seed=self.seed)

    def add(self, record: Record) -> None:
        kind = "pairs" if isinstance(record, PreferencePair) else "unpaired"
        if self.kind is None:
            self.kind = kind
            self.chars = dict.fromkeys(("prompt", "chosen", "rejected") if kind == "pairs"
                                       else ("prompt", "desirable", "undesirable"), 0)
        elif kind != self.kind:
            raise ValueError("inspect_preferences takes pairs or unpaired examples, not both in one stream")
        source = self._source_id(record.source)
        counts = self.source_counts[source]
        counts.records += 1
        self.records += 1
        prompt = normalise(record.prompt).encode()
        self.chars["prompt"] += len(record.prompt)
        if isinstance(record, PreferencePair):
            texts = (record.prompt, record.chosen, record.rejected)
            chosen, rejected = normalise(record.chosen).encode(), normalise(record.rejected).encode()
            self.chars["chosen"] += len(record.chosen)
            self.chars["rejected"] += len(record.rejected)
            longer, tie = len(record.chosen) > len(record.rejected), len(record.chosen) == len(record.rejected)
            self.longer += longer
            self.ties += tie
            counts.longer += longer
            counts.ties += tie
            self.identical += chosen == rejected
            key, swapped = text_key(prompt, chosen, rejected), text_key(prompt, rejected, chosen)
            if chosen == rejected:
                swapped = key ^ 1  # a pair equal to itself swapped is no conflict
            if record.votes is not None and len(record.votes) >= 2:
                self._add_votes(len(record.votes), sum(record.votes))
            self.batch.append((prompt + b"\x1f" + chosen + b"\x1f" + rejected, key, swapped, source, chosen, rejected))
        else:
            texts = (record.prompt, record.completion)
            completion = normalise(record.completion).encode()
            self.chars["desirable" if record.label else "undesirable"] += len(record.completion)
            self.desirable += record.label
            label, other = b"\x01", b"\x00"
            if not record.label:
                label, other = other, label
            key, swapped = text_key(prompt, completion, label), text_key(prompt, completion, other)
            self.batch.append((prompt + b"\x1f" + completion, key, swapped, source, None, None))
        self.text_bytes += sum(len(t.encode()) for t in texts)
        if len(self.batch) >= BATCH:
            self.flush()

    def _source_id(self, source: str | None) -> int:
        if source not in self.sources:
            if len(self.sources) >= MAX_SOURCES:
                source = "(other)"
            if source not in self.sources:
                self.sources[source] = len(self.sources)
                self.source_counts.append(_SourceCounts())
        return self.sources[source]

    def _add_votes(self, n: int, k: int) -> None:
        self.voted += 1
        self.vote_total += n
        self.votes_for_chosen += k
        # P_i = [k(k − 1) + (n − k)(n − k − 1)] / [n(n − 1)]
        self.pairwise_sum += (k * (k - 1) + (n - k) * (n - k - 1)) / (n * (n - 1))
        self.against += 1.0 if 2 * k < n else 0.5 if 2 * k == n else 0.0

    def flush(self) -> None:
        if not self.batch:
            return
        texts, keys, swapped, sources, chosen, rejected = zip(*self.batch, strict=True)
        self.batch = []
        self.keys.extend(np.array(keys, _U64))
        self.swapped.extend(np.array(swapped, _U64))
        self.source_ids.extend(np.array(sources, np.uint16))
        self.signatures.extend(minhash_signatures(list(texts), self.seed))
        if self.kind == "pairs":
            scores = self.ensemble.score_then_learn(list(chosen), list(rejected))  # (B, K)
            self.margins.extend(scores.mean(axis=1).astype(np.float32))
            self.unanimous.extend((np.sign(scores) == np.sign(scores[:, :1])).all(axis=1))

    def report(self) -> QualityReport:
        self.flush()
        n = self.records
        kind = self.kind or "pairs"
        mean_chars = {k: v / n for k, v in self.chars.items()} if n else {}
        if kind == "unpaired" and n:
            mean_chars["desirable"] = self.chars["desirable"] / self.desirable if self.desirable else 0.0
            mean_chars["undesirable"] = (self.chars["undesirable"] / (n - self.desirable)
                                         if n > self.desirable else 0.0)
        report = QualityReport(kind=kind, records=n, text_bytes=self.text_bytes, mean_chars=mean_chars,
                               duplicates=self._duplicates())
        if kind == "unpaired":
            report.desirable_share = self.desirable / n if n else None
            report.sources = [SourceStats(source=s, records=self.source_counts[i].records)
                              for s, i in self.sources.items()]
            return report
        if n:
            report.length_bias = length_bias(self.longer, self.ties, n)
        if self.voted:
            p = self.votes_for_chosen / self.vote_total
            expected = p * p + (1 - p) * (1 - p)  # P_e: two random votes agree by chance
            observed = self.pairwise_sum / self.voted
            report.agreement = Agreement(
                records_with_votes=self.voted, mean_votes=self.vote_total / self.voted,
                pairwise_agreement=observed,
                fleiss_kappa=(observed - expected) / (1 - expected) if expected < 1 else None,
                majority_against_label=self.against / self.voted)
        margins, unanimous = self.margins.all(), self.unanimous.all()
        burn_in = int(BURN_IN * n)
        estimate, confident = noise_from_margins(margins, unanimous, burn_in, self.confident_share)
        after = margins[burn_in:]
        report.noise = NoiseEstimate(
            estimate=estimate, confident_records=int(confident.sum()),
            progressive_accuracy=float(((after > 0) + 0.5 * (after == 0)).mean()) if len(after) else None,
            members=self.ensemble.members, confident_share=self.confident_share, burn_in_records=burn_in)
        ids = self.source_ids.all()
        for source, i in self.sources.items():
            counts = self.source_counts[i]
            mine = confident & (ids == i)
            bias = length_bias(counts.longer, counts.ties, counts.records)
            report.sources.append(SourceStats(
                source=source, records=counts.records, chosen_longer=bias.chosen_longer,
                length_accuracy=bias.classifier_accuracy, confident_records=int(mine.sum()),
                noise_estimate=float((margins[mine] < 0).mean()) if mine.any() else None))
        return report

    def _duplicates(self) -> Duplicates:
        keys = self.keys.all()
        unique, first, counts = np.unique(keys, return_index=True, return_counts=True)
        exact, exact_groups = len(keys) - len(unique), int((counts > 1).sum())
        # a conflict: a record's swapped key is another record's key; each conflicting pair is met twice
        conflicts = int(np.isin(unique, np.unique(self.swapped.all()), assume_unique=True).sum()) // 2
        del keys, unique, counts  # the near-duplicate search below needs the room on a large file
        # one representative per exact text; near duplicates are looked for among those
        firsts = np.sort(first)
        clusters = near_duplicate_clusters(self.signatures, self.near_threshold, firsts) \
            if len(firsts) else np.zeros(0, np.int64)
        sizes = np.bincount(clusters) if len(clusters) else np.zeros(0, np.int64)
        return Duplicates(exact=exact, exact_groups=exact_groups,
                          near=int((sizes - 1)[sizes > 1].sum()), near_clusters=int((sizes > 1).sum()),
                          identical_pairs=self.identical, conflicts=conflicts, near_threshold=self.near_threshold,
                          bands=BANDS, rows=ROWS, shingle_bytes=SHINGLE)


def length_bias(longer: int, ties: int, n: int) -> LengthBias:
    """From counts of pairs with the chosen longer and with equal lengths among `n`.

    `length_bias(8, 0, 10)` -> chosen_longer 0.8, accuracy 0.8, "longer is chosen";
    `length_bias(1, 2, 10)` -> a = 0.1 + 0.2/2 = 0.2, so accuracy 0.8 with "shorter is chosen".
    """
    if n == 0:
        return LengthBias(chosen_longer=0.0, ties=0.0, classifier_accuracy=0.5, rule="longer is chosen")
    a = (longer + 0.5 * ties) / n  # accuracy of "the longer one is chosen", ties half
    return LengthBias(chosen_longer=longer / n, ties=ties / n, classifier_accuracy=max(a, 1 - a),
                      rule="longer is chosen" if a >= 0.5 else "shorter is chosen")


def inspect_preferences(records: Iterable[Record], *, near_threshold: float = NEAR_THRESHOLD,
                        confident_share: float = CONFIDENT_SHARE, seed: int = 0) -> QualityReport:
    """The quality report of `records` (pairs, or unpaired examples), read once, in order, ~151 bytes each.

    `near_threshold`: the estimated Jaccard above which two records are near duplicates. `confident_share`:
    the share of records (after burn-in) the noise estimate rests on. `seed`: the MinHash and the ensemble's
    bootstrap draws (the report is the same for the same records and seed).
    """
    state = _Pass(near_threshold=near_threshold, confident_share=confident_share, seed=seed)
    for record in records:
        state.add(record)
    return state.report()

