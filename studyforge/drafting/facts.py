"""Facts: every number a run measured, with a stable id a draft (and its reviewer) can trace back.

A fact id is `w<WW>.<experiment id>.<summary key path>`:

    w01.mdp.value_vs_policy_iteration.frozenlake8x8.gamma0_99.sweeps.value_iteration = 662
    w01.mdp.gridworld_solver.frozenlake8x8.start_value = 0.4146 ± 0.0021 (3 seeds)
    w01.mdp.value_vs_policy_iteration.config.episodes = 200

- `WW` is the week, two digits; the experiment id is the registered study id (it already contains dots);
- the key path is the summary's nesting, one part per level, each part lowercased with every character
  outside `[a-z0-9_-]` replaced by `_` (the studies already use such keys: `gamma0_99`, not `0.99`);
- the run's configuration is under `config.` (how many episodes, which θ), so "200 rollouts" is a fact too;
- ids depend only on the summary's keys, never on values or run ids: a re-run keeps every id.

A value with several seeds (stats.json) shows as `mean ± ci95 (n seeds)`; a long list (optimal values of
64 states) is summarised as `[64 values: min …, max …, mean …]` instead of being dumped. Each fact also
carries the numbers a sentence may quote from it (`Fact.numbers`), which the grounding checks match.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from studyforge.tracking.records import RunRecord
from studyforge.tracking.stats import flatten, is_number

# Lists up to this long are shown in full (a 4×4 grid's 16 values); longer ones are summarised.
FULL_LIST = 16

_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def key_part(text: str) -> str:
    """One part of a fact id.

    >>> key_part("FrozenLake 8x8"), key_part("gamma0_99"), key_part("V*(start)")
    ('frozenlake_8x8', 'gamma0_99', 'v_start')
    """
    return _UNSAFE.sub("_", str(text).lower()).strip("_") or "_"


def fact_id(week: int, experiment: str, path: list[str] | tuple[str, ...]) -> str:
    """`fact_id(1, "mdp.gridworld_solver", ["maze", "vi_sweeps"])` -> `'w01.mdp.gridworld_solver.maze.vi_sweeps'`."""
    return ".".join([f"w{week:02d}", experiment, *(key_part(p) for p in path)])


def show_number(x: float | int) -> str:
    """A number as the context shows it: integers as is, floats to 6 significant digits.

    >>> show_number(662), show_number(0.4146403605185653), show_number(-2.0), show_number(1e-10)
    ('662', '0.41464', '-2', '1e-10')
    """
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    text = f"{x:.6g}" if abs(x) >= 1e-4 else f"{x:.3g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa}e{int(exp)}"
    return text


@dataclass(frozen=True)
class Fact:
    """One measured (or configured) value of one run."""

    id: str
    value: Any
    display: str
    experiment: str
    run_id: str
    numbers: tuple[float, ...] = field(default=())  # what a sentence may quote from this fact

    def line(self) -> str:
        return f"{self.id} = {self.display}"


def describe(value: Any, stats: dict[str, Any] | None = None) -> tuple[str, tuple[float, ...]]:
    """(display text, quotable numbers) of one summary value.

    >>> describe(662)
    ('662', (662.0,))
    >>> describe(0.5, {"mean": 0.5, "ci95": 0.125, "n": 3})
    ('0.5 ± 0.125 (3 seeds)', (0.5, 0.125, 3.0))
    >>> describe([1, 2, 3])
    ('[1, 2, 3]', (1.0, 2.0, 3.0, 3.0))
    >>> describe(list(range(100)))[0]
    '[100 values: min 0, max 99, mean 49.5]'
    """
    if isinstance(value, bool) or value is None:
        return ("null" if value is None else str(value).lower()), ()
    if is_number(value):
        if stats and stats.get("ci95") is not None:
            n = int(stats.get("n") or 0)
            return (f"{show_number(value)} ± {show_number(stats['ci95'])} ({n} seeds)",
                    (float(value), float(stats["ci95"]), float(n)))
        return show_number(value), (float(value),)
    if isinstance(value, float):  # nan / inf
        return str(value), ()
    if isinstance(value, list):
        nums = [v for v in value if is_number(v)]
        if len(nums) == len(value) and value:
            if len(value) <= FULL_LIST:
                return "[" + ", ".join(show_number(v) for v in value) + "]", (*map(float, value), float(len(value)))
            lo, hi, mean = min(nums), max(nums), sum(nums) / len(nums)
            text = f"[{len(value)} values: min {show_number(lo)}, max {show_number(hi)}, mean {show_number(mean)}]"
            return text, (float(len(value)), float(lo), float(hi), float(mean))
        if all(isinstance(v, str) for v in value) and len(value) <= FULL_LIST:
            return "[" + ", ".join(value) + "]", (float(len(value)),)
        return f"[{len(value)} values]", (float(len(value)),)
    return str(value), ()


def facts_of_record(record: RunRecord, week: int) -> list[Fact]:
    """Every summary value and config setting of `record` as facts, in the summary's order."""
    out: list[Fact] = []
    stats = record.stats()
    for key, value in flatten(record.summary()).items():
        display, numbers = describe(value, stats.get(key))
        out.append(Fact(fact_id(week, record.experiment, key.split(".")), value, display, record.experiment,
                        record.run_id, numbers))
    for key, value in flatten(record.config).items():
        display, numbers = describe(value)
        out.append(Fact(fact_id(week, record.experiment, ["config", *key.split(".")]), value, display,
                        record.experiment, record.run_id, numbers))
    seeds = len(record.seeds)
    out.append(Fact(fact_id(week, record.experiment, ["run", "seeds"]), seeds, str(seeds), record.experiment,
                    record.run_id, (float(seeds),)))
    return out


def group_lines(facts: list[Fact]) -> list[str]:
    """Facts as context lines; three or more scalar siblings share one line to save tokens.

    `p.a = 1`, `p.b = 2`, `p.c = 3` -> `p.{a = 1, b = 2, c = 3}` (each still has its own id, `p.a`).
    """
    lines: list[str] = []
    i = 0
    while i < len(facts):
        parent = facts[i].id.rpartition(".")[0]
        j = i
        while (j < len(facts) and facts[j].id.rpartition(".")[0] == parent
               and not isinstance(facts[j].value, list | dict)):
            j += 1
        if j - i >= 3:
            inner = ", ".join(f"{f.id.rpartition('.')[2]} = {f.display}" for f in facts[i:j])
            lines.append(f"{parent}.{{{inner}}}")
            i = j
        else:
            lines.append(facts[i].line())
            i += 1
    return lines
