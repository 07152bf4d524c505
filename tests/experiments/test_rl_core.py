"""The RL core (`studyforge.experiments.rl`) and the layout around it: one home for what the RL weeks share."""

from __future__ import annotations

import ast
import doctest
import json
from pathlib import Path

import numpy as np
import torch

import studyforge
from studyforge.experiments import keys
from studyforge.experiments.policy_gradient import reinforce
from studyforge.experiments.rl.curves import on_grid, step_grid
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.tracking.context import RunContext

PACKAGE = Path(studyforge.__file__).parent
EXPERIMENTS = PACKAGE / "experiments"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import statement in a file, function-level ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def _module_level_functions(root: Path) -> dict[str, list[str]]:
    """{function name: [files defining it at module level]} under `root`."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                found.setdefault(node.name, []).append(str(path.relative_to(PACKAGE)))
    return found


def test_the_rl_core_imports_no_algorithm_package():
    modules = sorted(p.stem for p in (EXPERIMENTS / "rl").glob("*.py"))
    assert {"envs", "episodes", "evaluation", "training", "curves", "plots", "jobs"} <= set(modules)
    allowed = ("studyforge.experiments.rl", "studyforge.experiments.keys", "studyforge.errors",
               "studyforge.tracking")
    for path in (EXPERIMENTS / "rl").glob("*.py"):
        for module, _ in _imports(path):
            if module.startswith("studyforge"):
                assert module.startswith(allowed), f"{path.name} imports {module}"


def test_each_shared_helper_is_defined_once():
    defined = _module_level_functions(PACKAGE)
    for name in ("env_key", "num_key", "gamma_key", "seed_everything", "step_grid", "run_jobs", "log_result",
                 "single_thread"):
        assert len(defined.get(name, [])) == 1, f"{name} defined in {defined.get(name)}"
    # the second copies that went: value_based/runs.py's runner, the studies' own grid and run helpers
    gone = _module_level_functions(EXPERIMENTS)
    for name in ("seed_all", "run_calls", "run_call", "_grid", "_run", "_curve"):
        assert name not in gone, f"{name} still defined in {gone[name]}"


def test_no_topic_reaches_into_another_topics_private_names():
    """A topic may use another topic's public modules; a private name (`_autocast`) is that module's own."""
    topics = [p for p in EXPERIMENTS.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    for topic in topics:
        for path in topic.rglob("*.py"):
            for module, names in _imports(path):
                parts = module.split(".")
                if parts[:2] == ["studyforge", "experiments"] and len(parts) > 2 and parts[2] != topic.name:
                    private = [n for n in names if n.startswith("_")]
                    assert not private, f"{path.relative_to(PACKAGE)} imports {private} from {module}"


def test_summary_keys_known_answers():
    assert keys.env_key("CartPole-v1") == "cartpole_v1"
    assert keys.env_key("ALE/Breakout-v5") == "ale_breakout_v5"
    assert keys.num_key(0.2) == "0_2" and keys.num_key(1e-4) == "0_0001" and keys.num_key(-1) == "m1"
    assert keys.gamma_key(0.999) == "gamma0_999"
    assert doctest.testmod(keys).failed == 0


def test_step_grid_and_a_runs_curve_on_it():
    assert step_grid(2_000, 4).tolist() == [500, 1000, 1500, 2000]
    assert step_grid(10, 3).dtype == np.int64
    result = reinforce.train("CartPole-v1", reinforce.ReinforceConfig(episodes_per_batch=2), total_steps=100,
                             seed=0)
    grid = step_grid(result.env_steps, 5)
    assert np.array_equal(result.curve(grid, 3), on_grid(result.episode_steps, result.episode_returns, grid, 3),
                          equal_nan=True)


def _train_jobs() -> list[Job]:
    cfg = reinforce.ReinforceConfig(episodes_per_batch=2)
    return [Job(("CartPole-v1", "reinforce", f"s{s}"), reinforce.train, "CartPole-v1", cfg, 150, s,
                eval_episodes=2) for s in (3, 4)]


def test_run_jobs_gives_the_same_runs_with_one_or_two_worker_processes(tmp_path):
    """Runs are seeded and single-threaded: two spawned workers reproduce the in-process results bit for bit,
    returned in the jobs' order, each replayed into the run's metrics under its key."""
    events = []
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = run_jobs(RunContext(out_dir=tmp_path / "one", config=None, seed=0,
                              reporter=lambda *e: events.append(e[0])), _train_jobs(), workers=1, every=64)
    two = run_jobs(RunContext(out_dir=tmp_path / "two", config=None, seed=0), _train_jobs(), workers=2, every=64)
    assert list(one) == list(two) == [job.key for job in _train_jobs()]
    for key in one:
        a, b = one[key], two[key]
        assert np.array_equal(a.episode_returns, b.episode_returns) and a.env_steps == b.env_steps
        assert all(torch.equal(x, y) for x, y in zip(a.agent.state_dict().values(), b.agent.state_dict().values(),
                                                     strict=True))
        assert a.extras["eval"] == b.extras["eval"] and a.extras["eval"]["greedy"]["episodes"] == 2
        assert next(a.agent.parameters()).device.type == "cpu"
    s3, s4 = one.values()
    assert not np.array_equal(s3.episode_returns, s4.episode_returns)  # the seeds do differ
    assert events.count("advance") == 2
    rows = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert {k.split("/charts/")[0] for row in rows for k in row if "/charts/" in k} == \
        {"CartPole-v1/reinforce/s3", "CartPole-v1/reinforce/s4"}
    assert (tmp_path / "one" / "metrics.jsonl").read_text() == (tmp_path / "two" / "metrics.jsonl").read_text()
