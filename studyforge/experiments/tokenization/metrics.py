"""What the week-2 studies measure about a token stream: compression, coverage and information.

Shannon, "A Mathematical Theory of Communication" (1948; no arXiv id): a source whose symbols have
probabilities p_i cannot be coded in fewer than H = −Σ p_i log2 p_i bits per symbol on average. For a
token stream, the unigram entropy H of the token distribution times the number of tokens is the length of
the best code that looks at tokens one at a time, so

    bits per byte = H · (tokens / bytes)

says how much a tokenizer plus a unigram code compresses the text — to be compared with a general-purpose
compressor (zlib's DEFLATE, LZMA) that exploits context. The vocabulary itself is not charged for, so this
is optimistic for large vocabularies on small texts.
"""

from __future__ import annotations

import lzma
import math
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence


def bytes_per_token(text: str, n_tokens: int) -> float:
    """UTF-8 bytes per token: higher means more compression.

    >>> bytes_per_token("héllo", 2)   # 6 bytes
    3.0
    """
    return len(text.encode("utf-8")) / max(n_tokens, 1)


def tokens_per_word(text: str, n_tokens: int) -> float:
    """Tokens per whitespace-separated word ("fertility"; meaningless for scripts written without spaces).

    >>> tokens_per_word("the cat sat", 4)
    1.3333333333333333
    """
    return n_tokens / max(len(text.split()), 1)


def unigram_entropy(ids: Sequence[int]) -> float:
    """H = −Σ p log2 p of the token frequencies, in bits per token.

    >>> unigram_entropy([1, 1, 2, 2]), unigram_entropy([7, 7, 7])
    (1.0, 0.0)
    """
    n = len(ids)
    if n == 0:
        return 0.0
    # H = −Σ_t p_t log2 p_t, p_t = count(t) / n
    return -sum(c / n * math.log2(c / n) for c in Counter(ids).values()) + 0.0


def compressed_bits_per_byte(text: str, method: str = "zlib") -> float:
    """Bits per UTF-8 byte after compressing with zlib (level 9) or lzma (preset 9, extreme)."""
    data = text.encode("utf-8")
    if method == "zlib":
        packed = zlib.compress(data, 9)
    elif method == "lzma":
        packed = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    else:
        raise ValueError(f"unknown compressor {method!r}")
    return 8 * len(packed) / max(len(data), 1)


def vocabulary_used(ids: Sequence[int], vocab_size: int) -> float:
    """Share of the vocabulary that occurs at least once in `ids`.

    >>> vocabulary_used([0, 1, 1, 3], 8)
    0.375
    """
    return len(set(ids)) / vocab_size


def byte_fallback_rate(ids: Sequence[int], vocab: Mapping[int, bytes]) -> float:
    """Share of tokens that are a lone byte of a multi-byte UTF-8 character: the vocabulary has no piece
    for that character, and byte-level BPE falls back to raw bytes (what SentencePiece's byte_fallback does).

    >>> byte_fallback_rate([0, 1, 2], {0: b"a", 1: b"\\xc3", 2: b"\\xa9"})   # "é" as two raw bytes
    0.6666666666666666
    """
    if not ids:
        return 0.0
    return sum(1 for i in ids if len(vocab[i]) == 1 and vocab[i][0] >= 0x80) / len(ids)


def token_length_counts(ids: Sequence[int], vocab: Mapping[int, bytes]) -> dict[int, int]:
    """How many tokens of each length in bytes occur in `ids`.

    >>> token_length_counts([0, 1, 1], {0: b"a", 1: b"the"})
    {1: 1, 3: 2}
    """
    return dict(sorted(Counter(len(vocab[i]) for i in ids).items()))
