"""Text for the week-2 studies: offline by default, real corpora when you have them.

Three domains, each a `Corpus` that records where it came from:

* **English prose**: Python's own reference documentation (`pydoc_data.topics`, about 0.5 MB) and the
  licence texts shipped with the interpreter — on every machine, no download.
* **Python source**: the standard library's `.py` files, in a fixed order.
* **Multilingual text**: whatever `multilingual=` names —
  - `"builtin"` (the default): the only natural-language text in other scripts that Python carries, the
    Chinese, Japanese and Korean samples of its codec tests (`test/cjkencodings`, a few kB each; missing
    where a distribution strips the test suite). Studies say when this is all they had;
  - a folder of `<lang>.txt` files (e.g. lingua-py's `language-testdata/sentences`, ISO 639-1 names);
  - `"lingua"`: those 26 files downloaded once from GitHub and cached;
  - `"hf:<dataset>?split=train&text=text&label=labels"`: a Hugging Face dataset with a language column,
    e.g. `hf:papluca/language-identification` (20 languages); needs the `datasets` package.

Any single text can also come from a path, an `http(s)://` URL (cached under `~/.cache/studyforge/corpora`,
or `$STUDYFORGE_CACHE/corpora`), or `hf:<dataset>` with a text column (e.g. `hf:roneneldan/TinyStories`).
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from studyforge.errors import ForgeError

LINGUA_LANGUAGES = ("en de fr es pt it ru uk el zh ja ko ar he fa hi bn ta th vi tr fi sw yo ka hy").split()
LINGUA_URL = "https://raw.githubusercontent.com/pemistahl/lingua-py/main/language-testdata/sentences/{lang}.txt"
_CJK_SAMPLES = {"zh": ("gb18030-utf8.txt", "gbk-utf8.txt", "big5-utf8.txt"),
                "ja": ("euc_jisx0213-utf8.txt", "shift_jis-utf8.txt"),
                "ko": ("euc_kr-utf8.txt", "johab-utf8.txt")}


@dataclass(frozen=True)
class Corpus:
    """One text of one domain (`english_prose`, `python_source`, `multilingual`) and its provenance."""

    name: str  # "english", "python", or a language code
    domain: str
    text: str
    source: str

    def split(self, every: int = 10) -> tuple[str, str]:
        """(training text, held-out text): every `every`-th non-blank line is held out, so both share the
        same mix (the last line, if there are fewer than `every`).

        >>> Corpus("x", "d", "".join(f"{i}\\n\\n" for i in range(20)), "-").split(every=10)[1]
        '9\\n19\\n'
        """
        lines = [line for line in self.text.splitlines(keepends=True) if line.strip()]
        held_out = set(range(every - 1, len(lines), every)) or {len(lines) - 1}
        held = [line for i, line in enumerate(lines) if i in held_out]
        train = [line for i, line in enumerate(lines) if i not in held_out]
        return "".join(train), "".join(held)

    @property
    def n_bytes(self) -> int:
        return len(self.text.encode("utf-8"))


def _stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _truncate(text: str, max_chars: int | None) -> str:
    """Cut at the last line break before `max_chars` (None: everything)."""
    if max_chars is None or len(text) <= max_chars:
        return text
    cut = text.rfind("\n", 0, max_chars)
    return text[: cut + 1 if cut > 0 else max_chars]


def english_prose(max_chars: int | None = None) -> Corpus:
    """Python's reference documentation topics, then its licence, in a fixed order."""
    parts, sources = [], []
    try:
        from pydoc_data.topics import topics

        parts += [topics[k].strip() for k in sorted(topics)]
        sources.append("pydoc_data.topics")
    except ImportError:  # pragma: no cover - some distributions strip pydoc_data
        pass
    licence = _stdlib() / "LICENSE.txt"
    if licence.exists():
        parts.append(licence.read_text(encoding="utf-8", errors="replace"))
        sources.append(str(licence))
    if not parts:  # pragma: no cover
        parts = [_docstrings(max_chars or 1_000_000)]
        sources = ["standard-library docstrings"]
    text = _truncate("\n\n".join(parts) + "\n", max_chars)
    return Corpus("english", "english_prose", text, "offline: " + " + ".join(sources))


def _docstrings(max_chars: int) -> str:
    import ast

    out, size = [], 0
    for path in _stdlib_sources():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 40:
                    out.append(doc)
                    size += len(doc)
        if size >= max_chars:
            break
    return "\n\n".join(out)


def _stdlib_sources() -> Iterator[Path]:
    skip = {"test", "tests", "idle_test", "site-packages", "lib2to3", "__pycache__", "turtledemo"}
    root = _stdlib()
    for path in sorted(root.rglob("*.py")):
        if not skip.intersection(path.relative_to(root).parts):
            yield path


def python_source(max_chars: int | None = 1_000_000) -> Corpus:
    """Standard-library source files, alphabetically, until `max_chars`."""
    parts, size = [], 0
    for path in _stdlib_sources():
        try:
            code = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parts.append(code)
        size += len(code)
        if max_chars is not None and size >= max_chars:
            break
    return Corpus("python", "python_source", _truncate("".join(parts), max_chars),
                  f"offline: standard-library sources under {_stdlib()}")


def builtin_multilingual(max_chars: int | None = None) -> list[Corpus]:
    """Python's CJK codec test texts (UTF-8 versions), one corpus per language, if the test suite exists."""
    folder = _stdlib() / "test" / "cjkencodings"
    out = []
    for lang, names in _CJK_SAMPLES.items():
        texts = [(folder / n).read_text(encoding="utf-8") for n in names if (folder / n).exists()]
        if texts:
            out.append(Corpus(lang, "multilingual", _truncate("\n".join(texts), max_chars),
                              f"offline: {folder} (Python's codec test texts, tiny)"))
    return out


# -- sources named by the user ------------------------------------------------------------------------------


def cache_dir() -> Path:
    root = os.environ.get("STUDYFORGE_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "studyforge") / "corpora"


def fetch_url(url: str, timeout: float = 30.0) -> Path:
    """Download `url` once; later calls (and offline runs) read the cached copy."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    name = Path(urllib.parse.urlparse(url).path).name or "index"
    target = cache_dir() / f"{digest}-{name}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - user-named URL
            data = response.read()
    except OSError as exc:
        raise ForgeError(f"could not download {url}: {exc}",
                         hint="check the network, or point the study at a local file or folder") from None
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def _hf_rows(spec: str) -> tuple[Iterator[dict], dict[str, str]]:
    parsed = urllib.parse.urlparse(spec.removeprefix("hf:"))
    options = dict(urllib.parse.parse_qsl(parsed.query))
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError:
        raise ForgeError(f"{spec!r} needs the Hugging Face `datasets` package",
                         hint="pip install datasets (and have a network the first time)") from None
    config = options.get("config")
    rows = datasets.load_dataset(parsed.path, config, split=options.get("split", "train"), streaming=True)
    return iter(rows), options


def read_source(spec: str, max_chars: int | None = None) -> tuple[str, str]:
    """(text, provenance) of a path, a URL or `hf:<dataset>?split=...&text=...`."""
    if spec.startswith("hf:"):
        rows, options = _hf_rows(spec)
        field, parts, size = options.get("text", "text"), [], 0
        for row in rows:
            parts.append(str(row[field]))
            size += len(parts[-1]) + 1
            if max_chars is not None and size >= max_chars:
                break
        return _truncate("\n".join(parts) + "\n", max_chars), spec
    if spec.startswith(("http://", "https://", "file://")):
        path = fetch_url(spec)
        return _truncate(path.read_text(encoding="utf-8", errors="replace"), max_chars), f"{spec} (cached at {path})"
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ForgeError(f"no text file at {path}", hint="give a file path, an http(s) URL or hf:<dataset>")
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        text = f.read(max_chars) if max_chars is not None else f.read()
    return _truncate(text, max_chars) if max_chars is not None else text, str(path)


def multilingual(spec: str = "builtin", max_chars: int | None = None,
                 languages: list[str] | None = None) -> list[Corpus]:
    """One corpus per language from `spec` (see the module docstring); `languages` filters by code."""
    wanted = set(languages) if languages else None
    if spec == "builtin":
        out = builtin_multilingual(max_chars)
    elif spec == "lingua":
        out = []
        for lang in LINGUA_LANGUAGES:
            if wanted is None or lang in wanted:
                url = LINGUA_URL.format(lang=lang)
                out.append(Corpus(lang, "multilingual", _truncate(fetch_url(url).read_text(encoding="utf-8"),
                                                                  max_chars), f"{url} (cached)"))
    elif spec.startswith("hf:"):
        rows, options = _hf_rows(spec)
        text_field, label_field = options.get("text", "text"), options.get("label", "labels")
        parts: dict[str, list[str]] = {}
        for row in rows:
            lang = str(row[label_field])
            if wanted is None or lang in wanted:
                bucket = parts.setdefault(lang, [])
                if max_chars is None or sum(map(len, bucket)) < max_chars:
                    bucket.append(str(row[text_field]))
        out = [Corpus(lang, "multilingual", _truncate("\n".join(p) + "\n", max_chars), spec)
               for lang, p in sorted(parts.items())]
    else:
        folder = Path(spec).expanduser()
        if not folder.is_dir():
            raise ForgeError(f"multilingual={spec!r}: not 'builtin', 'lingua', hf:<dataset> or a folder",
                             hint="a folder holds one <language>.txt file per language")
        out = [Corpus(p.stem, "multilingual", read_source(str(p), max_chars)[0], str(p))
               for p in sorted(folder.glob("*.txt"))]
    return [c for c in out if (wanted is None or c.name in wanted) and c.text.strip()]
