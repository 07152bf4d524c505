"""The `forge` app (`cli/main.py`): its version, and shell completion through the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from studyforge.cli.main import app

runner = CliRunner()


def test_version_and_shell_completion(tmp_path):
    assert runner.invoke(app, ["--version"]).output.strip() == "forge (studyforge) 0.1.0"
    assert "--install-completion" in runner.invoke(app, ["--help"]).output
    forge = Path(sys.executable).parent / "forge"
    if not forge.exists():
        pytest.skip("the forge console script is not installed")
    env = {**os.environ, "_FORGE_COMPLETE": "complete_bash", "COMP_WORDS": "forge pu", "COMP_CWORD": "1"}
    completed = subprocess.run([str(forge)], env=env, capture_output=True, text=True, timeout=30)
    assert completed.stdout.split() == ["pull", "publish"]
