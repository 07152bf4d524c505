"""Week 9's preference-data formats (`experiments/preference/formats.py`): HH-RLHF transcripts split by hand,
TRL (strings and conversations) and KTO rows, every format round-tripping writer -> reader, `hf:` through
`datasets` on a local folder, malformed lines located to file:line, and reading that streams."""

from __future__ import annotations

import gzip
import json
import sys
import tracemalloc

import pytest

from studyforge.errors import ForgeError
from studyforge.experiments.preference import formats
from studyforge.experiments.preference.formats import (
    PreferencePair,
    UnpairedExample,
    iter_records,
    parse_turns,
    split_transcripts,
    write_jsonl,
)

# A two-turn HH-RLHF row, written by hand: the transcripts share everything up to the last assistant turn.
HH_CHOSEN = ("\n\nHuman: What is the capital of France?\n\nAssistant: Paris.\n\nHuman: And of Italy?"
             "\n\nAssistant: Rome is the capital of Italy.")
HH_REJECTED = ("\n\nHuman: What is the capital of France?\n\nAssistant: Paris.\n\nHuman: And of Italy?"
               "\n\nAssistant: I don't know.")
HH_PROMPT = "\n\nHuman: What is the capital of France?\n\nAssistant: Paris.\n\nHuman: And of Italy?\n\nAssistant:"


def write_lines(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_parse_turns_reads_a_hand_written_transcript():
    assert parse_turns(HH_CHOSEN) == [("human", "What is the capital of France?"), ("assistant", "Paris."),
                                      ("human", "And of Italy?"), ("assistant", "Rome is the capital of Italy.")]
    assert parse_turns(HH_PROMPT)[-1] == ("assistant", "")
    assert parse_turns("Note.\n\nHuman: hi") == [("preamble", "Note."), ("human", "hi")]


def test_hh_transcripts_split_into_the_shared_dialogue_and_the_last_responses():
    assert split_transcripts(HH_CHOSEN, HH_REJECTED) == (HH_PROMPT, " Rome is the capital of Italy.",
                                                         " I don't know.")
    # transcripts that part before the last assistant turn of `chosen` are cut where they still agree
    early = "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Bye\n\nAssistant: Bye!"
    other = "\n\nHuman: Hi\n\nAssistant: Go away."
    assert split_transcripts(early, other) == ("\n\nHuman: Hi\n\nAssistant:", " Hello.\n\nHuman: Bye\n\nAssistant: Bye!",
                                               " Go away.")
    with pytest.raises(ValueError, match="no '\\\\n\\\\nAssistant:' turn"):
        split_transcripts("\n\nHuman: only a question", "\n\nHuman: only a question")


def test_an_hh_file_reads_as_pairs_with_source_and_votes(tmp_path):
    path = tmp_path / "hh.jsonl"
    write_lines(path, [{"chosen": HH_CHOSEN, "rejected": HH_REJECTED, "source": "helpful-base",
                        "votes": [True, "chosen", False]}, "", {"chosen": HH_CHOSEN, "rejected": HH_REJECTED}])
    first, second = iter_records(path)  # auto-detected: chosen/rejected transcripts; the blank line is skipped
    assert first == PreferencePair(HH_PROMPT, " Rome is the capital of Italy.", " I don't know.", "helpful-base",
                                   (True, True, False))
    assert second.source is None and second.votes is None


def test_trl_rows_as_strings_and_as_conversations(tmp_path):
    path = tmp_path / "trl.jsonl"
    write_lines(path, [
        {"prompt": "Sky colour?", "chosen": "Blue.", "rejected": "Green."},
        {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky colour?"}],
         "chosen": [{"role": "assistant", "content": "Blue."}], "rejected": [{"role": "assistant", "content": "Green."}]},
    ])
    assert list(iter_records(path)) == [
        PreferencePair("Sky colour?", "Blue.", "Green."),
        PreferencePair("System: Be brief.\n\nUser: Sky colour?", "Blue.", "Green."),
    ]
    # TRL's implicit prompt: whole conversations in chosen/rejected, the shared messages are the prompt
    implicit = tmp_path / "implicit.jsonl"
    user = {"role": "user", "content": "Hi"}
    write_lines(implicit, [{"chosen": [user, {"role": "assistant", "content": "Hello."}],
                            "rejected": [user, {"role": "assistant", "content": "What?"}]}])
    assert list(iter_records(implicit)) == [PreferencePair("User: Hi", "Hello.", "What?")]


def test_kto_rows_are_unpaired_examples(tmp_path):
    path = tmp_path / "kto.jsonl"
    write_lines(path, [{"prompt": "2+2?", "completion": "4", "label": True},
                       {"prompt": "2+2?", "completion": "5", "label": False, "source": "math"}])
    assert list(iter_records(path)) == [UnpairedExample("2+2?", "4", True), UnpairedExample("2+2?", "5", False, "math")]


PAIRS = [PreferencePair(HH_PROMPT, " Rome is the capital of Italy.", " I don't know.", "a", (True, False, True)),
         PreferencePair("\n\nHuman: Naïve café?\n\nAssistant:", " Oui — «ça va».", " No.", None, None)]


@pytest.mark.parametrize("name", ["pairs.jsonl", "pairs.jsonl.gz", "pairs.json"])
@pytest.mark.parametrize("layout", ["hh", "trl"])
def test_pairs_round_trip_through_writer_and_reader(tmp_path, layout, name):
    path = tmp_path / name
    assert write_jsonl(PAIRS, path, format=layout) == 2
    assert list(iter_records(path)) == PAIRS  # auto-detection finds the layout it was written in
    assert list(iter_records(path, format=layout)) == PAIRS
    if name.endswith(".gz"):
        assert gzip.decompress(path.read_bytes()).count(b"\n") == 2
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left beside it


def test_kto_round_trips_and_pairs_unpair_into_it(tmp_path):
    examples = [UnpairedExample("q", "good", True, "s"), UnpairedExample("q", "bad", False)]
    write_jsonl(examples, tmp_path / "kto.jsonl", format="kto")
    assert list(iter_records(tmp_path / "kto.jsonl")) == examples
    write_jsonl([PreferencePair("q", "good", "bad", "s")], tmp_path / "unpaired.jsonl", format="kto")
    assert list(iter_records(tmp_path / "unpaired.jsonl")) == [UnpairedExample("q", "good", True, "s"),
                                                               UnpairedExample("q", "bad", False, "s")]


def test_a_plain_prompt_written_as_hh_becomes_one_human_turn(tmp_path):
    write_jsonl([PreferencePair("Hi", "Hello.", "Go away.")], tmp_path / "hh.jsonl", format="hh")
    row = json.loads((tmp_path / "hh.jsonl").read_text())
    assert row == {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello.", "rejected": "\n\nHuman: Hi\n\nAssistant: Go away."}
    assert list(iter_records(tmp_path / "hh.jsonl")) == [PreferencePair("\n\nHuman: Hi\n\nAssistant:", " Hello.",
                                                                        " Go away.")]


def test_limit_stops_early(tmp_path):
    write_jsonl(PAIRS * 5, tmp_path / "p.jsonl", format="trl")
    assert len(list(iter_records(tmp_path / "p.jsonl", limit=3))) == 3


# -- hf: through datasets, offline, on a local dataset folder ------------------------------------------------


def test_hf_spec_reads_a_local_dataset_folder_through_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    folder = tmp_path / "mydata"
    folder.mkdir()
    write_jsonl(PAIRS, folder / "train.jsonl", format="hh")
    write_jsonl(PAIRS[:1], folder / "test.jsonl", format="hh")
    assert list(iter_records(f"hf:{folder}")) == PAIRS
    assert list(iter_records(f"hf:{folder}:test")) == PAIRS[:1]
    assert list(iter_records(f"hf:{folder}", split="test")) == PAIRS[:1]


def test_hf_spec_without_datasets_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now raises ImportError
    with pytest.raises(ForgeError) as err:
        list(iter_records("hf:Anthropic/hh-rlhf"))
    assert "needs the `datasets` package" in str(err.value) and "pip install 'studyforge[hf]'" in str(err.value)


def test_hf_spec_that_cannot_be_read_is_one_forge_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(ForgeError) as err:
        list(iter_records(f"hf:{tmp_path / 'missing'}"))
    assert str(err.value).startswith(f"hf:{tmp_path / 'missing'}:train: datasets could not read it")
    assert "\n" not in str(err.value)


# -- malformed input: one ForgeError naming file:line ----------------------------------------------------------


@pytest.mark.parametrize("line, says", [
    ('{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b", "rejected": ', "not valid JSON (Expecting value, column"),
    ('["a", "b"]', "a JSON array where a row object was expected"),
    ('{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b"}', "the HH-RLHF row has no 'rejected' field"),
    ('{"chosen": "just text", "rejected": "other text"}', "not an HH-RLHF transcript pair"),
    ('{"chosen": 3, "rejected": "x"}', "'chosen' is int, not a string"),
    ('{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b", "rejected": "\\n\\nHuman: a\\n\\nAssistant: c", "votes": [2]}',
     "'votes' must be a list of true/false"),
])
def test_a_malformed_line_names_file_and_line(tmp_path, line, says):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"chosen": HH_CHOSEN, "rejected": HH_REJECTED})
    path.write_text(f"{good}\n\n{line}\n{good}\n")
    with pytest.raises(ForgeError) as err:
        list(iter_records(path, format="hh"))
    message = str(err.value)
    assert message.startswith(f"{path}:3: ") and says in message, message
    assert "\n" not in message


@pytest.mark.parametrize("name, content, says", [
    ("missing.jsonl", None, "no such file"),
    ("data.csv", "a,b\n", "not a JSON-lines file"),
    ("odd.jsonl", '{"question": "?", "answer": "!"}\n', "cannot tell the format from the fields question, answer"),
    ("broken.jsonl.gz", "not gzip", "not a readable gzip file"),
    ("array.json", '[\n  {"prompt": "q", "chosen": "a", "rejected": "b"}\n]\n', "array.json:1: the file is one JSON array"),
])
def test_bad_files_are_forge_errors(tmp_path, name, content, says):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(ForgeError, match=says):
        list(iter_records(tmp_path / name))


def test_a_folder_points_at_hf(tmp_path):
    with pytest.raises(ForgeError, match=f"hf:{tmp_path}"):
        list(iter_records(tmp_path))


def test_unknown_format_is_refused():
    with pytest.raises(ForgeError, match="format 'csv' is not one of auto | hh | trl | kto"):
        list(iter_records("x.jsonl", format="csv"))


# -- streaming -------------------------------------------------------------------------------------------------


def test_reading_streams_a_20_mb_file_in_bounded_memory(tmp_path):
    """tracemalloc's peak while reading a ~20 MB file stays under 1 MB: one line at a time, never the file."""
    path = tmp_path / "big.jsonl"
    row = json.dumps({"chosen": HH_CHOSEN + " x" * 400, "rejected": HH_REJECTED}) + "\n"
    with open(path, "w") as fh:
        for _ in range(20_000_000 // len(row) + 1):
            fh.write(row)
    assert path.stat().st_size > 20_000_000
    seen = []
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_records(path, progress=seen.append))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000_000 // len(row) + 1
    assert peak < 1_000_000, f"peak {peak / 1e6:.1f} MB while reading a {path.stat().st_size / 1e6:.0f} MB file"
    assert seen[-1] == path.stat().st_size and seen == sorted(seen)  # the progress callback counts the bytes read


def test_iter_records_is_lazy(tmp_path):
    """Nothing is read before the first record is asked for, and a bad line late in the file is met only there."""
    path = tmp_path / "late.jsonl"
    write_lines(path, [{"prompt": "q", "chosen": "a", "rejected": "b"}, "{oops"])
    records = iter_records(path)
    path.unlink()  # a generator that had read the file already would not notice
    with pytest.raises(ForgeError, match="no such file"):
        next(records)
    write_lines(path, [{"prompt": "q", "chosen": "a", "rejected": "b"}, "{oops"])
    records = iter_records(path)
    assert next(records) == PreferencePair("q", "a", "b")
    with pytest.raises(ForgeError, match=":2: not valid JSON"):
        next(records)


def test_file_size_is_the_progress_total(tmp_path):
    path = tmp_path / "p.jsonl"
    write_jsonl(PAIRS, path, format="trl")
    assert formats.file_size(path) == path.stat().st_size and formats.file_size("hf:x") is None
