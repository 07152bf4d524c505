"""The `forge` command: a typer app whose sub-commands live one group per module.

Conventions every command keeps (tests/cli/test_cli_conventions.py checks them): flags show no `<bool>` in
the help, arguments read in capitals (`WEEK`), a short option means the same everywhere (options.py lists
them), `forge` alone prints the help and exits 0, and output into a closed pipe (`forge runs | head`)
ends quietly with exit 0, as git's does.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import typer
from typer.core import TyperCommand, TyperGroup

from studyforge import __version__
from studyforge.cli import (
    draft_cmd,
    init_cmd,
    log_cmd,
    notes_cmd,
    plan_cmd,
    prefs_cmd,
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


def _plain_flags(params: list) -> list:
    """A flag takes no value, so its help shows none (typer would print `<bool>`)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


@contextmanager
def _help_into_closed_pipe():
    """rich answers a closed stdout by silencing it and exiting 1; for the help that is a quiet end, exit 0."""
    try:
        yield
    except SystemExit:
        raise SystemExit(0) from None


class ForgeCommand(TyperCommand):
    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))

    def collect_usage_pieces(self, ctx):
        """`forge run [OPTIONS] WEEK`: typer braces a required argument (`{WEEK}`), no other tool does."""
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]

    def format_help(self, ctx, formatter):
        with _help_into_closed_pipe():
            return super().format_help(ctx, formatter)


class ForgeGroup(TyperGroup):
    """Turns user errors into one red line and exit code 2 (never a traceback), for every command."""

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))

    def format_help(self, ctx, formatter):
        with _help_into_closed_pipe():
            return super().format_help(ctx, formatter)

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        """A usage error (`--seeds abc`, an unknown option) is one red line naming the command, exit 2."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            out.error("aborted")
            sys.exit(1)
        except typer.TyperException as exc:  # typer's own click: usage errors, bad parameters, missing ones
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else "forge"
            out.error(f"{command}: {exc.format_message()} — see `{command} --help`")
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)

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
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        out.print(f"forge (studyforge) {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="show the version"),
) -> None:
    if ctx.invoked_subcommand is None:  # `forge` alone: the help, and a success
        text = ctx.get_help()  # rich prints the help itself and returns ""
        if text:
            typer.echo(text)
        raise typer.Exit(0)
    out.json_mode = False  # each command sets it for --json (one process may run several: the tests)
    state.set_workspace(workspace)


for module in (run_cmd, runs_cmd, plan_cmd, status_cmd, notes_cmd, draft_cmd, review_cmd, publish_cmd, init_cmd, log_cmd,
               sample_cmd, prefs_cmd):
    module.register(app)
group_commands = [c for g in app.registered_groups for c in g.typer_instance.registered_commands]  # `forge prefs inspect`
for command in [*app.registered_commands, *group_commands]:
    if command.cls in (None, TyperCommand):
        command.cls = ForgeCommand


def run() -> None:
    """Console-script entry point."""
    app()
