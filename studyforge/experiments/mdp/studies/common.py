"""What both week-1 studies share: the environments, and the config fields and checks that choose them.

Summary keys nest as env → γ → quantity → algorithm, with γ written `gamma0_99` (dots separate keys), as in
`frozenlake8x8.gamma0_99.sweeps.value_iteration`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig, names_in
from studyforge.experiments.mdp import envs as envlib

ALL_ENVS = ["sb_gridworld", "frozenlake4x4", "frozenlake8x8", "cliffwalking", "windy_gridworld", "maze"]
# the environments where every step costs −1, so every greedy policy of a value function ends episodes and
# γ = 1 is well posed (FrozenLake pays nothing for waiting: with γ = 1, dawdling forever is also "optimal")
STEP_COST_ENVS = {"sb_gridworld", "cliffwalking", "windy_gridworld", "windy_gridworld_stochastic", "maze"}


class EnvChoice(ExperimentConfig):
    """Fields and checks shared by both studies' configs."""

    envs: Annotated[list[str], names_in(envlib.ENV_KEYS, "environments", allow_empty=True)] = Field(
        default_factory=lambda: list(ALL_ENVS), description=f"environments to solve, from {', '.join(envlib.ENV_KEYS)}")
    theta: float = Field(1e-10, gt=0, description="stop when the residual ‖V_{k+1} − V_k‖∞ drops below this")
    max_sweeps: int = Field(100_000, ge=1,
                            description="guard against non-termination (γ = 1): most sweeps of one solve")
    maze_layout: list[str] = Field(default_factory=lambda: list(envlib.DEFAULT_MAZE),
                                   description="rows of the `maze` environment (format: mdp/envs.py)")
    undiscounted_envs: list[str] = Field(default_factory=lambda: ["sb_gridworld"],
                                         description="environments also solved with γ = 1 (step-cost ones)")

    @field_validator("maze_layout")
    @classmethod
    def _valid_layout(cls, value: list[str]) -> list[str]:
        envlib.parse_layout(value)  # raises ValueError with the reason
        return value

    @field_validator("undiscounted_envs")
    @classmethod
    def _undiscounted(cls, value: list[str]) -> list[str]:
        return check_undiscounted(value)


def check_undiscounted(names: list[str]) -> list[str]:
    """`names` if every one is a step-cost environment (where γ = 1 is well posed), else a ValueError."""
    bad = [e for e in names if e not in STEP_COST_ENVS]
    if bad:
        allowed = ", ".join(sorted(STEP_COST_ENVS))
        raise ValueError(f"γ = 1 needs a cost per step; not {bad} (allowed: {allowed})")
    return names
