"""The drafting tests' workspace: the drafting plan (workspaces.py), week 1's notes and one completed run."""

from __future__ import annotations

import pytest
from workspaces import drafting_workspace

from studyforge.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """A workspace with the mini plan, week 1's notes and one completed run of ppo.cartpole."""
    return drafting_workspace(tmp_path)
