"""Preference data in the formats people publish it in, read as a stream and written back.

Three layouts cover most public preference data:

- **HH-RLHF** (Bai et al. 2022, "Training a Helpful and Harmless Assistant with RLHF", arXiv:2204.05862;
  `Anthropic/hh-rlhf`): each row holds two whole transcripts, `{"chosen": "\\n\\nHuman: …\\n\\nAssistant: …",
  "rejected": "…"}`, that share every turn but the last. The prompt is the shared dialogue up to and including
  the last `"\\n\\nAssistant:"`, the responses are what follows it — the split of the DPO authors' reference
  code and TRL's `extract_anthropic_prompt`, so the response keeps its leading space:

      chosen   = "\\n\\nHuman: Hi\\n\\nAssistant: Hello!"      prompt   = "\\n\\nHuman: Hi\\n\\nAssistant:"
      rejected = "\\n\\nHuman: Hi\\n\\nAssistant: Go away."  ->  chosen   = " Hello!"
                                                             rejected = " Go away."

- **TRL preference** (`prompt`, `chosen`, `rejected`): strings, or TRL's conversational form, lists of
  `{"role", "content"}` messages, rendered here as readable text (`render_messages`). Without a `prompt`
  (TRL's "implicit prompt"), two conversations' shared leading messages are the prompt.
- **KTO / unpaired** (`prompt`, `completion`, `label`; Ethayarajh et al. 2024, arXiv:2402.01306): one
  completion and a thumbs-up or -down. Writing pairs as KTO unpairs them (chosen → True, rejected → False), as
  TRL's `unpair_preference_dataset` does.

Optional fields in any layout: `source` (a string: which subset, annotator pool or model the row came from)
and `votes` (several annotators' labels of a pair: each `true`/`"chosen"` for the chosen completion,
`false`/`"rejected"` for the other).

`iter_records` is a generator over a local `.jsonl`, `.jsonl.gz` or `.json` (JSON lines) file, or over
`hf:NAME[:split]` through `datasets.load_dataset(NAME, split=…, streaming=True)`. A file is read line by
line (memory is one line, whatever the file's size); a malformed line stops with a `ForgeError` that names
`file:line`, what is wrong and how to fix it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studyforge.errors import ForgeError

FORMATS = ("auto", "hh", "trl", "kto")
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"
_FORMAT_HINT = "pass --format hh | trl | kto, or see the layouts in studyforge/experiments/preference/formats.py"


@dataclass(frozen=True, slots=True)
class PreferencePair:
    """One comparison: `chosen` was preferred to `rejected` as a response to `prompt`.

    `votes`: the labels of several annotators where the file has them, True for an annotator who preferred
    `chosen` (the file's label is then usually the majority).
    """

    prompt: str
    chosen: str
    rejected: str
    source: str | None = None
    votes: tuple[bool, ...] | None = None


@dataclass(frozen=True, slots=True)
class UnpairedExample:
    """One completion with a binary judgement (KTO's data): `label` True for desirable."""

    prompt: str
    completion: str
    label: bool
    source: str | None = None


Record = PreferencePair | UnpairedExample


# ---------------------------------------------------------------------------------------------
# Transcripts and messages.

_TURN = re.compile(r"\n\n(Human|Assistant):")


def parse_turns(text: str) -> list[tuple[str, str]]:
    """The turns of an HH-RLHF transcript as (role, text), roles "human" and "assistant".

    `parse_turns("\\n\\nHuman: Hi\\n\\nAssistant: Hello!\\n\\nHuman: Bye")`
    -> `[("human", "Hi"), ("assistant", "Hello!"), ("human", "Bye")]`. Text before the first turn, if any, is
    a ("preamble", text) turn; an open prompt ending in "\\n\\nAssistant:" ends with ("assistant", "").
    """
    parts = _TURN.split(text)  # [before, role, body, role, body, …]
    turns = [("preamble", parts[0].strip())] if parts[0].strip() else []
    turns += [(role.lower(), body.strip()) for role, body in zip(parts[1::2], parts[2::2], strict=True)]
    return turns


def split_transcripts(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(prompt, chosen response, rejected response) of two HH transcripts that share all turns but the last.

    The prompt runs up to and including the last "\\n\\nAssistant:" of `chosen`; when `rejected` does not
    start with it (a few HH rows part earlier), it is cut at the last "\\n\\nAssistant:" the two share.
    Raises ValueError when they share no assistant turn.
    """
    cut = chosen.rfind(ASSISTANT)
    if cut < 0:
        raise ValueError("'chosen' has no '\\n\\nAssistant:' turn")
    prompt = chosen[:cut + len(ASSISTANT)]
    if not rejected.startswith(prompt):
        shared = os.path.commonprefix([chosen, rejected])
        cut = shared.rfind(ASSISTANT)
        if cut < 0:
            raise ValueError("'chosen' and 'rejected' share no '\\n\\nAssistant:' turn")
        prompt = shared[:cut + len(ASSISTANT)]
    return prompt, chosen[len(prompt):], rejected[len(prompt):]


def hh_prompt(prompt: str) -> str:
    """A prompt as an HH transcript that ends open for the assistant.

    `hh_prompt("Hi")` -> `"\\n\\nHuman: Hi\\n\\nAssistant:"`; a prompt that already is one is returned as it is.
    """
    if prompt.startswith(HUMAN) and prompt.endswith(ASSISTANT):
        return prompt
    return f"{HUMAN} {prompt}{ASSISTANT}"


def render_messages(messages: list[dict[str, Any]]) -> str:
    """TRL's conversational messages as readable text, one paragraph per message.

    `render_messages([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])`
    -> `"User: Hi\\n\\nAssistant: Hello"`; a single assistant message (a response) is its content alone.
    """
    if len(messages) == 1 and messages[0].get("role") == "assistant":
        return str(messages[0].get("content", ""))
    return "\n\n".join(f"{str(m.get('role', '?')).capitalize()}: {m.get('content', '')}" for m in messages)


# ---------------------------------------------------------------------------------------------
# Rows -> records. `where` names the row for errors ("data.jsonl:12").


def _text(row: dict, key: str, where: str, layout: str, conversational: bool = False) -> Any:
    if key not in row:
        raise ForgeError(f"{where}: the {layout} row has no {key!r} field (its fields: {', '.join(map(str, row))})",
                         hint=_FORMAT_HINT)
    value = row[key]
    if isinstance(value, str) or (conversational and _is_messages(value)):
        return value
    want = "a string or a list of {role, content} messages" if conversational else "a string"
    raise ForgeError(f"{where}: {key!r} is {type(value).__name__}, not {want}", hint=_FORMAT_HINT)


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value)


def _source(row: dict, where: str) -> str | None:
    source = row.get("source")
    if source is None or isinstance(source, str):
        return source
    raise ForgeError(f"{where}: 'source' is {type(source).__name__}, not a string")


def _votes(row: dict, where: str) -> tuple[bool, ...] | None:
    """`[true, "rejected", 1]` -> `(True, False, True)`: each annotator's label, True for `chosen`."""
    votes = row.get("votes")
    if votes is None:
        return None
    meaning = {True: True, False: False, "chosen": True, "rejected": False}  # 1 == True and 0 == False too
    if not isinstance(votes, list) or any(isinstance(v, (dict, list, float)) or v not in meaning for v in votes):
        raise ForgeError(f"{where}: 'votes' must be a list of true/false or \"chosen\"/\"rejected\", got {votes!r}")
    return tuple(meaning[v] for v in votes)


def _hh_pair(row: dict, where: str) -> PreferencePair:
    chosen, rejected = (_text(row, key, where, "HH-RLHF") for key in ("chosen", "rejected"))
    try:
        prompt, chosen, rejected = split_transcripts(chosen, rejected)
    except ValueError as exc:
        raise ForgeError(f"{where}: not an HH-RLHF transcript pair: {exc}",
                         hint="HH rows hold whole dialogues ('\\n\\nHuman: …\\n\\nAssistant: …'); "
                              "for prompt/chosen/rejected rows pass --format trl") from None
    return PreferencePair(prompt, chosen, rejected, _source(row, where), _votes(row, where))


def _trl_pair(row: dict, where: str) -> PreferencePair:
    chosen, rejected = (_text(row, key, where, "TRL", conversational=True) for key in ("chosen", "rejected"))
    if "prompt" in row:
        prompt = _text(row, "prompt", where, "TRL", conversational=True)
    elif isinstance(chosen, list) and isinstance(rejected, list):  # implicit prompt: the shared messages
        shared = 0
        while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
            shared += 1
        prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
    else:
        raise ForgeError(f"{where}: the TRL row has no 'prompt' field",
                         hint="whole transcripts in 'chosen'/'rejected' are HH-RLHF rows: pass --format hh")
    prompt, chosen, rejected = (render_messages(v) if isinstance(v, list) else v for v in (prompt, chosen, rejected))
    return PreferencePair(prompt, chosen, rejected, _source(row, where), _votes(row, where))


def _kto_example(row: dict, where: str) -> UnpairedExample:
    prompt, completion = (_text(row, key, where, "KTO", conversational=True) for key in ("prompt", "completion"))
    if "label" not in row:
        raise ForgeError(f"{where}: the KTO row has no 'label' field (its fields: {', '.join(map(str, row))})",
                         hint=_FORMAT_HINT)
    label = row["label"]
    if not isinstance(label, bool):
        raise ForgeError(f"{where}: 'label' is {label!r}, not true or false")
    prompt, completion = (render_messages(v) if isinstance(v, list) else v for v in (prompt, completion))
    return UnpairedExample(prompt, completion, label, _source(row, where))


PARSERS: dict[str, Callable[[dict, str], Record]] = {"hh": _hh_pair, "trl": _trl_pair, "kto": _kto_example}


def detect_format(row: dict, where: str) -> str:
    """The layout of a row, from its fields: prompt/completion/label -> "kto"; prompt/chosen/rejected -> "trl";
    chosen/rejected transcripts -> "hh" (or "trl" when they are message lists)."""
    keys = set(row)
    if {"completion", "label"} <= keys:
        return "kto"
    if {"chosen", "rejected"} <= keys:
        return "trl" if "prompt" in keys or isinstance(row["chosen"], list) else "hh"
    raise ForgeError(f"{where}: cannot tell the format from the fields {', '.join(map(str, row)) or '(none)'}: "
                     "HH-RLHF rows have chosen and rejected, TRL rows prompt, chosen and rejected, KTO rows prompt, "
                     "completion and label", hint=_FORMAT_HINT)


# ---------------------------------------------------------------------------------------------
# Reading: rows from a file or from `datasets`, then records.


def iter_records(spec: str | Path, format: str = "auto", split: str = "train", limit: int | None = None,
                 progress: Callable[[int], None] | None = None) -> Iterator[Record]:
    """Records of a local JSON-lines file or of `hf:NAME[:split]`, one at a time.

    `format`: one of `FORMATS`; "auto" decides from the first row's fields. `split`: the `datasets` split
    when `spec` names none. `limit`: stop after this many records. `progress(bytes_read)` is called as a
    file is read (bytes of the file on disk, so compressed bytes for `.gz`), for a progress bar.
    """
    if format not in FORMATS:
        raise ForgeError(f"format {format!r} is not one of {' | '.join(FORMATS)}")
    if limit is not None and limit < 0:
        raise ForgeError(f"limit {limit} is negative")
    spec = str(spec)
    rows = _hf_rows(spec[3:], split) if spec.startswith("hf:") else _file_rows(Path(spec), progress)
    parse = None
    for count, (where, row) in enumerate(rows):
        if limit is not None and count >= limit:
            return
        if not isinstance(row, dict):
            raise ForgeError(f"{where}: a JSON {_json_type(row)} where a row object was expected",
                             hint="a JSON-lines file holds one object per line (a JSON array converts with "
                                  "`jq -c '.[]' FILE > FILE.jsonl`)")
        if parse is None:
            parse = PARSERS[detect_format(row, where) if format == "auto" else format]
        yield parse(row, where)


def file_size(spec: str | Path) -> int | None:
    """Bytes on disk of a local file spec (the total of a progress bar); None for `hf:` specs."""
    spec = str(spec)
    return None if spec.startswith("hf:") else _checked_path(Path(spec)).stat().st_size


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")


def _checked_path(path: Path) -> Path:
    if path.is_dir():
        raise ForgeError(f"{path} is a folder, not a file", hint=f"a dataset folder reads through datasets: hf:{path}")
    if not path.exists():
        raise ForgeError(f"{path}: no such file", hint="give a .jsonl, .jsonl.gz or .json file, or hf:NAME")
    if not path.name.endswith(SUFFIXES):
        raise ForgeError(f"{path}: not a JSON-lines file ({', '.join(SUFFIXES)})",
                         hint="other layouts (parquet, csv, Hub datasets) read through datasets: hf:NAME")
    return path


def _file_rows(path: Path, progress: Callable[[int], None] | None) -> Iterator[tuple[str, Any]]:
    """(\"file:line\", parsed JSON) per non-blank line, reading one line at a time."""
    path = _checked_path(path)
    with open(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw) if path.name.endswith(".gz") else raw
        try:
            for number, line in enumerate(stream, start=1):
                if progress is not None and number % 256 == 0:
                    progress(raw.tell())
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    if line.lstrip().startswith(b"[") and number == 1:  # a pretty-printed JSON array
                        raise ForgeError(f"{where}: the file is one JSON array, not JSON lines",
                                         hint=f"convert it with `jq -c '.[]' {path} > {path.stem}.jsonl`") from None
                    raise ForgeError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})",
                                     hint="each line of a JSON-lines file is one complete JSON object") from None
                except UnicodeDecodeError as exc:
                    raise ForgeError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                                     hint="save the file as UTF-8") from None
                yield where, row
        except (gzip.BadGzipFile, EOFError) as exc:
            raise ForgeError(f"{path}: not a readable gzip file ({exc})",
                             hint="is it compressed? a plain JSON-lines file ends in .jsonl") from None
        if progress is not None:
            progress(raw.tell())


def _hf_rows(name: str, split: str) -> Iterator[tuple[str, Any]]:
    """Rows of a `datasets` dataset (a Hub name or a local dataset folder), streamed: `NAME` or `NAME:split`."""
    if not name:
        raise ForgeError("hf: needs a dataset name, e.g. hf:Anthropic/hh-rlhf or hf:Anthropic/hh-rlhf:test")
    if ":" in name:
        name, split = name.rsplit(":", 1)
    try:
        import datasets
    except ImportError:
        raise ForgeError(f"reading hf:{name} needs the `datasets` package",
                         hint="pip install 'studyforge[hf]' (or pip install datasets)") from None
    try:
        stream = iter(datasets.load_dataset(name, split=split, streaming=True))
        for number, row in enumerate(stream, start=1):
            yield f"hf:{name}:{split} row {number}", row
    except ForgeError:
        raise
    except Exception as exc:  # datasets raises many kinds (not found, offline, bad split): one line for each
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ForgeError(f"hf:{name}:{split}: datasets could not read it: {first}",
                         hint="check the name and split (hf:NAME:split); offline, only local dataset folders "
                              "and the datasets cache can be read") from None


# ---------------------------------------------------------------------------------------------
# Writing.


def to_unpaired(pair: PreferencePair) -> tuple[UnpairedExample, UnpairedExample]:
    """A pair as KTO's two unpaired examples: (prompt, chosen, True) and (prompt, rejected, False)."""
    return (UnpairedExample(pair.prompt, pair.chosen, True, pair.source),
            UnpairedExample(pair.prompt, pair.rejected, False, pair.source))


def to_row(record: Record, format: str) -> list[dict[str, Any]]:
    """The JSON row(s) of one record in `format` ("hh", "trl" or "kto"; a pair in "kto" gives two rows).

    HH: a prompt that is not a transcript is wrapped as one human turn (`hh_prompt`), and a response gets a
    leading space when it has none, so reading the file back gives the transcript's own split.
    """
    extra: dict[str, Any] = {}
    if record.source is not None:
        extra["source"] = record.source
    if isinstance(record, UnpairedExample):
        if format != "kto":
            raise ValueError(f"an unpaired example cannot be written as {format!r}: only as 'kto'")
        return [{"prompt": record.prompt, "completion": record.completion, "label": record.label, **extra}]
    if record.votes is not None:
        extra["votes"] = list(record.votes)
    if format == "kto":
        return [row for example in to_unpaired(record) for row in to_row(example, "kto")]
    if format == "trl":
        return [{"prompt": record.prompt, "chosen": record.chosen, "rejected": record.rejected, **extra}]
    if format == "hh":
        prompt = hh_prompt(record.prompt)
        spaced = [r if not r or r[0].isspace() else " " + r for r in (record.chosen, record.rejected)]
        return [{"chosen": prompt + spaced[0], "rejected": prompt + spaced[1], **extra}]
    raise ValueError(f"format {format!r} is not one of hh | trl | kto")


def write_jsonl(records: Iterable[Record], path: str | Path, format: str = "hh") -> int:
    """Write `records` as JSON lines in `format` (gzip-compressed when `path` ends in .gz); returns the rows.

    Streams (one record in memory at a time) into a temporary file beside `path` that replaces it at the
    end, so a reader never sees half a file. Round trips: a file written in a format reads back as the same
    records in that format.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    rows = 0
    try:
        with open(tmp, "xb") as raw, (gzip.GzipFile(fileobj=raw, mode="wb") if path.name.endswith(".gz")
                                       else raw) as fh:
            for record in records:
                for row in to_row(record, format):
                    fh.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
                    rows += 1
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows
