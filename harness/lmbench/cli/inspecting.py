"""Commands that inspect: ``lmbench list``, ``plugins``, ``show``, ``status``, ``export`` and ``env``."""

from __future__ import annotations

import json
import sys

from typing import Any

import click

from .common import console, json_option, open_store, store_option

LIST_KINDS = ("datasets", "tokenizers", "models", "attention", "recipes", "metrics", "reporters", "presets",
              "launchers")
#: What ``lmbench list`` shows beside the registries: a store's runs and sweeps, the declared results.
STORE_KINDS = ("runs", "sweeps")


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(LIST_KINDS + STORE_KINDS + ("results",)))
@click.option("--last", type=click.IntRange(min=1), default=None, help="runs: only the N most recent.")
@click.option("--status", "status", default=None, help="runs: only runs with this status (done, failed, ...).")
@click.option("--plugin", "plugin", default=None, help="results: only this plugin's declared results.")
@store_option
@json_option
def list_cmd(kind: str | None, last: int | None, status: str | None, plugin: str | None, store_dir: str | None,
             as_json: bool) -> None:
    """List registered components (all kinds, or one), a store's runs or sweeps, or the declared results."""
    if kind in STORE_KINDS:
        return _list_stored(kind, open_store(store_dir, readonly=True), last, status, as_json)
    if kind == "results":
        from .results import print_declared_results

        return print_declared_results(plugin, as_json)
    from ..plugin.host import default_host

    registries = default_host().registries
    kinds = [kind] if kind else list(LIST_KINDS)
    rows = [(k, e.name, e.plugin, e.summary) for k in kinds for e in registries[k]]
    if as_json:
        click.echo(json.dumps([{"kind": k, "name": n, "plugin": p, "summary": s} for k, n, p, s in rows], indent=2))
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("kind", "name", "summary"):
        table.add_column(column, overflow="fold")  # a narrow terminal wraps cells, never cuts them
    for k, name, _plugin, summary in rows:
        table.add_row(k, name, summary)
    console(stderr=False).print(table)


def _list_stored(kind: str, store: Any, last: int | None, status: str | None, as_json: bool) -> None:
    """``lmbench list runs`` (newest first: id, status, preset, label, seed) or ``lmbench list sweeps``."""
    import time

    from ..report.terminal import print_table

    when = lambda t: time.strftime("%Y-%m-%d %H:%M", time.localtime(t))  # noqa: E731
    if kind == "runs":
        records = store.runs(last=last, status=status)
        rows = [{"id": r.id, "status": r.status, "preset": r.preset, "label": r.label,
                 "seed": (r.spec.get("run") or {}).get("seed"), "updated": when(r.updated)} for r in records]
    else:
        rows = [{"id": g["id"], "kind": g["kind"], "name": g["name"] or "", "created": when(g["created"])}
                for g in store.groups()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = list(rows[0]) if rows else (["id", "status", "preset", "label", "seed", "updated"] if kind == "runs"
                                          else ["id", "kind", "name", "created"])
    print_table(console(stderr=False), kind, headers, [[str(v if v is not None else "") for v in r.values()]
                                                       for r in rows], left=headers)


@click.command("plugins")
@json_option
def plugins_cmd(as_json: bool) -> None:
    """Installed plugins: version, source, hooks and load errors."""
    from ..plugin.host import default_host

    host = default_host()
    host.registries  # registration hooks run here, so their errors are recorded too
    infos = list(host.plugins.values())
    if as_json:
        click.echo(json.dumps([i.__dict__ for i in infos], indent=2))
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("plugin", "version", "module", "hooks", "status"):
        table.add_column(column, overflow="fold")  # a narrow terminal wraps cells, never cuts them
    for info in infos:
        hooks = ", ".join(h.removeprefix("lmbench_") for h in info.hooks)
        status = "[green]ok[/green]" if info.ok else f"[red]error: {info.error}[/red]"
        table.add_row(info.name, info.version, info.module, hooks, status)
    console(stderr=False).print(table)


@click.command("show")
@click.argument("run_id")
@store_option
@json_option
def show_cmd(run_id: str, store_dir: str | None, as_json: bool) -> None:
    """Show one stored run: status, results, measurements, spec, command."""
    store = open_store(store_dir, readonly=True)
    record = store.get(run_id)
    measurements = store.measurements(record.id)
    from ..run.identity import stale_code_note

    code_note = stale_code_note(record.env)
    if as_json:
        click.echo(json.dumps({**record.__dict__, "measurements": measurements, "code_note": code_note},
                              indent=2, default=str))
        return
    from rich.table import Table

    screen = console(stderr=False)
    screen.print(f"[bold]{record.name}[/bold]  {record.id}  status: {record.status}"
                  + (f"  ({record.reason})" if record.reason else ""))
    screen.print(f"command: {record.command}\nfolder:  {record.run_dir}")
    if code_note:
        screen.print(f"[yellow]note:[/yellow] {code_note}")
    table = Table(box=None, header_style="bold")
    table.add_column("result", overflow="fold")
    table.add_column("value", overflow="fold")
    for key, value in sorted(record.results.items()):
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    screen.print(table)
    for name, data in measurements.items():
        rows = data.get("rows") if isinstance(data, dict) else None
        screen.print(f"measurement [bold]{name}[/bold]: " + (f"{len(rows)} rows" if rows is not None else
                      ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in list(data.items())[:8] if not isinstance(v, (list, dict)))))
    screen.print("spec: " + json.dumps(record.spec, sort_keys=True))


@click.command("status")
@click.argument("group", required=False)
@store_option
@json_option
def status_cmd(group: str | None, store_dir: str | None, as_json: bool) -> None:
    """Where each point of a sweep stands: pending, running, requeued, done or failed.

    GROUP is a sweep's name or id prefix [default: the most recent sweep]. States combine the
    results store with the launcher's queue (squeue for SLURM sweeps).
    """
    from ..errors import LmbenchError
    from ..launch.status import STATES, point_states

    store = open_store(store_dir, readonly=True)
    if group is None:
        sweeps = [g for g in store.groups() if g["kind"] == "sweep"]
        if not sweeps:
            raise LmbenchError("no sweep in this store yet; start one with lmbench sweep (or pass --store DIR)")
        group = sweeps[0]["id"]
    info = store.group_info(group)
    rows = point_states(store, info["id"])
    counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
    if as_json:
        click.echo(json.dumps({"group": info["id"], "name": info["name"], "counts": counts, "points": rows}, indent=2))
        return
    from ..report.terminal import print_table

    colours = {"done": "green", "failed": "red", "running": "cyan", "requeued": "yellow", "pending": "dim"}
    screen = console(stderr=False)
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    screen.print(f"[bold]{info['name']}[/bold]  {info['id'][:12]}  {len(rows)} point(s): {summary or 'none'}")
    table_rows = [[r["label"] or r["run_id"][:12], f"[{colours[r['state']]}]{r['state']}[/{colours[r['state']]}]",
                   r["job"], r["run_id"][:12], r["reason"] or ""] for r in rows]
    print_table(screen, "", ["point", "state", "job", "run", "reason"], table_rows, left=["state", "job", "run", "reason"])


@click.command("export")
@click.argument("run_ids", nargs=-1)
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None, help="File to write [default: stdout].")
@store_option
def export_cmd(run_ids: tuple[str, ...], out: str | None, store_dir: str | None) -> None:
    """Export runs (all, or the given ids) as JSON Lines: spec, env, results, steps, measurements; then
    one line per sweep or experiment holding them (``{"group": ..., "runs": [...]}``) for `lmbench import`."""
    store = open_store(store_dir, readonly=True)
    ids = [store.get(r).id for r in run_ids] if run_ids else None
    if out is None:
        store.export_jsonl(sys.stdout, ids)
        return
    with open(out, "w") as handle:
        count = store.export_jsonl(handle, ids)
    console().print(f"exported {count} run(s) to {out}")


@click.command("env")
@click.option("--device", default="auto", help="Device to describe.")
@click.option("--peak", is_flag=True, help="Measure the device's fp32 and bf16 matmul peak (on a CPU with 1 thread "
              "and with all of torch's threads) and cache it for MFU; do it once per machine, when it is idle.")
def env_cmd(device: str, peak: bool) -> None:
    """Print the environment that is recorded with every run (JSON)."""
    from ..measure.env import capture_environment
    from ..plugin.host import default_host
    from ..run.device import pick_device

    if peak:
        from ..measure.peak import measure_peaks, peaks_file

        for key, entry in measure_peaks(pick_device(device)).items():
            click.echo(f"measured peak {entry['flops'] / 1e9:,.1f} GFLOP/s  {key}  (load {entry['load_avg_1m']})",
                       err=True)
        click.echo(f"cached in {peaks_file()}", err=True)
    click.echo(json.dumps(capture_environment(default_host().versions, device=pick_device(device)), indent=2,
                          default=str))


__all__ = ["list_cmd", "plugins_cmd", "show_cmd", "status_cmd", "export_cmd", "env_cmd"]
