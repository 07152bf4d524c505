"""The corpus of the week-3 language-model studies (`length_extrapolation`, `pattern_analysis`).

They read `corpus_path` (Tiny Shakespeare's `input.txt` is the intended one; the default looks for it at
`data/tinyshakespeare.txt` in the workspace). If the file is not there they fall back to an offline corpus
built from Python standard-library docstrings (`data.py`), and the summary says which one was used
(`corpus.source`).
"""

from __future__ import annotations

from pydantic import Field

CORPUS_FIELD = Field("data/tinyshakespeare.txt",
                     description="text file to train on (char-level); if missing, an offline corpus of Python "
                                 "standard-library docstrings is used instead")


def load_corpus(path: str | None):
    """The character corpus of `path` (or the offline fallback) as a `data.CharCorpus`."""
    from studyforge.experiments.attention.data import CharCorpus, load_text

    text, source = load_text(path)
    return CharCorpus(text, source)


def corpus_summary(corpus) -> dict:
    """Where the text came from, its size, vocabulary and hash: the summary's `corpus`."""
    return {"source": corpus.source, "chars": len(corpus.text), "vocab_size": corpus.vocab_size,
            "sha256_16": corpus.sha256}
