"""The workspaces the drafting, review, status and publishing tests start from, written by hand so that every
number a test expects is known. Shared by tests in several folders (tests/ is on sys.path via conftest.py).

- the drafting plan (`drafting_workspace`): week 1 has two posts and two experiments, ppo.cartpole (one
  completed run, `write_record`, unless `run=False`) and ppo.ablation (never run); week 2 builds on week 1;
- the loop plan (`loop_workspace`): week 1 has one post and one completed run of ppo.cartpole whose final
  return is 487.3; `cells`, `draft_with` and `edit` drive the draft → review → publish loop on it;
- `make_draft`, `write_record`, `bad_record`: a draft with checks, a run record, an unreadable run record.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.drafting.checks import CheckProblem, Checks
from studyforge.drafting.drafts import DraftMeta, write_new_draft
from studyforge.drafting.pipeline import DraftOptions, run_draft
from studyforge.testing import FakeClient
from studyforge.tracking.io import write_json_atomic
from studyforge.tracking.records import Artifact, RunRecord, record_dir
from studyforge.workspace import Workspace

runner = CliRunner()


def forge(ws: Workspace, *args: str):
    return runner.invoke(app, ["-C", str(ws.root), *args])


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- the drafting plan ----------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16

DRAFTING_PLAN = """\
version: 1
title: Mini plan
editions:
  - {id: scientist, name: Scientist edition, audience: researchers}
  - {id: manager, name: Manager edition, audience: non-technical readers}
schedule:
  start_date: 2026-11-30
phases:
  - {id: 1, title: Foundations, weeks: [1, 2]}
weeks:
  - week: 1
    phase: 1
    title: Policy gradients
    topics: [The policy gradient theorem, {title: PPO, subtopics: [Clipping]}]
    core_papers:
      - {title: Proximal Policy Optimization Algorithms, authors: Schulman et al., year: 2017, arxiv: "1707.06347"}
      - {title: "Reinforcement Learning: An Introduction", authors: Sutton & Barto, year: 2018}
    experiments:
      - {id: ppo.cartpole, title: PPO on CartPole, description: trains PPO, tracks: returns}
      - {id: ppo.ablation, title: Clipping ablation, description: not run yet, tracks: returns}
    wandb: "returns"
    posts:
      - {slug: ppo-explained, title: PPO Explained, kind: primary, notes_for_agent: Explain clipping.}
      - {slug: ppo-in-practice, title: null, kind: connection, notes_for_agent: Compare with REINFORCE.}
  - week: 2
    phase: 1
    title: Later week
    topics: [More]
    experiments:
      - {id: later.study, title: Later, description: later, tracks: x}
    wandb: "x"
    posts:
      - {slug: later-post, title: Later Post, kind: primary, notes_for_agent: Build on week 1., builds_on: [1]}
"""

NOTES = """\
---
week: 1
title: Policy gradients
---

# Week 1: Policy gradients

## Study topics

### The policy gradient theorem

The gradient of the return is the expected score function times the return; the derivation uses the
log-derivative trick. I checked it against a 2-armed bandit by hand.

### Code

My implementation computes the clipped objective with torch.clamp in one vectorised line.

<!-- In your own words: what is it? -->
"""

SUMMARY = {"final_return": 487.3, "success_rate": 0.7389,
           "cartpole": {"solved_at_step": 40000, "returns": list(range(64))}}
STATS = {"final_return": {"mean": 487.3, "std": 7.3, "ci95": 9.1, "n": 3, "values": [480.0, 487.0, 494.9]}}

OLD = "20261130-100000-s0-abcd"  # write_record's run: a valid completed run
NEW = "20261201-090000-s0-beef"  # newer: the one a bad record or a quick run would shadow


def drafting_workspace(root: Path, *, run: bool = True) -> Workspace:
    """The drafting plan, week 1's notes and, unless `run` is false, one completed run of ppo.cartpole."""
    (root / "curriculum.yaml").write_text(DRAFTING_PLAN)
    (root / "notes").mkdir()
    (root / "notes" / "week01.md").write_text(NOTES)
    workspace = Workspace(root)
    if run:
        write_record(workspace)
    return workspace


def write_record(ws: Workspace, experiment: str = "ppo.cartpole", summary: dict | None = None,
                 stats: dict | None = None, status: str = "completed", run_id: str = "20261130-100000-s0-abcd",
                 week: int = 1, preset: str = "default", started: dt.datetime | None = None) -> RunRecord:
    """A run record folder written by hand: run.json, summary.json, stats.json, one figure and one table."""
    folder = record_dir(ws.runs_dir, week, experiment, run_id)
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "returns.png").write_bytes(PNG)
    (folder / "tables").mkdir()
    (folder / "tables" / "by_seed.csv").write_text("seed,final_return\n0,480.0\n1,487.0\n2,494.9\n")
    record = RunRecord(run_id=run_id, experiment=experiment, week=week, preset=preset, seeds=[0, 1, 2],
                       config={"steps": 40000, "clip": 0.2}, status=status,
                       started=started or dt.datetime(2026, 11, 30, 10, 0, 0),
                       figures=[Artifact(name="returns", path="figures/returns.png",
                                         caption="Episodic return over 40000 steps, 3 seeds.", seed=0)],
                       tables=[Artifact(name="by_seed", path="tables/by_seed.csv", caption="Final return per seed.",
                                        seed=0)])
    record.save(folder)
    write_json_atomic(folder / "summary.json", SUMMARY if summary is None else summary)
    if stats is not False:
        write_json_atomic(folder / "stats.json", {"stats": STATS if stats is None else stats})
    record.path = folder
    return record


def bad_record(ws: Workspace, run_id: str, text: str, week: int = 1, experiment: str = "ppo.cartpole"):
    """A run record folder whose run.json is `text` (see TRUNCATED, NOT_A_RECORD)."""
    folder = record_dir(ws.runs_dir, week, experiment, run_id)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(text)
    return folder


TRUNCATED = '{"run_id": "20261201-090000-s0-beef", "experiment": "ppo.cartpole", "week": 1, "pre'
NOT_A_RECORD = '{"run_id": "20261201-090000-s0-beef", "week": "one"}'


def make_draft(ws: Workspace, week: int, post: str, edition: str, body: str = "Some text.\n", *,
           status: str = "draft", unresolved: int = 0, resolved: int = 0) -> Path:
    """A draft of `post` with `unresolved` unresolved number problems and `resolved` resolved figure ones."""
    problems = [CheckProblem(kind="number", line=3 + i, text=f"{70 + i}.9%", message="matches no fact")
                for i in range(unresolved)]
    problems += [CheckProblem(kind="figure", line=9, text="x.png", message="missing", resolved=True)] * resolved
    meta = DraftMeta(title=f"Title of {post}", week=week, post=post, edition=edition, status=status,
                     created=dt.datetime(2026, 12, 1, 9, 0), body_hash="-", checks=Checks(problems=problems))
    return write_new_draft(ws.drafts_dir, ws.forge_dir, meta, body).path


# -- the loop plan -------------------------------------------------------------------------------------

LOOP_PLAN = """\
version: 1
title: Loop plan
editions:
  - {id: scientist, name: Scientist edition, audience: researchers}
  - {id: manager, name: Manager edition, audience: non-technical readers}
schedule:
  start_date: 2026-11-30
phases:
  - {id: 1, title: Foundations, weeks: [1, 2]}
weeks:
  - week: 1
    phase: 1
    title: Policy gradients
    topics: [Clipping]
    core_papers:
      - {title: Proximal Policy Optimization Algorithms, authors: Schulman et al., year: 2017, arxiv: "1707.06347"}
    experiments:
      - {id: ppo.cartpole, title: PPO on CartPole, description: trains PPO, tracks: returns}
    wandb: "returns"
    posts:
      - {slug: ppo-explained, title: PPO Explained, kind: primary, notes_for_agent: Explain clipping.}
  - week: 2
    phase: 1
    title: Later week
    topics: [More]
    experiments:
      - {id: later.study, title: Later, description: later, tracks: x}
    wandb: "x"
    posts:
      - {slug: later-post, title: Later Post, kind: primary, notes_for_agent: Build on week 1., builds_on: [1]}
"""

THURSDAY = "2026-12-03"  # week 1's review day


def loop_workspace(root: Path) -> Workspace:
    """The loop plan and one completed (default-preset) run of ppo.cartpole whose final return is 487.3."""
    (root / "curriculum.yaml").write_text(LOOP_PLAN)
    workspace = Workspace(root)
    run_id = "20261130-100000-s0-abcd"
    folder = record_dir(workspace.runs_dir, 1, "ppo.cartpole", run_id)
    folder.mkdir(parents=True)
    RunRecord(run_id=run_id, experiment="ppo.cartpole", week=1, preset="default", seeds=[0], config={},
              status="completed", started=dt.datetime(2026, 11, 30, 10)).save(folder)
    write_json_atomic(folder / "summary.json", {"final_return": 487.3})
    return workspace


def cells(ws: Workspace) -> dict[str, dict]:
    """`forge status --json`'s cells of week 1's post, by edition."""
    result = forge(ws, "status", "--json", "--today", THURSDAY)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["weeks"][0]["posts"][0]["editions"]


def draft_with(ws: Workspace, edition: str, text: str, *, force: bool = False):
    (outcome,) = run_draft(ws, DraftOptions(week=1, post="1", edition=edition, force=force), FakeClient([text]))
    return outcome


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
