"""Character-level text for the week's small language models.

The corpus is a text file given by path (Tiny Shakespeare's `input.txt` is the intended one: 1.1 M
characters, github.com/karpathy/char-rnn). Without one, an offline fallback is assembled from the
docstrings of a fixed list of Python standard-library modules — English prose with code, about
0.75 MB, the same on every run, available on every machine with no download. Runs record which corpus
they used.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

STDLIB_MODULES = (
    "abc argparse ast asyncio base64 bisect calendar cmd codecs collections concurrent.futures configparser "
    "contextlib copy csv dataclasses datetime decimal difflib doctest email.message enum fractions ftplib "
    "functools getopt gettext glob gzip hashlib heapq hmac html.parser http.client http.server imaplib "
    "importlib inspect io ipaddress itertools json logging mailbox math mimetypes numbers operator optparse "
    "os pathlib pdb pickle pkgutil platform plistlib poplib pprint profile queue random re sched secrets "
    "selectors shelve shlex shutil smtplib socket socketserver sqlite3 ssl statistics string struct "
    "subprocess symtable tarfile tempfile textwrap threading timeit tokenize traceback turtle typing "
    "unittest urllib.parse urllib.request uuid warnings wave weakref xml.dom.minidom zipfile zoneinfo"
).split()


def stdlib_docstring_corpus() -> str:
    """Module, class, function and method docstrings of `STDLIB_MODULES`, in a fixed order, each text once.

    Texts are told apart by their content: `getdoc` returns a new string each call, so telling them apart by
    `id()` let a freed string's id be reused by a later docstring, which was then skipped — the corpus changed
    with whatever the process had done before.
    """
    seen: set[str] = set()
    parts: list[str] = []

    def add(obj) -> None:
        doc = (inspect.getdoc(obj) or "").strip()
        if len(doc) > 40 and doc not in seen:
            seen.add(doc)
            parts.append(doc)

    with warnings.catch_warnings():  # touching deprecated aliases (typing.re, …) warns; we only read docs
        warnings.simplefilter("ignore")
        for name in STDLIB_MODULES:
            try:
                module = importlib.import_module(name)
            except ImportError:  # e.g. a Python built without ssl or sqlite3: skip, the rest is plenty
                continue
            add(module)
            for _, member in sorted(vars(module).items()):
                if getattr(member, "__module__", None) != module.__name__:
                    continue
                if inspect.isclass(member):
                    add(member)
                    for _, method in sorted(vars(member).items()):
                        if inspect.isfunction(method):
                            add(method)
                elif inspect.isfunction(member):
                    add(member)
    return "\n\n".join(parts) + "\n"


def load_text(path: str | None) -> tuple[str, str]:
    """(text, description of its source): the file at `path` if it exists, else the stdlib fallback."""
    if path and Path(path).expanduser().is_file():
        return Path(path).expanduser().read_text(encoding="utf-8"), str(Path(path).expanduser())
    return stdlib_docstring_corpus(), "python-stdlib-docstrings (offline fallback)"


@dataclass
class CharCorpus:
    """A text as character ids, split into a training head and a validation tail."""

    text: str
    source: str
    val_fraction: float = 0.1

    def __post_init__(self):
        self.chars = sorted(set(self.text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        ids = torch.tensor([self.stoi[c] for c in self.text], dtype=torch.long)
        n_val = int(len(ids) * self.val_fraction)
        self.train, self.val = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
        self.sha256 = hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> torch.Tensor:
        return torch.tensor([self.stoi[c] for c in s], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def batch(self, split: str, batch_size: int, length: int, generator: torch.Generator):
        """Random windows (x, y) of `length` tokens, y shifted by one: both (batch_size, length)."""
        data = self.train if split == "train" else self.val
        if len(data) < length + 1:
            raise ValueError(f"the {split} split ({len(data)} chars) is shorter than one window of {length + 1}")
        # a window is length + 1 chars, so starts run 0 … N − length − 1 (randint's upper bound is exclusive)
        starts = torch.randint(0, len(data) - length, (batch_size,), generator=generator)
        x = torch.stack([data[s : s + length] for s in starts.tolist()])
        y = torch.stack([data[s + 1 : s + length + 1] for s in starts.tolist()])
        return x, y

    def windows(self, split: str, length: int, max_windows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Consecutive non-overlapping windows from the start of the split, for evaluation: (n, length)."""
        data = self.train if split == "train" else self.val
        n = min(max_windows, (len(data) - 1) // length)
        if n < 1:
            raise ValueError(f"the {split} split ({len(data)} chars) is shorter than one window of {length}")
        x = data[: n * length].view(n, length)
        y = data[1 : n * length + 1].view(n, length)
        return x, y
