"""Two registered studies a test can run in seconds: `fake.ok` logs, draws, tabulates and summarizes; `fake.fail`
summarizes, then raises. The `fakes` fixture (conftest.py) registers them for the mini plan's week 1."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from studyforge.experiments.config import ExperimentConfig


class FakeConfig(ExperimentConfig):
    steps: int = Field(5, description="steps")
    gamma: float = Field(0.9, description="discount")
    presets: ClassVar = {"quick": {"steps": 2}, "full": {"steps": 50}}


def ok(ctx, cfg):
    """OK study."""
    import matplotlib.pyplot as plt

    with ctx.progress(total=cfg.steps, description="counting") as bar:
        for i in range(cfg.steps):
            ctx.log({"charts/value": i * cfg.gamma}, step=i)
            bar.advance(1)
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    ctx.log_figure("curve", fig, caption="a line")
    ctx.log_table("numbers", [{"a": 1, "b": 2.5}, {"a": 2, "b": None}])
    ctx.summary(final=float(ctx.seed) + cfg.gamma, nested={"steps": cfg.steps}, name="ok")


def fail(ctx, cfg):
    """Failing study."""
    ctx.summary(before_crash=1)
    raise RuntimeError("boom")
