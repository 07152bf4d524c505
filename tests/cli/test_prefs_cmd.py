"""`forge prefs inspect` (`cli/prefs_cmd.py`): `--json` is the library's report field for field, the table shows
its figures, per-source rows appear when rows name a source, and bad input is one red line with exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.console import out
from studyforge.experiments.preference.formats import PreferencePair, iter_records, write_jsonl
from studyforge.experiments.preference.quality import inspect_preferences

runner = CliRunner()


def pairs(n: int, source: str | None = None) -> list[PreferencePair]:
    return [PreferencePair(f"Question number {i} about topic {i % 7}?", f"A long, careful answer {i} " * (2 + i % 3),
                           f"Short answer {i}.", source) for i in range(n)]


@pytest.fixture
def hh_file(tmp_path):
    records = pairs(40)
    records += records[:3]  # three exact duplicates
    path = tmp_path / "prefs.jsonl"
    write_jsonl(records, path, format="hh")
    return path


def test_json_is_the_librarys_report(hh_file):
    result = runner.invoke(app, ["prefs", "inspect", str(hh_file), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == inspect_preferences(iter_records(hh_file)).model_dump(mode="json")
    assert printed["records"] == 43 and printed["duplicates"]["exact"] == 3
    assert printed["length_bias"]["chosen_longer"] == 1.0


def test_the_table_shows_the_figures(hh_file, monkeypatch):
    monkeypatch.setattr(out.console, "width", 160)
    result = runner.invoke(app, ["prefs", "inspect", str(hh_file)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("records" in line and "43 pairs" in line for line in lines)
    assert any("exact duplicates" in line and "3 (7.0%)" in line for line in lines)
    assert any("chosen is longer" in line and "100.0%" in line for line in lines)
    assert "Per source" not in result.output  # no row names a source


def test_limit_and_format_reach_the_reader(hh_file):
    result = runner.invoke(app, ["prefs", "inspect", str(hh_file), "-n", "10", "-f", "hh", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["records"] == 10


def test_sources_get_their_own_table(tmp_path, monkeypatch):
    monkeypatch.setattr(out.console, "width", 160)
    path = tmp_path / "trl.jsonl"
    write_jsonl(pairs(20, "helpful") + pairs(10, "harmless"), path, format="trl")
    result = runner.invoke(app, ["prefs", "inspect", str(path)])
    assert result.exit_code == 0, result.output
    table = result.output.split("Per source")[1]
    assert any("helpful" in line and "20" in line for line in table.splitlines())
    assert any("harmless" in line and "10" in line for line in table.splitlines())


def test_hf_spec_through_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    (tmp_path / "local").mkdir()
    write_jsonl(pairs(12), tmp_path / "local" / "train.jsonl", format="trl")
    result = runner.invoke(app, ["prefs", "inspect", f"hf:{tmp_path / 'local'}", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["records"] == 12


@pytest.mark.parametrize("args, says", [
    (["missing.jsonl"], "missing.jsonl: no such file"),
    (["{file}", "--format", "csv"], "--format 'csv' is not one of auto | hh | trl | kto"),
    (["{bad}"], "bad.jsonl:2: not valid JSON"),
    (["{file}", "--limit", "-1"], "--limit -1 is negative"),
])
def test_bad_input_is_one_red_line_and_exit_2(hh_file, args, says):
    bad = hh_file.with_name("bad.jsonl")
    bad.write_text(hh_file.read_text().splitlines()[0] + "\n{not json\n")
    args = [a.format(file=hh_file, bad=bad) for a in args]
    result = runner.invoke(app, ["prefs", "inspect", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], result.output
    assert "Traceback" not in result.output


def test_prefs_alone_prints_its_help():
    result = runner.invoke(app, ["prefs"])
    assert result.exit_code == 0, result.output
    assert "inspect" in result.output and "Usage: forge prefs" in result.output
