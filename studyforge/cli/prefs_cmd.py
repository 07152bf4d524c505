"""`forge prefs inspect FILE_OR_hf:NAME`: a preference dataset's quality, read in one streaming pass.

The command parses its options, reads the records (`experiments/preference/formats.py`) into the toolkit
(`experiments/preference/quality.py`) under a progress bar on the bytes read, and prints the report as a
table, or as JSON with `--json` (the report's `model_dump()`, field for field).
"""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli.options import JsonOpt, choice
from studyforge.console import out

prefs = typer.Typer(help="Preference datasets (HH-RLHF, TRL, KTO files or hf:NAME): inspect their quality.",
                    invoke_without_command=True, rich_markup_mode="rich")


def register(app: typer.Typer) -> None:
    app.add_typer(prefs, name="prefs", cls=app.info.cls)


@prefs.callback()
def _group(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:  # `forge prefs` alone: its help, and a success
        text = ctx.get_help()
        if text:
            typer.echo(text)
        raise typer.Exit(0)


FORMAT_HELP = ("auto | hh | trl | kto: auto reads the first row's fields; hh = HH-RLHF chosen/rejected transcripts, "
               "trl = prompt/chosen/rejected, kto = prompt/completion/label")


@prefs.command("inspect")
def inspect(
    spec: Annotated[str, typer.Argument(metavar="FILE_OR_hf:NAME", show_default=False,
                                        help="a .jsonl, .jsonl.gz or .json (JSON lines) file, or hf:NAME[:split] "
                                             "read through datasets")],
    format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "auto",
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="read only the first N records",
                                              show_default=False)] = None,
    split: Annotated[str, typer.Option("--split", help="the split of an hf: dataset that names none")] = "train",
    json_: JsonOpt = False,
) -> None:
    """A preference dataset's quality: size, duplicates, conflicts, length bias, agreement, label noise.

    Streams the data (a 1 GB file fits in memory); figures per source when rows carry a 'source' field."""
    from studyforge.errors import ForgeError
    from studyforge.experiments.preference.formats import FORMATS

    out.json_mode = json_
    choice("--format", format, FORMATS)
    if limit is not None and limit < 0:
        raise ForgeError(f"--limit {limit} is negative: give the number of records to read")
    report = inspect_with_progress(spec, format, split, limit)
    if json_:
        out.json(report.model_dump(mode="json"))
        return
    out.print(summary_table(spec, report, out.width))
    if len(report.sources) > 1 or any(s.source is not None for s in report.sources):
        out.print(sources_table(report, out.width))


def inspect_with_progress(spec: str, format: str, split: str, limit: int | None):
    """The quality report of `spec`, with a progress bar on the bytes read (a file) or the records (hf:)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from studyforge.experiments.preference.formats import file_size, iter_records
    from studyforge.experiments.preference.quality import inspect_preferences

    console = out.err if out.json_mode else out.console
    total = file_size(spec)  # checks a local path before the bar appears
    columns = ([TextColumn("reading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
               if total is not None else [SpinnerColumn(), TextColumn("reading {task.completed:,.0f} records")])
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("read", total=total)
        if total is not None:
            records = iter_records(spec, format, split, limit, progress=lambda done: progress.update(task, completed=done))
        else:
            records = _counted(iter_records(spec, format, split, limit), lambda n: progress.update(task, completed=n))
        return inspect_preferences(records)


def _counted(records, update, every: int = 1000):
    for n, record in enumerate(records, start=1):
        if n % every == 0:
            update(n)
        yield record


def _size(n: int) -> str:
    """`_size(3_200)` -> "3.2 kB", `_size(12_500_000)` -> "12.5 MB"."""
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.1f} kB"


def _share(count: int, total: int) -> str:
    return f"{count:,} ({count / total:.1%})" if total else f"{count:,}"


def summary_table(spec: str, report, width: int):
    """One row per statistic: its value, and what it means (dropped first on a narrow terminal)."""
    from rich import box
    from rich.markup import escape

    from studyforge.display import Col, fitted_table

    n, d = report.records, report.duplicates
    lengths = " · ".join(f"{k} {v:,.0f}" for k, v in report.mean_chars.items())
    rows = [("records", f"{n:,} {'pairs' if report.kind == 'pairs' else 'unpaired examples'}", ""),
            ("text", _size(report.text_bytes), "UTF-8, text fields only"),
            ("mean characters", lengths or "—", ""),
            ("exact duplicates", _share(d.exact, n), f"repeats of an earlier record, case and spacing "
                                                     f"ignored ({d.exact_groups:,} texts repeated)"),
            ("near duplicates", _share(d.near, n), f"further records within Jaccard {d.near_threshold:g} of another "
                                                   f"(clusters: {d.near_clusters:,})"),
            ("conflicts", f"{d.conflicts:,}", "pairs labelled both ways round" if report.kind == "pairs"
             else "completions labelled both desirable and undesirable")]
    if report.kind == "pairs":
        rows.append(("identical pairs", _share(d.identical_pairs, n), "chosen and rejected are the same text"))
    else:
        rows.append(("desirable", f"{report.desirable_share:.1%}" if report.desirable_share is not None else "—",
                     "share labelled desirable"))
    if report.length_bias is not None:
        b = report.length_bias
        rows += [("chosen is longer", f"{b.chosen_longer:.1%}", f"ties {b.ties:.1%}; 50% = no length bias"),
                 ("length-only classifier", f"{b.classifier_accuracy:.3f}", f"accuracy of '{b.rule}' (ties half): "
                                                                           "what length alone predicts")]
    if report.agreement is not None:
        a = report.agreement
        kappa = f", Fleiss κ {a.fleiss_kappa:.2f}" if a.fleiss_kappa is not None else ""
        rows.append(("annotator agreement", f"{a.pairwise_agreement:.3f}{kappa}",
                     f"two annotators agree ({a.records_with_votes:,} records, {a.mean_votes:.1f} votes each); "
                     f"label against the majority in {a.majority_against_label:.1%}"))
    elif report.kind == "pairs":
        rows.append(("annotator agreement", "—", "no record has two or more votes"))
    if report.noise is not None:
        z = report.noise
        value = f"{z.estimate:.3f}" if z.estimate is not None else "—"
        accuracy = f"{z.progressive_accuracy:.3f}" if z.progressive_accuracy is not None else "—"
        rows.append(("estimated label noise", value,
                     f"share of the {z.confident_records:,} most confident records that a {z.members}-model n-gram "
                     f"Bradley–Terry ensemble contradicts (it agrees with {accuracy} of all labels); on real data "
                     "an upper estimate"))
    cols = [Col("statistic", min_width=12), Col("value", min_width=10), Col("meaning", drop=1, min_width=20)]
    cells = [{"statistic": s, "value": v, "meaning": escape(m)} for s, v, m in rows]
    return fitted_table(cols, cells, width, title=f"Preference data: {escape(spec)}", title_justify="left",
                        box=box.SIMPLE_HEAD)


def sources_table(report, width: int):
    """Per source: records and, for pairs, share chosen longer, length-only accuracy, estimated label noise."""
    from rich import box
    from rich.markup import escape

    from studyforge.display import Col, fitted_table

    def f(x, spec=".3f"):
        return "—" if x is None else format(x, spec)

    cells = [{"source": escape(s.source) if s.source is not None else "(none)", "records": f"{s.records:,}",
              "chosen longer": f(s.chosen_longer, ".1%"), "length acc.": f(s.length_accuracy),
              "noise": f(s.noise_estimate)} for s in report.sources]
    cols = [Col("source", whole=True), Col("records", justify="right")]
    if report.kind == "pairs":  # unpaired data have no length classifier and no noise estimate
        cols += [Col("chosen longer", drop=2, justify="right"), Col("length acc.", drop=3, justify="right"),
                 Col("noise", drop=1, justify="right")]
    return fitted_table(cols, cells, width, title="Per source", title_justify="left", box=box.SIMPLE_HEAD)
