"""Commands on stored results: ``lmbench report`` and ``lmbench compare``.

Only click is imported at module level; the commands import the runner, matplotlib or torch
when they run, so ``lmbench --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from . import values

from ..errors import LmbenchError
from .common import console, json_option, report_formats, store_option

# -- report ---------------------------------------------------------------------------------------
@click.command("report")
@click.argument("runs", nargs=-1)
@click.option("--sweep", "sweep", default=None, metavar="NAME", help="Report every run of a sweep or experiment (name or id).")
@click.option("--last", type=int, default=None, callback=values.positive, metavar="N", help="Report the N most recent runs.")
@click.option("-f", "--format", "formats", multiple=True, metavar="FMT",
              help="md (default), tex, html, csv, tensorboard, wandb or a plugin's reporter; repeat or comma-separate.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: <store>/reports/<name>].")
@click.option("--title", default="", help="Report title.")
@click.option("--no-plots", is_flag=True, help="Skip the figures.")
@store_option
@json_option
def report_cmd(runs: tuple[str, ...], sweep: str | None, last: int | None, formats: tuple[str, ...],
               out_dir: str | None, title: str, no_plots: bool, store_dir: str | None, as_json: bool) -> None:
    """Write a report (markdown, LaTeX, HTML, ...) of runs: RUN ids, --sweep NAME, or --last N.

    With none of them, the most recent experiment (the last `lmbench run` or `sweep`) is reported.
    """
    from ..plugin.host import default_host
    from ..report import write_reports
    from ..stats.points import run_name
    from ..report.tables import status_text
    from ..store import Store

    store = Store(store_dir, readonly=True)
    name = ""
    if runs:
        records = [store.get(r) for r in runs]
        name = records[0].id if len(records) == 1 else f"{records[0].id}-and-{len(records) - 1}"
    elif sweep:
        group, records = store.group(sweep)
        name = group.get("name") or group["id"]
    elif last:
        records = store.runs(last=last)
        name = f"last-{last}"
    else:
        groups = store.groups()
        if not groups:
            raise LmbenchError(f"no experiments in {store.path}; run one first (`lmbench run`) or name runs")
        group, records = store.group(groups[0]["id"])
        name = group.get("name") or group["id"]
    if not records:
        raise LmbenchError(f"nothing to report: no runs selected from {store.path}")
    status = console()
    for record in records:
        if not record.ok:
            status.print(f"[yellow]note[/yellow]: run {run_name(record)} ({record.id}) did not finish: {status_text(record)}")
    from ..report.plots import slug

    out = Path(out_dir) if out_dir else store.root / "reports" / slug(name)
    paths = write_reports(store, records, out, formats=report_formats(formats), host=default_host(), title=title,
                          plots=not no_plots)
    if as_json:
        click.echo(json.dumps({"runs": [r.id for r in records], "files": [str(p) for p in paths]}, indent=2))
    else:
        for path in paths:
            if path.suffix not in (".png", ".svg"):
                status.print(f"report: {path}")
        figures = sum(p.suffix == ".png" for p in paths)
        if figures:
            status.print(f"[dim]{figures} figure(s) in {out}[/dim]")


# -- compare --------------------------------------------------------------------------------------
@click.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--fail-on", type=click.Choice(["regression", "none"]), default="none",
              help="Exit 1 when a metric of B is worse than A beyond noise and --threshold.")
@click.option("--threshold", type=float, default=0.1, callback=values.finite, show_default=True,
              help="Relative change (0.1 = 10%) a regression must exceed to fail.")
@click.option("--tolerance", type=float, default=None, callback=values.finite,
              help="Relative changes below this are always within noise [default: the noise floor measured by "
                   "`lmbench noise` for this kind of run, else 0.02].")
@click.option("--metric", "metrics", multiple=True, help="Only these metrics (repeatable).")
@store_option
@json_option
def compare_cmd(a: str, b: str, fail_on: str, threshold: float, tolerance: float | None, metrics: tuple[str, ...],
                store_dir: str | None, as_json: bool) -> None:
    """Compare two runs or two sweeps (A is the baseline): change, 95% CI, p-value, verdict per metric.

    Seeds run on both sides are paired (and evaluation examples, where runs store them); p-values are
    adjusted across the metrics (Benjamini-Hochberg). See docs/reports.md for each verdict.
    """
    from ..stats.compare import compare, comparison_rows
    from ..store import Store

    if threshold < 0 or (tolerance is not None and tolerance < 0):
        raise LmbenchError("--threshold and --tolerance must be >= 0 (fractions: 0.1 = 10%)")
    store = Store(store_dir, readonly=True)
    result = compare(store, a, b, tolerance=tolerance)
    if metrics:
        from ..plugin.results import vocabulary

        wanted = {vocabulary().canonical(m) for m in metrics}  # an old result name selects its new one
        result.metrics = [m for m in result.metrics if m.metric in wanted]
        if not result.metrics:
            raise LmbenchError(f"none of the metrics {', '.join(metrics)} is shared by '{a}' and '{b}'")
    regressions = result.regressions(threshold) if fail_on == "regression" else []
    rows = comparison_rows(result)
    if as_json:
        click.echo(json.dumps({"a": result.a_name, "b": result.b_name, "metrics": rows, "unpaired": result.unpaired,
                               "notes": result.notes,
                               "regressions": [f"{m.point}: {m.metric}" for m in regressions]}, indent=2))
    else:
        _print_comparison(result, rows)
    if regressions:
        worst = max(regressions, key=lambda m: m.worse_by)
        click.echo(f"regression: {len(regressions)} metric(s) worse beyond noise and {threshold:.0%}; worst "
                   f"{worst.metric} ({worst.point}) {worst.rel_change * 100:+.1f}%", err=True)
        raise SystemExit(1)


def _print_comparison(result: Any, rows: list[dict[str, Any]]) -> None:
    """The comparison as a table that fits the terminal (stacked per result when it does not)."""
    from rich.markup import escape  # names and points such as SWEEP[key=value] are text, not markup

    from ..report.terminal import print_table

    screen = console(stderr=False)
    multi_point = len({r["point"] for r in rows}) > 1
    headers = (["point"] if multi_point else []) + ["metric", "kind", "A", "B", "change", "95% CI", "p", "n (A/B)",
                                                    "basis", "verdict"]
    colours = {"better": "green", "worse": "red", "changed": "yellow"}
    cells = []
    for r in rows:
        verdict = r["verdict"]
        metric = r["metric"] + ("*" if r.get("guessed") else "")
        cells.append(([escape(r["point"])] if multi_point else []) + [
            metric, r["kind"], r["a"], r["b"], r["change"], r["ci95"], r["p"], r["n"], _short_basis(r["basis"]),
            f"[{colours[verdict]}]{verdict}[/]" if verdict in colours else verdict])
    print_table(screen, f"A = {escape(result.a_name)}   B = {escape(result.b_name)}", headers, cells,
                left=("point", "metric", "kind", "basis", "verdict"))
    for note in result.notes + [f"unpaired {u}" for u in result.unpaired]:
        screen.print(f"[dim]{note}[/dim]")


def _short_basis(basis: str) -> str:
    """``paired by seed (n=5)`` -> ``seed``; the table's basis column stays narrow."""
    for word in ("seed", "McNemar", "sacrebleu", "example", "timing", "unpaired"):
        if word in basis:
            return {"McNemar": "McNemar", "sacrebleu": "chrF++ bootstrap", "example": "example",
                    "timing": "timing samples"}.get(word, word)
    return "single run"


# -- declared results -------------------------------------------------------------------------------
def print_declared_results(plugin: str | None = None, as_json: bool = False, host: Any = None) -> None:
    """``lmbench list results [--plugin P]``: every declared result (core vocabulary and each plugin's).

    One row per declaration: name, plugin, kind, direction, unit, header, headline, description.
    """
    from ..plugin.results import vocabulary

    specs = [s for s in vocabulary(host) if plugin is None or s.plugin == plugin]
    if plugin is not None and not specs:
        raise LmbenchError(f"plugin '{plugin}' declares no results; see `lmbench plugins`")
    rows = [{"name": s.name, "plugin": s.plugin, "kind": s.kind, "direction": s.direction, "unit": s.unit,
             "header": s.label(), "headline": s.headline, "aliases": list(s.aliases), "description": s.description}
            for s in sorted(specs, key=lambda s: ({"quality": 0, "cost": 1, "info": 2}[s.kind], s.plugin, s.name))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from ..report.terminal import print_table

    print_table(console(stderr=False), "declared results", ["name", "plugin", "kind", "better", "unit", "headline"],
                [[r["name"], r["plugin"], r["kind"], r["direction"], r["unit"] or "–", "yes" if r["headline"] else ""]
                 for r in rows], left=("plugin", "kind", "better", "unit", "headline"))


__all__ = ["report_cmd", "compare_cmd", "print_declared_results"]
