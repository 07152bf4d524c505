"""The `forge` command: a typer app whose sub-commands live one group per module."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from studyforge import __version__
from studyforge.cli import (
    draft_cmd,
    init_cmd,
    log_cmd,
    notes_cmd,
    plan_cmd,
    publish_cmd,
    review_cmd,
    run_cmd,
    runs_cmd,
    sample_cmd,
    state,
    status_cmd,
)
from studyforge.cli.options import WorkspaceOpt
from studyforge.console import out
from studyforge.errors import ForgeError


class ForgeGroup(TyperGroup):
    """Turns user errors into one red line and exit code 2 (never a traceback), for every command."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ForgeError as exc:
            out.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            out.error("interrupted (Ctrl-C): records of the interrupted run are kept, marked 'interrupted'")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=ForgeGroup,
    name="forge",
    help="studyforge: run the study plan's experiments for real, track them in W&B, draft the posts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        out.print(f"forge (studyforge) {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    workspace: WorkspaceOpt = None,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="show the version"),
) -> None:
    state.set_workspace(workspace)


for module in (run_cmd, runs_cmd, plan_cmd, status_cmd, notes_cmd, draft_cmd, review_cmd, publish_cmd, init_cmd, log_cmd,
               sample_cmd):
    module.register(app)


def run() -> None:
    """Console-script entry point."""
    app()
