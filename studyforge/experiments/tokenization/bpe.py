"""Byte-level byte-pair encoding: training (`train_bpe`), encoding (`Tokenizer`) and BPE-dropout.

Sennrich, Haddow & Birch, "Neural Machine Translation of Rare Words with Subword Units" (arXiv:1508.07909)
turned Gage's 1994 compression algorithm into a tokenizer: start from single symbols and repeatedly merge
the most frequent adjacent pair into a new symbol, until the vocabulary has the size you want. GPT-2
(Radford et al., 2019) made it *byte-level*: the symbols start as the 256 byte values, so any string can
be encoded and nothing is ever "unknown". Provilkov, Emelianenko & Voita, "BPE-Dropout: Simple and Effective
Subword Regularization" (arXiv:1910.13267) skip each applicable merge with probability p at encoding time,
so a model sees many segmentations of the same word.

Conventions (those of a widely used course assignment, so results compare with other implementations):
the vocabulary is the special tokens, then the 256 bytes, then one token per merge in creation order; text
is cut at special tokens (never merged), then into GPT-2 pre-tokens (see `pretokenize`), and merges never
cross a pre-token; pair counts weight each distinct pre-token by how often it occurs; a tie in count goes to
the lexicographically greater pair of byte strings, `(b"aa", b"a") > (b"a", b"b")`.

Training is fast because it never recounts: after merging `(a, b)` into `n`, only the pre-tokens that
contained `(a, b)` change, and for each occurrence `x a b y` the counts of `(x, a)`, `(b, y)` fall and those of
`(x, n)`, `(n, y)` rise. Counts of pairs of old tokens only ever fall, so a max-heap with lazy deletion
(re-push an entry whose count has dropped when it surfaces) finds the next merge in O(log P).
"""

from __future__ import annotations

import heapq
import json
import os
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, repeat
from typing import Literal

from studyforge.experiments.tokenization.pretokenize import (
    PRETOKEN_RE,
    SpecialSplitter,
    count_pretokens,
    iter_safe_pieces,
)

MergeStrategy = Literal["frequency", "likelihood"]
# on_merge(new_symbol, (a, b), score, merged): called after each merge; `merged` is the number of occurrences
# replaced (weighted by word counts), i.e. how much shorter the training corpus just became, in symbols
MergeCallback = Callable[[int, tuple[int, int], float, int], None]
NO_MERGE = 1 << 62  # rank of a pair that is not in the merge table

# -- pure helpers (minbpe style) ------------------------------------------------------------------------------


def get_pair_counts(ids: Sequence[int], counts: dict[tuple[int, int], int] | None = None,
                    weight: int = 1) -> dict[tuple[int, int], int]:
    """Count adjacent pairs (overlapping), adding `weight` per occurrence into `counts`.

    >>> get_pair_counts([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:], strict=False):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair`, left to right and without overlap, by `new_id`.

    >>> merge([97, 97, 97, 98, 100], (97, 97), 256)   # "aaabd", aa -> Z: "Zabd"
    [256, 97, 98, 100]
    """
    out, i, a, b = [], 0, pair[0], pair[1]
    while i < len(ids):
        if ids[i] == a and i + 1 < len(ids) and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, used by its `vocab.json` and `merges.txt`.

    Printable Latin-1 bytes stand for themselves; the others (control characters, space, ...) are shifted
    to code points 256 and up, in order:

    >>> m = bytes_to_unicode(); m[ord("a")], m[ord(" ")], m[ord("\\n")]
    ('a', 'Ġ', 'Ċ')
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, shift = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + shift)
            shift += 1
    return dict(sorted(mapping.items()))


# -- training -------------------------------------------------------------------------------------------------

# `_descending(label)` sorts in the reverse order of the byte string `label`: each byte b becomes chr(255 - b)
# and a terminator chr(256) greater than all of them is appended, so a prefix sorts *after* its extensions.
# A heap entry (-count, key[a], key[b], a, b) therefore pops the lexicographically greatest pair among equal
# counts from Python's min-heap; the keys are computed once per symbol and shared by all its entries.
_COMPLEMENT = bytes(range(255, -1, -1))


def _descending(label: bytes) -> str:
    return label.translate(_COMPLEMENT).decode("latin-1") + "\u0100"


def learn_merges(words: list[Sequence[int]], counts: list[int], labels: list[bytes], num_new: int,
                 strategy: MergeStrategy = "frequency",
                 on_merge: MergeCallback | None = None) -> list[tuple[int, int]]:
    """The BPE loop on symbol sequences: merge the best adjacent pair until `num_new` symbols have been
    created (or no pair is left).

    `words[i]` (a sequence of symbol ids, replaced as merges apply) occurs `counts[i]` times; `labels[t]` is
    the byte string of symbol `t`, and a merge appends the new symbol's label (its id is `len(labels)`; a
    merge that spells an existing label reuses that symbol, so it adds a merge but no symbol). Ties go to the
    lexicographically greater `(labels[a], labels[b])`. `strategy` scores a pair:

    * `"frequency"`: its count, c(ab) (Sennrich et al.);
    * `"likelihood"`: c(ab) / (c(a)·c(b)), the gain in unigram log-likelihood that WordPiece maximises.

    Returns the merged pairs in order. On "aaabdaaabac" (Wikipedia's example) the first merge is `aa` (4
    overlapping occurrences); then `(aa, a)` and `(a, b)` tie at 2 and the greater pair wins:

    >>> w = [list(b"aaabdaaabac")]; labels = [bytes([i]) for i in range(256)]
    >>> [labels[a] + labels[b] for a, b in learn_merges(w, [1], labels, 3)], list(w[0])
    ([b'aa', b'aaa', b'aaab'], [258, 100, 258, 97, 99])

    (Wikipedia picks `ab` at the tie and reaches the same "XdXac" by another route: aa, ab, aa+ab.)
    """
    if strategy == "frequency":
        return _learn_by_frequency(words, counts, labels, num_new, on_merge)
    if strategy == "likelihood":
        return _learn_by_likelihood(words, counts, labels, num_new, on_merge)
    raise ValueError(f"unknown merge strategy {strategy!r} (use 'frequency' or 'likelihood')")


def _index_pairs(words: Sequence[Sequence[int]], counts: Sequence[int]) -> dict[tuple[int, int], list[int]]:
    """The pair table: `table[pair] = [count, i, j, ...]`, the pair's weighted count, then the indices of
    the words it occurs in (with repeats; possibly stale, since a merge elsewhere in a word can remove it).

    One list per pair holds both, because on large corpora the table is most of the memory.

    >>> _index_pairs([[1, 2, 1, 2], [2, 1]], [3, 5])
    {(1, 2): [6, 0, 0], (2, 1): [8, 0, 1]}
    """
    table: dict[tuple[int, int], list[int]] = {}
    for wi, w in enumerate(words):
        c = counts[wi]
        for pair in zip(w, w[1:], strict=False):
            entry = table.get(pair)
            if entry is None:
                table[pair] = [c, wi]
            else:
                entry[0] += c
                entry.append(wi)
    return table


def _count(table: dict[tuple[int, int], list[int]], pair: tuple[int, int]) -> int:
    entry = table.get(pair)
    return entry[0] if entry else 0


def _apply_merge(words, counts, table, a: int, b: int, n: int, touched: set, on_pair=None) -> int:
    """Merge `(a, b)` -> `n` in every word that contains it, updating the pair table locally.

    For each occurrence `x a b y`: c(x, a) -= c, c(x, n) += c, c(b, y) -= c, c(n, y) += c, where c is the
    word's count (and `x` may already be `n`, from the occurrence just before). Pairs whose count reaches 0
    are forgotten at once; pairs whose count rose go into `touched`, pairs whose count fell are reported to
    `on_pair` if given. Returns the number of merged occurrences, weighted by word counts.
    """
    merged = 0
    entry = table.pop((a, b), None)
    for wi in set(entry[1:]) if entry else ():
        w = words[wi]
        c = counts[wi]
        last = len(w) - 1
        out: list[int] = []
        j = 0
        while j <= last:
            t = w[j]
            if t == a and j < last and w[j + 1] == b:
                if out:
                    x = out[-1]
                    # c(x, a) -= c; c(x, n) += c
                    xa = (x, a)
                    e = table.get(xa)
                    if e is not None:  # None only when (x, a) is the pair being merged, e.g. "a a a a"
                        e[0] -= c
                        if not e[0]:  # forget pairs that no longer occur
                            del table[xa]
                        if on_pair is not None:
                            on_pair(xa)
                    xn = (x, n)
                    touched.add(xn)
                    e = table.get(xn)
                    if e is None:
                        table[xn] = [c, wi]
                    else:
                        e[0] += c
                        e.append(wi)
                if j + 1 < last:
                    y = w[j + 2]
                    # c(b, y) -= c; c(n, y) += c
                    by = (b, y)
                    e = table.get(by)
                    if e is not None:
                        e[0] -= c
                        if not e[0]:
                            del table[by]
                        if on_pair is not None:
                            on_pair(by)
                    ny = (n, y)
                    touched.add(ny)
                    e = table.get(ny)
                    if e is None:
                        table[ny] = [c, wi]
                    else:
                        e[0] += c
                        e.append(wi)
                out.append(n)
                merged += c
                j += 2
            else:
                out.append(t)
                j += 1
        if len(out) != len(w):
            words[wi] = tuple(out)  # exact size: most words are a few symbols long
    return merged


def _symbol_for(label: bytes, labels: list[bytes], keys: list[str], symbol_of: dict[bytes, int]) -> int:
    """The symbol spelled `label`, created if new (a merge can re-create an existing string: (a, bc) and
    later (ab, c); both then mean the same symbol, as in Hugging Face's trainer)."""
    n = symbol_of.get(label)
    if n is None:
        n = symbol_of[label] = len(labels)
        labels.append(label)
        keys.append(_descending(label))
    return n


def _learn_by_frequency(words, counts, labels, num_new, on_merge):
    table = _index_pairs(words, counts)
    keys = [_descending(label) for label in labels]
    # max-heap on (count, pair), see `_descending`
    heap = [(-e[0], keys[a], keys[b], a, b) for (a, b), e in table.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    target, symbol_of = len(labels) + num_new, {label: t for t, label in enumerate(labels)}
    while len(labels) < target and heap:
        neg, key_a, key_b, a, b = heapq.heappop(heap)
        c = _count(table, (a, b))
        if c != -neg:  # stale: the count fell since this entry was pushed (counts of old pairs only fall)
            if c > 0:
                heapq.heappush(heap, (-c, key_a, key_b, a, b))
            continue
        n = _symbol_for(labels[a] + labels[b], labels, keys, symbol_of)
        merges.append((a, b))
        touched: set[tuple[int, int]] = set()
        merged = _apply_merge(words, counts, table, a, b, n, touched)
        # pairs whose count rose all contain n; push each once, with its final count
        for pair in touched:
            c_new = _count(table, pair)
            if c_new > 0:
                heapq.heappush(heap, (-c_new, keys[pair[0]], keys[pair[1]], pair[0], pair[1]))
        if len(heap) > 2 * len(table) + 1024:  # mostly stale entries: rebuild (amortised O(1) per push)
            heap = [(-e[0], keys[x], keys[y], x, y) for (x, y), e in table.items()]
            heapq.heapify(heap)
        if on_merge is not None:
            on_merge(n, (a, b), float(c), merged)
    return merges


def _learn_by_likelihood(words, counts, labels, num_new, on_merge):
    """As `_learn_by_frequency`, scoring c(ab) / (c(a)·c(b)). Merging (a, b) changes c(a) and c(b), so every
    pair that contains a, b or the new symbol is re-pushed; an entry is stale when its score changed."""
    table = _index_pairs(words, counts)
    symbol_counts: dict[int, int] = defaultdict(int)
    for w, c in zip(words, counts, strict=False):
        for t in w:
            symbol_counts[t] += c
    pairs_of: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for pair in table:
        pairs_of[pair[0]].add(pair)
        pairs_of[pair[1]].add(pair)
    keys = [_descending(label) for label in labels]

    def score(pair: tuple[int, int]) -> float:
        # score(a, b) = c(ab) / (c(a) c(b))
        return table[pair][0] / (symbol_counts[pair[0]] * symbol_counts[pair[1]])

    heap = [(-score(p), keys[p[0]], keys[p[1]], p[0], p[1]) for p in table]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    target, symbol_of = len(labels) + num_new, {label: t for t, label in enumerate(labels)}
    while len(labels) < target and heap:
        neg, _, _, a, b = heapq.heappop(heap)
        pair = (a, b)
        if pair not in table or score(pair) != -neg:
            continue  # stale: a fresher entry was pushed when the score changed
        n = _symbol_for(labels[a] + labels[b], labels, keys, symbol_of)
        merges.append(pair)
        best = -neg
        touched: set[tuple[int, int]] = set()
        changed: set[tuple[int, int]] = set()
        k = _apply_merge(words, counts, table, a, b, n, touched, on_pair=changed.add)
        symbol_counts[a] -= k
        symbol_counts[b] -= k
        symbol_counts[n] += k
        for p in touched:
            pairs_of[p[0]].add(p)
            pairs_of[p[1]].add(p)
        for p in changed | touched | pairs_of[a] | pairs_of[b] | pairs_of[n]:
            if p in table:
                heapq.heappush(heap, (-score(p), keys[p[0]], keys[p[1]], p[0], p[1]))
            else:
                pairs_of[p[0]].discard(p)
                pairs_of[p[1]].discard(p)
        if on_merge is not None:
            on_merge(n, pair, best, k)
    return merges


def train_bpe_from_counts(word_counts: Mapping[str, int], vocab_size: int, special_tokens: Sequence[str] = (),
                          merge_strategy: MergeStrategy = "frequency",
                          on_merge: MergeCallback | None = None,
                          ) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train byte-level BPE on pre-token counts; see `train_bpe`. Sennrich et al.'s toy corpus: "es" and "st"
    both occur 9 times and the greater pair (s, t) wins; then "e"+"st" (9); then "lo" and "ow" tie at 7.

    >>> train_bpe_from_counts({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 256 + 3)[1]
    [(b's', b't'), (b'e', b'st'), (b'o', b'w')]
    """
    words = [list(w.encode("utf-8")) for w in word_counts]  # symbol t < 256 is byte t; merges get 256, 257, ...
    return _train(words, list(word_counts.values()), vocab_size, special_tokens, merge_strategy, on_merge)


def _train(words, counts, vocab_size, special_tokens, merge_strategy, on_merge):
    specials = list(dict.fromkeys(special_tokens))
    base = len(specials)
    num_new = vocab_size - base - 256
    if num_new < 0:
        raise ValueError(f"vocab_size={vocab_size} is smaller than {base} special tokens + 256 bytes")
    labels = [bytes([t]) for t in range(256)]
    pairs = learn_merges(words, counts, labels, num_new, merge_strategy, on_merge)
    vocab = {i: s.encode("utf-8") for i, s in enumerate(specials)}
    vocab.update({base + t: label for t, label in enumerate(labels)})
    return vocab, [(labels[a], labels[b]) for a, b in pairs]


def train_bpe(input_path: str | os.PathLike, vocab_size: int, special_tokens: Sequence[str] = (), *,
              merge_strategy: MergeStrategy = "frequency", num_processes: int | None = None,
              on_merge: MergeCallback | None = None,
              ) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train a byte-level BPE tokenizer on a UTF-8 text file.

    Returns `(vocab, merges)`: `vocab[id] = bytes` (special tokens, then the 256 bytes, then one token per
    merge) and the merges as pairs of byte strings in the order they were learned. The file is streamed;
    `num_processes` > 1 pre-tokenizes chunks in parallel (None: automatic, by file size). `on_merge(id,
    pair, score, merged)` is called after each merge (for progress bars and per-merge metrics).
    """
    word_counts = count_pretokens(input_path, special_tokens, num_processes)
    words, counts = [], []
    while word_counts:  # move the counts into symbol lists, freeing the strings as we go
        word, c = word_counts.popitem()
        words.append(list(word.encode("utf-8")))
        counts.append(c)
    del word_counts
    return _train(words, counts, vocab_size, special_tokens, merge_strategy, on_merge)


# -- encoding -------------------------------------------------------------------------------------------------


class _PretokenCache(dict):
    """pre-token -> token ids, computed on a miss; cleared when full, so memory stays bounded."""

    def __init__(self, encode_word: Callable[[str], tuple[int, ...]], max_size: int):
        super().__init__()
        self.encode_word = encode_word
        self.max_size = max_size

    def __missing__(self, word: str) -> tuple[int, ...]:
        if len(self) >= self.max_size:
            self.clear()
        ids = self[word] = self.encode_word(word)
        return ids


class Tokenizer:
    """Encode text with a byte-level BPE vocabulary and merge table; decode ids back to text.

    `vocab[id] = bytes`; `merges` in priority order. A pre-token is encoded by repeatedly merging the
    adjacent pair with the best (lowest) rank, leftmost first, which is what GPT-2 and Hugging Face
    `tokenizers` do. Special tokens missing from `vocab` are appended to it. Encodings of pre-tokens are
    cached (at most `cache_size` of them).
    """

    def __init__(self, vocab: Mapping[int, bytes], merges: Iterable[tuple[bytes, bytes]],
                 special_tokens: Sequence[str] | None = None, cache_size: int = 1 << 16):
        self.vocab: dict[int, bytes] = dict(vocab)
        self.id_of: dict[bytes, int] = {}
        for i, token in sorted(self.vocab.items()):
            self.id_of.setdefault(token, i)
        self.special_tokens = list(dict.fromkeys(special_tokens or ()))
        for s in self.special_tokens:
            if s.encode("utf-8") not in self.id_of:
                i = max(self.vocab, default=-1) + 1
                self.vocab[i], self.id_of[s.encode("utf-8")] = s.encode("utf-8"), i
        self.special_ids = {s: self.id_of[s.encode("utf-8")] for s in self.special_tokens}
        self._specials = SpecialSplitter(self.special_tokens)
        missing = [b for b in range(256) if bytes([b]) not in self.id_of]
        if missing:
            raise ValueError(f"byte-level vocabulary lacks single-byte tokens for bytes {missing[:8]}...")
        self.byte_ids = tuple(self.id_of[bytes([b])] for b in range(256))
        # ranks[(id_a, id_b)] = position of the merge in the table; merged_id[rank] = id of a+b
        self.ranks: dict[tuple[int, int], int] = {}
        self.merged_id: list[int] = []
        for rank, (a, b) in enumerate(merges):
            self.ranks.setdefault((self.id_of[a], self.id_of[b]), rank)
            self.merged_id.append(self.id_of[a + b])
        self._cache = _PretokenCache(self._encode_word, cache_size)

    @classmethod
    def from_files(cls, vocab_path: str | os.PathLike, merges_path: str | os.PathLike,
                   special_tokens: Sequence[str] | None = None, **kwargs) -> Tokenizer:
        """Load GPT-2's released format: `vocab.json` (`{"Ġthe": 262, ...}`) and `merges.txt` (`Ġ t` per
        line, after a `#version` header), both spelling bytes with `bytes_to_unicode`'s stand-ins."""
        decoder = {ch: b for b, ch in bytes_to_unicode().items()}

        def to_bytes(token: str) -> bytes:
            return bytes(decoder[ch] for ch in token)

        with open(vocab_path, encoding="utf-8") as f:
            vocab = {i: to_bytes(token) for token, i in json.load(f).items()}
        merges = []
        with open(merges_path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if not line or line.startswith("#version"):
                    continue
                a, b = line.split(" ")
                merges.append((to_bytes(a), to_bytes(b)))
        return cls(vocab, merges, special_tokens, **kwargs)

    # the BPE loop on one pre-token
    def _merge_ids(self, ids: list[int]) -> list[int]:
        """Apply merges by rank, leftmost first: with GPT-2's table, the 13 bytes of " tokenization" end as
        [11241, 1634], b" token" + b"ization" (a test checks GPT-2 ids against Hugging Face on whole corpora).

        The ranks of the adjacent pairs are kept in a list beside the ids, so a merge costs two dictionary
        look-ups and C-level `min`/`index` scans instead of recounting the word in Python.
        """
        get, merged_id = self.ranks.get, self.merged_id
        ranks = list(map(get, zip(ids, ids[1:], strict=False), repeat(NO_MERGE)))
        while ranks:
            r = min(ranks)
            if r == NO_MERGE:
                break
            i = ranks.index(r)
            n = merged_id[r]
            ids[i : i + 2] = (n,)
            del ranks[i]
            if i:
                ranks[i - 1] = get((ids[i - 1], n), NO_MERGE)
            if i < len(ranks):
                ranks[i] = get((n, ids[i + 1]), NO_MERGE)
        return ids

    def _encode_word(self, word: str) -> tuple[int, ...]:
        ids = list(map(self.byte_ids.__getitem__, word.encode("utf-8")))
        return tuple(self._merge_ids(ids)) if len(ids) > 1 else tuple(ids)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`: special tokens as themselves (longest first), the rest by BPE per pre-token."""
        out: list[int] = []
        lookup, findall = self._cache.__getitem__, PRETOKEN_RE.findall
        for i, segment in enumerate(self._specials.split(text)):
            if i & 1:
                out.append(self.special_ids[segment])
            elif segment:
                out.extend(chain.from_iterable(map(lookup, findall(segment))))
        return out

    def encode_iterable(self, iterable: Iterable[str]) -> Iterator[int]:
        """Lazily encode a stream of strings (e.g. an open file's lines) exactly as `encode` would encode
        their concatenation, holding only the text since the last safe cut (see `pretokenize.safe_cut`)."""
        for piece in iter_safe_pieces(iterable, self._specials):
            yield from self.encode(piece)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD, never an exception."""
        try:
            data = b"".join(map(self.vocab.__getitem__, ids))
        except KeyError as exc:
            raise ValueError(f"token id {exc.args[0]} is not in the vocabulary") from None
        return data.decode("utf-8", errors="replace")

    def clear_cache(self) -> None:
        self._cache.clear()

    def __len__(self) -> int:
        return len(self.vocab)


class DropoutTokenizer(Tokenizer):
    """BPE-dropout (Provilkov et al., arXiv:1910.13267): at every step of the BPE loop each applicable merge
    is dropped with probability `p`; the best surviving merge is applied; when none survives, stop.

    p = 0 is plain BPE; p = 1 leaves single bytes. The paper uses p = 0.1 while training and plain BPE
    (p = 0) at test time. Nothing is cached, since every call draws new segmentations; `seed` makes the
    draws reproducible.
    """

    def __init__(self, vocab, merges, special_tokens=None, p: float = 0.1, seed: int | None = 0, **kwargs):
        super().__init__(vocab, merges, special_tokens, **kwargs)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.rng = random.Random(seed)
        self._cache = _NoCache(self._encode_word)

    def _merge_ids(self, ids: list[int]) -> list[int]:
        get, merged_id, rand, p = self.ranks.get, self.merged_id, self.rng.random, self.p
        while len(ids) > 1:
            # candidates: applicable merges that survive dropout this step
            best, at = NO_MERGE, -1
            for i, pair in enumerate(zip(ids, ids[1:], strict=False)):
                r = get(pair, NO_MERGE)
                if r < best and rand() >= p:
                    best, at = r, i
            if at < 0:
                break
            ids[at : at + 2] = (merged_id[best],)
        return ids


class _NoCache(dict):
    def __init__(self, encode_word: Callable[[str], tuple[int, ...]]):
        super().__init__()
        self.encode_word = encode_word

    def __missing__(self, word: str) -> tuple[int, ...]:
        return self.encode_word(word)
