"""Token streams for language modelling: characters or week 2's byte-level BPE, on any text.

The text follows week 3's offline-default rule (`attention.data.load_text`): the file at `corpus_path`
if it exists (Tiny Shakespeare's `input.txt` is the intended one), else a corpus of Python standard-library
docstrings built on the spot, so every study runs without a download; the data records which it used.

The text is split before tokenizing — the first 90 % trains, the last 10 % validates (nanoGPT's split) —
and each part is encoded to one long tensor of ids. Two tokenizers share one small interface
(`encode`, `decode`, `vocab_size`, `to_dict`), and `tokenizer_from_dict` rebuilds either from a
checkpoint:

    CharTokenizer   one id per distinct character, in sorted order (Karpathy's char-rnn / nanoGPT)
    BPETokenizer    week 2's `train_bpe` + `Tokenizer` (Sennrich et al., arXiv:1508.07909), trained on the
                    training split only

Batches are *counter-based*: the windows of step s are drawn from a generator seeded by (seed, s), so
the data position of a run is just its step number — resuming at step s gives the very batches an
uninterrupted run would have seen, and a data-parallel rank r takes rows [r·B/W, (r+1)·B/W) of the
same global batch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from studyforge.experiments.attention.data import load_text


class TextTokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids) -> str: ...
    def to_dict(self) -> dict: ...


class CharTokenizer:
    """Characters as tokens.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.chars, tok.encode("hole"), tok.decode([3, 2, 0])
    (['e', 'h', 'l', 'o'], [1, 3, 2, 0], 'ole')
    """

    kind = "char"

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}")
        return [self.stoi[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_dict(self) -> dict:
        return {"kind": "char", "chars": self.chars}


class BPETokenizer:
    """Week 2's byte-level BPE behind the same interface; any text encodes (no unknown symbols)."""

    kind = "bpe"

    def __init__(self, vocab: dict[int, bytes], merges: list[tuple[bytes, bytes]]):
        from studyforge.experiments.tokenization.bpe import Tokenizer

        self.vocab, self.merges = dict(vocab), list(merges)
        self._tok = Tokenizer(self.vocab, self.merges)

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        from studyforge.experiments.tokenization.bpe import train_bpe

        fd, path = tempfile.mkstemp(suffix=".txt")  # train_bpe streams a file
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            vocab, merges = train_bpe(path, vocab_size, num_processes=1)
        finally:
            Path(path).unlink(missing_ok=True)
        return cls(vocab, merges)

    @property
    def vocab_size(self) -> int:
        return max(self.vocab) + 1

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text)

    def decode(self, ids) -> str:
        return self._tok.decode(int(i) for i in ids)

    def to_dict(self) -> dict:
        return {"kind": "bpe", "vocab": {str(i): b.hex() for i, b in self.vocab.items()},
                "merges": [[a.hex(), b.hex()] for a, b in self.merges]}


def tokenizer_from_dict(d: dict) -> CharTokenizer | BPETokenizer:
    """Rebuild a tokenizer from `to_dict()`'s output (as stored in checkpoints)."""
    if d["kind"] == "char":
        return CharTokenizer(d["chars"])
    if d["kind"] == "bpe":
        vocab = {int(i): bytes.fromhex(h) for i, h in d["vocab"].items()}
        return BPETokenizer(vocab, [(bytes.fromhex(a), bytes.fromhex(b)) for a, b in d["merges"]])
    raise ValueError(f"unknown tokenizer kind {d['kind']!r}")


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """The generator of one step's batch: a function of (seed, step, stream) only, never of history."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 7 + stream)


@dataclass
class TokenData:
    """A tokenized corpus: `train` and `val` id tensors, the tokenizer and where the text came from."""

    train: torch.Tensor  # (N_train,) int64
    val: torch.Tensor  # (N_val,) int64
    tokenizer: CharTokenizer | BPETokenizer
    source: str
    sha256: str = ""
    chars: int = 0

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def split(self, name: str) -> torch.Tensor:
        return self.train if name == "train" else self.val

    def text(self, name: str) -> str:
        """The split decoded back to text (decoded once, then kept: prompts are drawn from it every update)."""
        cache = self.__dict__.setdefault("_texts", {})
        if name not in cache:
            cache[name] = self.tokenizer.decode(self.split(name).tolist())
        return cache[name]

    def batch(self, split: str, batch_size: int, length: int, generator: torch.Generator):
        """Random windows (x, y) of `length` tokens, y = x shifted by one: both (batch_size, length)."""
        data = self.split(split)
        if len(data) < length + 1:
            raise ValueError(f"the {split} split ({len(data)} tokens) is shorter than one window of {length + 1}")
        # a window is length + 1 tokens, so starts run 0 … N − length − 1 (randint's upper bound is exclusive)
        starts = torch.randint(0, len(data) - length, (batch_size,), generator=generator)
        offsets = torch.arange(length + 1)
        windows = data[starts[:, None] + offsets]  # (B, length + 1)
        return windows[:, :-1], windows[:, 1:]

    def step_batch(self, seed: int, step: int, batch_size: int, length: int, rank: int = 0, world: int = 1):
        """Rank `rank`'s share of step `step`'s global batch (batch_size rows in all)."""
        x, y = self.batch("train", batch_size, length, step_generator(seed, step))
        rows = slice(rank * batch_size // world, (rank + 1) * batch_size // world)
        return x[rows], y[rows]

    def tiled_windows(self, split: str, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole split as consecutive non-overlapping windows (x, y), each (n, length): every token is
        predicted once, from contexts of 0 … length − 1 tokens in equal shares — the quantity random windows
        estimate, without their sampling noise (the last < length tokens are left out)."""
        data = self.split(split)
        n = (len(data) - 1) // length
        if n < 1:
            raise ValueError(f"the {split} split ({len(data)} tokens) is shorter than one window of {length + 1}")
        return data[: n * length].view(n, length), data[1 : n * length + 1].view(n, length)

    def eval_windows(self, split: str, n: int, length: int, seed: int = 1234):
        """A fixed set of `n` random windows (x, y), the same for every run that asks with the same seed."""
        return self.batch(split, n, length, torch.Generator().manual_seed(seed))


def load_data(corpus_path: str | None, tokenizer: str = "char", bpe_vocab_size: int = 512,
              val_fraction: float = 0.1, max_chars: int | None = None) -> TokenData:
    """Read the corpus (offline fallback if missing), split it, train the tokenizer on the train part, encode."""
    text, source = load_text(corpus_path)
    if max_chars is not None:
        text = text[:max_chars]
    cut = len(text) - int(len(text) * val_fraction)
    train_text, val_text = text[:cut], text[cut:]
    if tokenizer == "char":
        tok = CharTokenizer.from_text(text)  # nanoGPT: the vocabulary of the whole text
    elif tokenizer == "bpe":
        tok = BPETokenizer.train(train_text, bpe_vocab_size)
    else:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; use char or bpe")
    return TokenData(torch.tensor(tok.encode(train_text), dtype=torch.long),
                     torch.tensor(tok.encode(val_text), dtype=torch.long), tok, source,
                     hashlib.sha256(text.encode()).hexdigest()[:16], len(text))
