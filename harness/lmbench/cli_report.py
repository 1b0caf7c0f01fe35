"""``lmbench report``, ``lmbench compare`` and ``lmbench sweep`` (added to the CLI by :mod:`lmbench.cli`).

Only click is imported at module level; the commands import the runner, matplotlib or torch
when they run, so ``lmbench --help`` stays fast.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from .errors import LmbenchError

store_option = click.option("--store", "store_dir", envvar="LMBENCH_STORE", type=click.Path(file_okay=False),
                            default=None, help="Results store folder [default: ./runs or $LMBENCH_STORE].")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def _console(stderr: bool = True) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _formats(values: tuple[str, ...]) -> tuple[str, ...]:
    out = [f.strip() for v in values for f in v.split(",") if f.strip()]
    return tuple(dict.fromkeys(out)) or ("md",)


# -- report ---------------------------------------------------------------------------------------
@click.command("report")
@click.argument("runs", nargs=-1)
@click.option("--sweep", "sweep", default=None, metavar="NAME", help="Report every run of a sweep or experiment (name or id).")
@click.option("--last", type=int, default=None, metavar="N", help="Report the N most recent runs.")
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
    from .plugins import default_host
    from .report import write_reports
    from .compare import run_name
    from .report.tables import status_text
    from .store import Store

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
    console = _console()
    for record in records:
        if not record.ok:
            console.print(f"[yellow]note[/yellow]: run {run_name(record)} ({record.id}) did not finish: {status_text(record)}")
    from .report.plots import slug

    out = Path(out_dir) if out_dir else store.root / "reports" / slug(name)
    paths = write_reports(store, records, out, formats=_formats(formats), host=default_host(), title=title,
                          plots=not no_plots)
    if as_json:
        click.echo(json.dumps({"runs": [r.id for r in records], "files": [str(p) for p in paths]}, indent=2))
    else:
        for path in paths:
            if path.suffix not in (".png", ".svg"):
                console.print(f"report: {path}")
        figures = sum(p.suffix == ".png" for p in paths)
        if figures:
            console.print(f"[dim]{figures} figure(s) in {out}[/dim]")


# -- compare --------------------------------------------------------------------------------------
@click.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--fail-on", type=click.Choice(["regression", "none"]), default="none",
              help="Exit 1 when a metric of B is worse than A beyond noise and --threshold.")
@click.option("--threshold", type=float, default=0.1, show_default=True,
              help="Relative change (0.1 = 10%) a regression must exceed to fail.")
@click.option("--tolerance", type=float, default=0.02, show_default=True,
              help="Relative changes below this are always within noise.")
@click.option("--metric", "metrics", multiple=True, help="Only these metrics (repeatable).")
@store_option
@json_option
def compare_cmd(a: str, b: str, fail_on: str, threshold: float, tolerance: float, metrics: tuple[str, ...],
                store_dir: str | None, as_json: bool) -> None:
    """Compare two runs or two sweeps (A is the baseline): change, 95% CI, verdict per metric."""
    from .compare import compare, comparison_rows
    from .store import Store

    if threshold < 0 or tolerance < 0:
        raise LmbenchError("--threshold and --tolerance must be >= 0 (fractions: 0.1 = 10%)")
    store = Store(store_dir, readonly=True)
    result = compare(store, a, b, tolerance=tolerance)
    if metrics:
        result.metrics = [m for m in result.metrics if m.metric in metrics]
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
    from rich.table import Table

    console = _console(stderr=False)
    table = Table(title=f"A = {result.a_name}   B = {result.b_name}", header_style="bold", box=None)
    multi_point = len({r["point"] for r in rows}) > 1
    columns = (["point"] if multi_point else []) + ["metric", "A", "B", "change", "95% CI", "n (A/B)", "verdict"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("point", "metric", "verdict") else "right")
    colours = {"better": "green", "worse": "red", "changed": "yellow"}
    for r in rows:
        verdict = r["verdict"]
        cells = ([r["point"]] if multi_point else []) + [r["metric"], r["a"], r["b"], r["change"], r["ci95"], r["n"],
                                                         f"[{colours[verdict]}]{verdict}[/]" if verdict in colours else verdict]
        table.add_row(*cells)
    console.print(table)
    for note in result.notes + [f"unpaired {u}" for u in result.unpaired]:
        console.print(f"[dim]{note}[/dim]")


# -- sweep ----------------------------------------------------------------------------------------
@click.command("sweep")
@click.option("--plugin", "--preset", "preset", default=None, help="Preset to start from (e.g. attention.lsh).")
@click.option("-c", "--config", "files", multiple=True, type=click.Path(dir_okay=False),
              help="TOML spec file(s), merged in order after the preset.")
@click.option("--grid", "grids", multiple=True, metavar="TABLE.KEY=V1,V2",
              help="A swept option and its values (repeatable; points are the cross product).")
@click.option("--seeds", default=None, metavar="0,1,2", help="Seeds per point (0,1,2 or 0-4).")
@click.option("--set", "sets", multiple=True, metavar="TABLE.KEY=VALUE", help="Override one spec value (repeatable).")
@click.option("-j", "--jobs", type=int, default=1, show_default=True,
              help="Points run at once, each in its own worker process (>1).")
@click.option("--name", default=None, help="Sweep name [default: derived from the spec, stable across reruns].")
@click.option("--force", is_flag=True, help="Run points again even if they are done in the store.")
@click.option("--dry-run", is_flag=True, help="Validate and list the points and their run ids; run nothing.")
@click.option("--no-report", is_flag=True, help="Do not write the report at the end.")
@store_option
@json_option
def sweep_cmd(preset: str | None, files: tuple[str, ...], grids: tuple[str, ...], seeds: str | None,
              sets: tuple[str, ...], jobs: int, name: str | None, force: bool, dry_run: bool, no_report: bool,
              store_dir: str | None, as_json: bool) -> None:
    """Run a grid of spec values times seeds; done points are skipped, so a killed sweep resumes."""
    from .config import build_spec
    from .plugins import default_host
    from .sweep import expand, parse_grid, parse_seeds, point_command, run_sweep, validate_grid

    if jobs < 1:
        raise LmbenchError("--jobs must be at least 1")
    if not (preset or files):
        raise LmbenchError("lmbench sweep needs a spec: --plugin PRESET or -c spec.toml")
    host = default_host()
    grid, seed_list = parse_grid(list(grids)), parse_seeds(seeds)
    if not grid and not seed_list:
        raise LmbenchError("nothing to sweep: give --grid TABLE.KEY=V1,V2 and/or --seeds 0,1,2")
    base = build_spec(host.registries, preset=preset, files=files, sets=sets)
    validate_grid(base, grid, host.registries)
    spec = expand(base, grid, seed_list)
    base_args = (["--plugin", preset] if preset else []) + [a for f in files for a in ("-c", f)] + \
                [a for s in sets for a in ("--set", s)] + (["--store", store_dir] if store_dir else [])
    base_labels = [v.get("label", "") for v in base.get("variants") or []]
    commands = {}
    for variant in spec["variants"]:
        base_label = next((lb for lb in base_labels
                           if lb and (variant["label"].startswith(lb + " ") or variant["label"] == lb)), "")
        point_sets = {k: v for k, v in variant["set"].items() if k in grid or k == "run.seed"}
        commands[variant["label"]] = point_command(base_args, variant["label"], point_sets, bool(base_labels), base_label)
    command = "lmbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["sweep"] else "lmbench sweep"
    console = _console()
    from .store import Store

    if dry_run:
        from .runner import Runner

        planned = Runner(None, host).plan(spec)
        click.echo(json.dumps([{"label": p.label, "run_id": p.run_id, "command": commands.get(p.label)}
                               for p in planned], indent=2))
        return
    store = Store(store_dir)
    console.print(f"sweep: {len(spec['variants'])} point(s)" + (f", {jobs} at a time" if jobs > 1 else ""))
    result = run_sweep(store, spec, host=host, jobs=jobs, name=name, command=command, point_commands=commands,
                       force=force, console=console)
    _print_aggregate(console, result.records)
    reports = []
    if not no_report and result.records:
        reports = _sweep_reports(store, result, spec, host, console)
    if as_json:
        from .sweep import aggregate

        click.echo(json.dumps({"group": result.group_id, "name": result.name, "skipped": result.skipped,
                               "runs": [{"id": r.id, "label": r.label, "status": r.status, "reason": r.reason,
                                         "results": r.results} for r in result.records],
                               "aggregate": aggregate(result.records), "reports": [str(p) for p in reports]},
                              indent=2, default=str))
    console.print(f"sweep [bold]{result.name}[/bold]: {len(result.records)} point(s), {result.skipped} skipped as done, "
                  f"{len(result.failed)} not done" + (f" ({'; '.join(result.failed[:5])})" if result.failed else ""))
    if result.failed:
        raise SystemExit(1)


def _sweep_reports(store: Any, result: Any, spec: dict[str, Any], host: Any, console: Any) -> list[Path]:
    from .config import HARNESS_CONFIGS, make_config
    from .report import write_reports

    cfg = make_config(HARNESS_CONFIGS["report"], dict(spec.get("report", {})), "[report]")
    if not cfg.formats:
        return []
    paths = write_reports(store, result.records, store.root / "reports" / result.group_id, formats=tuple(cfg.formats),
                          host=host, title=cfg.title or result.name, plots=cfg.plots)
    for path in paths:
        if path.suffix not in (".png", ".svg"):
            console.print(f"report: {path}")
    return paths


def _print_aggregate(console: Any, records: list) -> None:
    """Points across seeds: mean ± 95% CI (t) of each shared metric."""
    from rich.table import Table

    from .report.tables import collect_columns, fmt_number
    from .sweep import aggregate

    rows = aggregate(records)
    columns = [c for c in collect_columns(records)][:8]
    table = Table(title="sweep points (mean ± 95% CI over seeds)", header_style="bold", box=None)
    for header in ["point", "seeds ok", *(c.header for c in columns)]:
        table.add_column(header)
    for row in rows:
        cells = [row["point"], f"{row['ok']}/{row['runs']}" + ("" if row["status"] == "ok" else f" ({row['status']})")]
        for column in columns:
            stat = row.get(column.key)
            if stat is None:
                cells.append("–")
                continue
            text = fmt_number(stat["mean"] * column.scale)
            if stat["n"] > 1 and math.isfinite(stat["ci95"]):
                text += f" ± {fmt_number(stat['ci95'] * column.scale, 2)}"
            cells.append(text)
        table.add_row(*cells)
    console.print(table)


__all__ = ["report_cmd", "compare_cmd", "sweep_cmd"]
