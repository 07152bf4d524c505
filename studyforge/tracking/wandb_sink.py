"""The Weights & Biases side of a run: config, metrics, figures (`wandb.Image`) and tables (`wandb.Table`).

Mode `auto` means online when an API key is available (`WANDB_API_KEY`), offline otherwise (the run
files land under `wandb/` and `wandb sync` uploads them later), unless `WANDB_MODE` says otherwise.
`disabled` never imports wandb at all. One W&B run per seed, grouped by the forge run id.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from studyforge.errors import ForgeError

Mode = Literal["auto", "online", "offline", "disabled"]
MODES = ("auto", "online", "offline", "disabled")


def resolve_mode(mode: str) -> Literal["online", "offline", "disabled"]:
    """`auto` -> online with a key, else offline; an explicit `WANDB_MODE` wins over `auto`."""
    if mode not in MODES:
        raise ForgeError(f"unknown --wandb mode {mode!r}", hint=f"use one of {', '.join(MODES)}")
    if mode != "auto":
        if mode == "online" and not _has_key():
            raise ForgeError("--wandb online needs a W&B API key",
                             hint="set WANDB_API_KEY (or run `wandb login`), or use --wandb offline")
        return mode  # type: ignore[return-value]
    env = os.environ.get("WANDB_MODE", "").lower()
    if env in ("disabled", "offline", "online"):
        return "disabled" if env == "disabled" else ("online" if env == "online" and _has_key() else "offline")
    if env == "dryrun":
        return "offline"
    return "online" if _has_key() else "offline"


def _has_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path.home() / ".netrc"
    try:
        return netrc.exists() and "api.wandb.ai" in netrc.read_text()
    except OSError:
        return False


class WandbSink:
    """Mirrors one seed of a forge run into one W&B run. Every call is a no-op when disabled.

    W&B is a mirror, never a reason to lose a run: an exception from any W&B call (init, log, Image,
    Table, summary, finish) is caught, kept in `error` (the first one), reported once through `on_error`,
    and the study goes on; the local record does not depend on W&B. Later calls are still tried (a table
    W&B refuses should not cost the metrics after it), unless the run never started.
    """

    def __init__(self, mode: Literal["online", "offline", "disabled"], project: str, entity: str | None,
                 root: Path, on_error: Callable[[str], None] | None = None):
        self.mode = mode
        self.project = project
        self.entity = entity
        self.root = root
        self.run: Any = None
        self.error: str | None = None
        self._on_error = on_error

    @property
    def enabled(self) -> bool:
        return self.mode != "disabled"

    def _guard(self, what: str, call: Callable[[], Any]) -> Any:
        """`call()`, or None when it raises: the first failure is kept and reported, none propagates."""
        try:
            return call()
        except Exception as exc:  # any W&B failure is the sink's, never the study's
            if self.error is None:
                text = " ".join(f"{type(exc).__name__}: {exc}".split())
                self.error = f"{what}: {text[:300]}{'…' if len(text) > 300 else ''}"
                if self._on_error:
                    self._on_error(self.error)
            return None

    def start(self, *, group: str, name: str, job_type: str, config: dict[str, Any], tags: list[str]) -> None:
        if self.enabled:
            self.run = self._guard("wandb.init", lambda: self._init(group, name, job_type, config, tags))

    def _init(self, group: str, name: str, job_type: str, config: dict[str, Any], tags: list[str]) -> Any:
        import wandb

        self.root.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=self.project, entity=self.entity, group=group, name=name, job_type=job_type,
            config=config, tags=tags, mode=self.mode, dir=str(self.root), reinit="finish_previous",
            settings=wandb.Settings(console="off", silent=True, x_disable_stats=True),
        )
        # Studies restart their step counter per environment/sweep; W&B wants a monotone x-axis, so the
        # forge step travels as an ordinary metric and every chart uses it.
        run.define_metric("step")
        run.define_metric("*", step_metric="step")
        return run

    def log(self, metrics: dict[str, Any], step: int | None) -> None:
        if self.run is not None:
            self._guard("log", lambda: self.run.log({**metrics, **({"step": step} if step is not None else {})}))

    def log_figure(self, name: str, path: Path, caption: str) -> None:
        if self.run is not None:
            def send() -> None:
                import wandb

                self.run.log({f"figures/{name}": wandb.Image(str(path), caption=caption or None)})

            self._guard(f"figure {name!r}", send)

    def log_table(self, name: str, columns: list[str], rows: list[list[Any]]) -> None:
        if self.run is not None:
            def send() -> None:
                import wandb

                self.run.log({f"tables/{name}": wandb.Table(columns=columns, data=rows)})

            self._guard(f"table {name!r}", send)

    def summary(self, values: dict[str, Any]) -> None:
        if self.run is not None:
            from studyforge.tracking.stats import flatten

            self._guard("summary", lambda: self.run.summary.update(flatten(values)))

    def finish(self, exit_code: int = 0) -> dict[str, str | None]:
        """Close the W&B run; returns its id, URL (online) and folder (offline, for `wandb sync`)."""
        if self.run is None:
            return {}
        run, self.run = self.run, None
        info = self._guard("run info", lambda: {"id": run.id, "url": run.url if self.mode == "online" else None,
                                                 "dir": str(Path(run.dir).parent)}) or {}
        self._guard("finish", lambda: run.finish(exit_code=exit_code))
        return info
