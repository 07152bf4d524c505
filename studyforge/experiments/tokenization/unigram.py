"""The Unigram language-model tokenizer, trained by EM and pruning, encoding by Viterbi.

Kudo, "Subword Regularization: Improving Neural Network Translation Models with Multiple Subword
Candidates" (arXiv:1804.10959), as implemented in SentencePiece (Kudo & Richardson, arXiv:1808.06226).

Where BPE builds a vocabulary bottom-up by merging, the unigram model starts from a large seed vocabulary
and prunes it. Each piece x has a probability p(x); a segmentation s = (x_1, ..., x_k) of a word has
probability Π p(x_i), and a word's likelihood sums over all its segmentations,

    P(w) = Σ_{s ∈ S(w)} Π_i p(x_i),     L = Σ_w c(w) log P(w).

* **E-step**: the expected number of times each piece is used, E[n(x)] = Σ_w c(w) Σ_s P(s | w) n_s(x),
  computed for every word by forward–backward over its lattice of pieces (an arc i -> j for each piece
  w[i:j] in the vocabulary): α(j) = Σ_i α(i) p(w[i:j]), β(i) = Σ_j p(w[i:j]) β(j), and the arc's posterior
  is α(i) p(w[i:j]) β(j) / P(w). **M-step**: p(x) = E[n(x)] / Σ_y E[n(y)]. EM never decreases L.
* **Pruning**: for each piece, estimate how much L falls if it is removed (its occurrences in the Viterbi
  segmentations are re-spelled with the best segmentation of the piece that does not use it), and keep the
  best `shrink` fraction; single characters are always kept, so every word stays encodable.
* **Encoding**: the most probable segmentation, by Viterbi on the same lattice.

As in SentencePiece, text is split at whitespace and each word is prefixed with "▁", so pieces never
cross words and decoding restores single spaces.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

WORD_START = "\u2581"  # ▁
SPECIAL_TOKENS = ("<unk>", "<s>", "</s>")
NEG_INF = float("-inf")


def sp_pretokenize(text: str) -> list[str]:
    """SentencePiece's default split: whitespace-separated words, each prefixed with ▁.

    >>> sp_pretokenize("Hello  world")
    ['▁Hello', '▁world']
    """
    return [WORD_START + w for w in text.split()]


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    if m == NEG_INF:
        return NEG_INF
    return m + math.log(sum(math.exp(x - m) for x in xs))


def viterbi(word: str, logp: Mapping[str, float], max_len: int, unk_logp: float | None = None,
            forbid: str | None = None) -> tuple[list[str], float]:
    """The most probable segmentation of `word` and its log-probability.

    `unk_logp`: if given, a character not in the vocabulary may be used alone at that cost (so every word
    has a segmentation); `forbid`: a piece not to use (for the "best alternative" when pruning).

    >>> viterbi("abc", {"a": -1.0, "b": -1.0, "c": -1.0, "ab": -1.5, "bc": -3.0}, max_len=2)
    (['ab', 'c'], -2.5)
    """
    n = len(word)
    best = [NEG_INF] * (n + 1)  # best[j]: best log-probability of word[:j]
    back = [0] * (n + 1)  # back[j]: start of the last piece in that segmentation
    best[0] = 0.0
    for j in range(1, n + 1):
        for i in range(max(0, j - max_len), j):
            if best[i] == NEG_INF:
                continue
            piece = word[i:j]
            lp = logp.get(piece)
            if lp is None or piece == forbid:
                if unk_logp is None or j - i != 1:
                    continue
                lp = unk_logp
            # best(j) = max_i best(i) + log p(w[i:j])
            if best[i] + lp > best[j]:
                best[j], back[j] = best[i] + lp, i
    if best[n] == NEG_INF:
        return [], NEG_INF
    pieces, j = [], n
    while j > 0:
        pieces.append(word[back[j] : j])
        j = back[j]
    return pieces[::-1], best[n]


def forward_backward(word: str, logp: Mapping[str, float], max_len: int) -> tuple[float, dict[str, float]]:
    """log P(word) summed over all segmentations, and the expected count of each piece in one occurrence.

    With p(a) = p(b) = 1/4 and p(ab) = 1/2, "ab" has two segmentations, of probability 1/16 and 1/2:
    P = 9/16; "ab" is used with probability (1/2) / (9/16) = 8/9, "a" and "b" with 1/9.

    >>> lp = {"a": math.log(.25), "b": math.log(.25), "ab": math.log(.5)}
    >>> z, counts = forward_backward("ab", lp, max_len=2)
    >>> round(math.exp(z), 4), {k: round(v, 4) for k, v in sorted(counts.items())}
    (0.5625, {'a': 0.1111, 'ab': 0.8889, 'b': 0.1111})
    """
    n = len(word)
    arcs: list[tuple[int, int, str, float]] = []  # (i, j, piece, log p) for each piece word[i:j] in the vocab
    ending: list[list[tuple[int, float]]] = [[] for _ in range(n + 1)]
    starting: list[list[tuple[int, float]]] = [[] for _ in range(n + 1)]
    for i in range(n):
        for j in range(i + 1, min(n, i + max_len) + 1):
            lp = logp.get(word[i:j])
            if lp is not None:
                arcs.append((i, j, word[i:j], lp))
                ending[j].append((i, lp))
                starting[i].append((j, lp))
    alpha = [NEG_INF] * (n + 1)
    alpha[0] = 0.0
    for j in range(1, n + 1):
        if ending[j]:
            # α(j) = log Σ_i exp(α(i) + log p(w[i:j]))
            alpha[j] = _logsumexp([alpha[i] + lp for i, lp in ending[j]])
    log_z = alpha[n]
    if log_z == NEG_INF:
        return NEG_INF, {}
    beta = [NEG_INF] * (n + 1)
    beta[n] = 0.0
    for i in range(n - 1, -1, -1):
        if starting[i]:
            # β(i) = log Σ_j exp(log p(w[i:j]) + β(j))
            beta[i] = _logsumexp([lp + beta[j] for j, lp in starting[i]])
    counts: dict[str, float] = defaultdict(float)
    for i, j, piece, lp in arcs:
        # posterior of the arc: α(i) p(x) β(j) / P(w)
        post = alpha[i] + lp + beta[j] - log_z
        if post > -50.0:
            counts[piece] += math.exp(post)
    return log_z, dict(counts)


class UnigramTokenizer:
    """A unigram LM vocabulary (`pieces[id]` with log-probabilities `scores[id]`) and its Viterbi encoder; the
    special tokens come first, and the first of them stands for unknown characters."""

    def __init__(self, pieces: Sequence[str], scores: Sequence[float], special_tokens: Sequence[str] = SPECIAL_TOKENS):
        self.special_tokens = list(dict.fromkeys(special_tokens))
        self.pieces = [*self.special_tokens, *pieces]
        self.scores = [0.0] * len(self.special_tokens) + list(scores)
        self.id_of = {p: i for i, p in enumerate(self.pieces)}
        self.logp = dict(zip(pieces, scores, strict=True))
        self.max_len = max(map(len, pieces), default=1)
        self.unk_id = 0
        # as in SentencePiece: an unknown character costs a bit more than the least likely piece
        self.unk_logp = min(scores, default=0.0) - 10.0

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, seed_size: int | None = None, max_piece_len: int = 16,
              shrink: float = 0.75, em_iterations: int = 2, special_tokens: Sequence[str] = SPECIAL_TOKENS,
              on_round: Callable[[dict], None] | None = None) -> UnigramTokenizer:
        """Seed, then alternate EM and pruning until `vocab_size` pieces (specials included) remain.

        `on_round` receives `{"round", "vocab", "log_likelihood"}` after each EM pass (for logging).
        """
        word_counts: Counter[str] = Counter()
        for text in texts:
            word_counts.update(sp_pretokenize(text))
        target = vocab_size - len(dict.fromkeys(special_tokens))
        logp = seed_vocabulary(word_counts, seed_size or 10 * vocab_size, max_piece_len)
        chars = {p for p in logp if len(p) == 1}
        rounds = 0
        while True:
            for _ in range(em_iterations):
                logp, ll = em_step(word_counts, logp, max_piece_len, keep=chars)
                rounds += 1
                if on_round is not None:
                    on_round({"round": rounds, "vocab": len(logp), "log_likelihood": ll})
            if len(logp) <= target:
                break
            logp = prune(word_counts, logp, max_piece_len, max(target, int(shrink * len(logp))), keep=chars)
        ranked = sorted(logp.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([p for p, _ in ranked], [s for _, s in ranked], special_tokens)

    def encode_pieces(self, text: str) -> list[str]:
        cache: dict[str, list[str]] = {}
        out: list[str] = []
        for word in sp_pretokenize(text):
            pieces = cache.get(word)
            if pieces is None:
                pieces = cache[word] = viterbi(word, self.logp, self.max_len, self.unk_logp)[0]
            out.extend(pieces)
        return out

    def encode(self, text: str) -> list[int]:
        return [self.id_of.get(p, self.unk_id) for p in self.encode_pieces(text)]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.pieces[i] for i in ids).replace(WORD_START, " ").lstrip(" ")

    def __len__(self) -> int:
        return len(self.pieces)


def seed_vocabulary(word_counts: Mapping[str, int], size: int, max_piece_len: int) -> dict[str, float]:
    """Every character, plus the `size` most frequent longer substrings by frequency × length (as
    SentencePiece ranks its suffix-array candidates), with log-probabilities proportional to frequency.

    >>> sorted(seed_vocabulary({"▁aa": 2, "▁ab": 1}, size=2, max_piece_len=2))
    ['a', 'aa', 'b', '▁', '▁a']
    """
    chars: Counter[str] = Counter()
    subs: Counter[str] = Counter()
    for word, c in word_counts.items():
        for ch in word:
            chars[ch] += c
        for i in range(len(word)):
            for j in range(i + 2, min(len(word), i + max_piece_len) + 1):
                subs[word[i:j]] += c
    top = sorted(subs.items(), key=lambda kv: (-kv[1] * len(kv[0]), kv[0]))[:size]
    freq = {**dict(top), **chars}
    log_total = math.log(sum(freq.values()))
    return {p: math.log(f) - log_total for p, f in freq.items()}


def em_step(word_counts: Mapping[str, int], logp: Mapping[str, float], max_len: int,
            keep: set[str] = frozenset()) -> tuple[dict[str, float], float]:
    """One EM iteration; returns the new log-probabilities and the log-likelihood L of the *old* ones.

    Pieces that no segmentation uses are dropped (except those in `keep`).
    """
    expected: dict[str, float] = defaultdict(float)
    ll = 0.0
    for word, c in word_counts.items():
        log_z, counts = forward_backward(word, logp, max_len)
        ll += c * log_z
        for piece, n in counts.items():
            expected[piece] += c * n
    for p in keep:  # a kept piece never used (a character only inside longer pieces) gets a tiny count
        expected[p] = max(expected[p], 1e-6)
    # p(x) = E[n(x)] / Σ_y E[n(y)]
    log_total = math.log(sum(expected.values()))
    return {p: math.log(n) - log_total for p, n in expected.items() if n > 0}, ll


def log_likelihood(word_counts: Mapping[str, int], logp: Mapping[str, float], max_len: int) -> float:
    """L = Σ_w c(w) log P(w)."""
    return sum(c * forward_backward(w, logp, max_len)[0] for w, c in word_counts.items())


def prune(word_counts: Mapping[str, int], logp: Mapping[str, float], max_len: int, size: int,
          keep: set[str] = frozenset()) -> dict[str, float]:
    """Keep the `size` pieces whose removal would cost the most likelihood (plus all of `keep`).

    loss(x) = n(x) · (log p(x) − Σ_{y ∈ alt(x)} log p(y)), where n(x) counts x in the Viterbi segmentations
    of the corpus and alt(x) is the best segmentation of the string x without the piece x.
    """
    uses: Counter[str] = Counter()
    for word, c in word_counts.items():
        for piece in viterbi(word, logp, max_len)[0]:
            uses[piece] += c
    loss: dict[str, float] = {}
    for piece, lp in logp.items():
        if piece in keep:
            continue
        if uses[piece] == 0:
            loss[piece] = 0.0
            continue
        _, alt = viterbi(piece, logp, max_len, forbid=piece)
        loss[piece] = uses[piece] * (lp - alt)
    survivors = sorted(loss, key=lambda p: (-loss[p], p))[: max(0, size - len(keep))]
    return {p: logp[p] for p in (*keep, *survivors) if p in logp}
