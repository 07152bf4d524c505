"""`python -m studyforge.cli` is the same as `forge`."""

from studyforge.cli.main import run

run()
