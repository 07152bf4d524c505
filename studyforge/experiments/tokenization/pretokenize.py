"""Pre-tokenization: special tokens, the GPT-2 regex, and cutting a stream of text where it is safe to cut.

Radford et al., "Language Models are Unsupervised Multitask Learners" (GPT-2, 2019; no arXiv id) split
text into *pre-tokens* before byte-level BPE, so that merges never cross a word boundary and never glue a
word to the punctuation after it ("dog." and "dog!" share the token "dog"):

    '(?:[sdmt]|ll|ve|re) | ?\\p{L}+ | ?\\p{N}+ | ?[^\\s\\p{L}\\p{N}]+ | \\s+(?!\\S) | \\s+

(contractions; a run of letters, of digits or of other symbols, each with at most one leading space; and
whitespace, where a run of spaces gives its last space to the word after it). Special tokens such as
`<|endoftext|>` are cut out first: they are atoms, never pre-tokenized, never merged.

**Safe cuts.** Streaming a large file, or splitting it across processes, means pre-tokenizing pieces of it
separately; the result must equal pre-tokenizing the whole. A cut at position `p` is safe when

* `text[p-1]` is not whitespace and `text[p]` is: no alternative of the regex matches a non-space
  character followed by a space (only `\\s+` matches spaces, and it matches nothing else), so a match
  ends at `p`; the regex has no look-behind, so matching from `p` on sees the same text either way; or
  `p` is the start of a special token, which ends the text segment before it;
* and no occurrence of any special token straddles `p` (so the special-token split is the same too).

Cuts at the right edge of a buffer also keep clear of a special token that the next block might complete.
"""

from __future__ import annotations

import codecs
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import regex

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PRETOKEN_RE = regex.compile(GPT2_PATTERN)

# the last "non-space then space" pair in a buffer, searched from the right
_LAST_WORD_END = regex.compile(r"(?r)\S\s")
# byte-level versions of the same test, restricted to ASCII bytes that are unambiguous in UTF-8
_ASCII_SPACE = frozenset(b" \t\n\r")
_ASCII_GRAPHIC = frozenset(range(0x21, 0x7F))

BLOCK_CHARS = 1 << 16  # characters read per block when streaming a file (64 Ki: findall lists stay small)


class SpecialSplitter:
    """Cuts text at special tokens, longest first (so "<|a|><|a|>" beats "<|a|>" when both are special).

    >>> SpecialSplitter(["<|eot|>"]).split("hi<|eot|>yo")
    ['hi', '<|eot|>', 'yo']

    `split` alternates text (even indices, possibly empty) and special tokens (odd indices).
    """

    def __init__(self, special_tokens: Sequence[str] | None):
        self.tokens = sorted(set(special_tokens or ()), key=len, reverse=True)
        if any(not t for t in self.tokens):
            raise ValueError("a special token cannot be the empty string")
        self.max_len = len(self.tokens[0]) if self.tokens else 0
        self.pattern = regex.compile("(" + "|".join(map(regex.escape, self.tokens)) + ")") if self.tokens else None

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def split(self, text: str) -> list[str]:
        return self.pattern.split(text) if self.pattern is not None else [text]

    def straddles(self, text: str, p: int) -> bool:
        """Does an occurrence of any special token start before `p` and end after it?"""
        return any(text.find(t, max(0, p - len(t) + 1), p + len(t) - 1) != -1 for t in self.tokens)


def pretokenize(text: str) -> list[str]:
    """GPT-2 pre-tokens of `text` (no special-token handling).

    >>> pretokenize("Hello, world!  It's 2024.")
    ['Hello', ',', ' world', '!', ' ', ' It', "'s", ' 2024', '.']
    """
    return PRETOKEN_RE.findall(text)


def safe_cut(buf: str, specials: SpecialSplitter) -> int:
    """The largest `p` such that `buf[:p]` pre-tokenizes the same whatever text follows `buf` (0: none).

    >>> safe_cut("one two thr", SpecialSplitter(None))   # "thr" may continue: cut before " thr"
    7
    """
    # positions q >= hi might be the start of a special token that the next block completes
    hi = len(buf) - 1 if not specials else min(len(buf) - 1, len(buf) - specials.max_len + 1)
    end = hi + 1
    while end > 1:
        m = _LAST_WORD_END.search(buf, 0, end)
        if m is None:
            return 0
        p = m.start() + 1
        if not specials or not specials.straddles(buf, p):
            return p
        end = p
    return 0


def iter_safe_pieces(chunks: Iterable[str], specials: SpecialSplitter, min_chars: int = 1 << 14) -> Iterator[str]:
    """Re-cut a stream of text chunks into pieces that can be pre-tokenized independently.

    >>> list(iter_safe_pieces(["a bc", "d e"], SpecialSplitter(None), min_chars=1))
    ['a', ' bcd', ' e']

    Small chunks (a file's lines) are gathered until `min_chars` characters are waiting, so per-piece costs
    are paid rarely; memory stays at about `min_chars` plus one chunk plus the text since the last safe cut.
    """
    buf, waiting, size = "", [], 0
    for chunk in chunks:
        waiting.append(chunk)
        size += len(chunk)
        if size < min_chars:
            continue
        buf += "".join(waiting)
        waiting, size = [], 0
        p = safe_cut(buf, specials)
        if p:
            yield buf[:p]
            buf = buf[p:]
    buf += "".join(waiting)
    if buf:
        yield buf


def iter_file_text(path: str | os.PathLike, start: int = 0, end: int | None = None,
                   block_chars: int = BLOCK_CHARS) -> Iterator[str]:
    """Decoded UTF-8 text of bytes `[start, end)` of a file, in blocks (newlines kept exactly as stored)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        f.seek(start)
        left = (os.fstat(f.fileno()).st_size if end is None else end) - start
        while left > 0:
            data = f.read(min(block_chars, left))
            if not data:
                break
            left -= len(data)
            yield decoder.decode(data, final=left <= 0)


def count_pretokens_in_range(path: str | os.PathLike, special_tokens: Sequence[str] | None,
                             start: int = 0, end: int | None = None) -> Counter[str]:
    """How often each pre-token occurs in bytes `[start, end)` of a file (special tokens excluded)."""
    specials = SpecialSplitter(special_tokens)
    counts: Counter[str] = Counter()
    findall = PRETOKEN_RE.findall
    for piece in iter_safe_pieces(iter_file_text(path, start, end), specials):
        segments = specials.split(piece)
        for segment in segments[::2]:  # odd indices are the special tokens themselves
            if segment:
                counts.update(findall(segment))
    return counts


def count_pretokens_in_text(text: str, special_tokens: Sequence[str] | None = None) -> Counter[str]:
    """Pre-token counts of an in-memory text, in blocks (the same counts as for a file holding it).

    >>> count_pretokens_in_text("to be or not to be")
    Counter({' be': 2, 'to': 1, ' or': 1, ' not': 1, ' to': 1})
    """
    specials = SpecialSplitter(special_tokens)
    counts: Counter[str] = Counter()
    blocks = (text[i : i + BLOCK_CHARS] for i in range(0, len(text), BLOCK_CHARS))
    for piece in iter_safe_pieces(blocks, specials):
        for segment in specials.split(piece)[::2]:
            if segment:
                counts.update(PRETOKEN_RE.findall(segment))
    return counts


def _is_safe_byte_cut(data: bytes, j: int, tokens: list[bytes]) -> bool:
    """Cutting `data` before byte j is safe (see the module docstring): j starts a special token, or is an
    ASCII space after an ASCII non-space byte; and no special token straddles j."""
    at_special = any(data.startswith(t, j) for t in tokens)
    at_space = data[j] in _ASCII_SPACE and j > 0 and data[j - 1] in _ASCII_GRAPHIC
    return (at_special or at_space) and not any(
        data.find(t, max(0, j - len(t) + 1), j + len(t) - 1) != -1 for t in tokens)


def find_chunk_boundaries(path: str | os.PathLike, n_chunks: int, special_tokens: Sequence[str] | None,
                          window: int = 1 << 16) -> list[int]:
    """Byte offsets `[0, ..., size]` cutting a file into about `n_chunks` independently pre-tokenizable parts.

    From each evenly spaced guess, scan forward to the first safe cut (`_is_safe_byte_cut`). Offsets are
    deduplicated, so a file with few safe cuts gives fewer chunks.
    """
    tokens = [t.encode("utf-8") for t in SpecialSplitter(special_tokens).tokens]
    longest = max(map(len, tokens), default=0)
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as f:
        for i in range(1, n_chunks):
            pos = max(size * i // n_chunks, bounds[-1] + 1)
            cut = None
            while cut is None and pos < size:
                # read from a little before `pos` (to see a token straddling it) to a little past the window
                start = max(0, pos - longest)
                f.seek(start)
                data = f.read(pos - start + window + longest)
                stop = min(len(data) - longest if tokens else len(data), pos - start + window)
                cut = next((start + j for j in range(pos - start, stop) if _is_safe_byte_cut(data, j, tokens)),
                           None)
                pos += window
            if cut is not None and cut < size:
                bounds.append(cut)
    bounds.append(size)
    return sorted(set(bounds))


def _count_chunk(args: tuple[str, list[str], int, int]) -> Counter[str]:
    path, special_tokens, start, end = args
    return count_pretokens_in_range(path, special_tokens, start, end)


def count_pretokens(path: str | os.PathLike, special_tokens: Sequence[str] | None = None,
                    num_processes: int | None = None) -> Counter[str]:
    """Pre-token counts of a whole file, streamed, optionally split across processes.

    `num_processes=None` picks one process per 16 MiB (at most one per CPU): starting processes costs
    more than it saves on small files.
    """
    size = os.path.getsize(path)
    if num_processes is None:
        num_processes = max(1, min(os.cpu_count() or 1, size >> 24))
    if num_processes <= 1:
        return count_pretokens_in_range(path, special_tokens)
    import multiprocessing

    bounds = find_chunk_boundaries(path, num_processes, special_tokens)
    jobs = [(os.fspath(path), list(special_tokens or ()), a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    counts: Counter[str] = Counter()
    with multiprocessing.get_context("fork").Pool(min(num_processes, len(jobs))) as pool:
        for part in pool.imap_unordered(_count_chunk, jobs):
            counts.update(part)
    return counts
