"""The ``lmbench`` command line (click). Human output goes to stderr, ``--json`` to stdout.

Kept light: nothing here imports torch; commands import what they need when they run, so
``lmbench --help`` and ``lmbench list`` stay fast.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from typing import Any

import click

from . import __version__
from .cli_report import compare_cmd, report_cmd, sweep_cmd
from .errors import LmbenchError

DEFAULT_PRESET = "lm.compare"
LIST_KINDS = ("datasets", "tokenizers", "models", "attention", "recipes", "metrics", "reporters", "presets")
EXIT_INTERRUPTED = 130


def _console(stderr: bool = True) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _store(path: str | None, readonly: bool = False) -> Any:
    from .store import Store

    return Store(path, readonly=readonly)


store_option = click.option("--store", "store_dir", envvar="LMBENCH_STORE", type=click.Path(file_okay=False),
                            default=None, help="Results store folder [default: ./runs or $LMBENCH_STORE].")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lmbench")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """lmbench: small language-model experiments, quality beside cost.

    \b
    lmbench run                                   the default experiment (LSTM vs Transformer, CPU, minutes)
    lmbench run --plugin attention.lsh --dataset arxiv
    lmbench run -c exp.toml --set model.n_layers=4 --set recipe.budget=2h
    lmbench list [kind]   |   lmbench plugins   |   lmbench show RUN   |   lmbench export > runs.jsonl
    """
    ctx.ensure_object(dict)["debug"] = debug
    if debug:
        os.environ["LMBENCH_DEBUG"] = "1"


@cli.command("run")
@click.option("--plugin", "--preset", "preset", default=None,
              help=f"Preset to start from (e.g. attention.lsh) [default: {DEFAULT_PRESET} when nothing else is given].")
@click.option("-c", "--config", "files", multiple=True, type=click.Path(dir_okay=False),
              help="TOML spec file(s), merged in order after the preset.")
@click.option("--dataset", default=None, help="Dataset name (short names resolve when unambiguous).")
@click.option("--tokenizer", default=None, help="Tokenizer name.")
@click.option("--model", default=None, help="Model name.")
@click.option("--attention", default=None, help="Attention kernel name.")
@click.option("--recipe", default=None, help="Recipe name.")
@click.option("--seed", type=int, default=None, help="Random seed (run.seed).")
@click.option("--device", default=None, help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps.")
@click.option("--set", "sets", multiple=True, metavar="TABLE.KEY=VALUE", help="Override one spec value (repeatable).")
@click.option("--only", multiple=True, metavar="LABEL", help="Run only these variants of the preset.")
@click.option("--resume", "resume_id", default=None, metavar="RUN",
              help="Continue a stored run from its last checkpoint (same spec, same id).")
@click.option("--force", is_flag=True, help="Run again even if the store has this run done (checkpoints cleared).")
@click.option("--spec-json", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A fully expanded spec as JSON (used by sweeps' worker processes).")
@click.option("--nproc", type=int, default=1, help="Processes per node: >1 launches under torchrun (DDP).")
@click.option("--nnodes", default="1", help="torchrun --nnodes (e.g. 2 or 1:4).")
@click.option("--rdzv-endpoint", default=None, help="torchrun rendezvous host:port for multi-node runs.")
@click.option("--dry-run", is_flag=True, help="Resolve and validate the spec, print it, run nothing.")
@click.option("--no-report", is_flag=True, help="Do not write the report at the end.")
@click.option("--wait", is_flag=True, help="If another process is running the same run, wait for it (else exit 2).")
@store_option
@json_option
@click.pass_context
def run_cmd(ctx: click.Context, preset: str | None, files: tuple[str, ...], dataset: str | None, tokenizer: str | None,
            model: str | None, attention: str | None, recipe: str | None, seed: int | None, device: str | None,
            sets: tuple[str, ...], only: tuple[str, ...], resume_id: str | None, force: bool, spec_json: str | None,
            nproc: int, nnodes: str, rdzv_endpoint: str | None, dry_run: bool, no_report: bool,
            store_dir: str | None, as_json: bool, wait: bool) -> None:
    """Run an experiment: a preset, spec files and flags, merged in that order."""
    from .limits import check_process_count

    check_process_count(nproc)
    if nproc > 1 or nnodes not in ("1", "1:1"):
        from .distributed import launch_torchrun

        raise SystemExit(launch_torchrun(sys.argv[1:], nproc=nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint))
    from .config import build_spec
    from .plugins import default_host
    from .runner import Runner

    console = _console()
    host = default_host()
    overrides = {"dataset.name": dataset, "tokenizer.name": tokenizer, "model.name": model,
                 "attention.name": attention, "recipe.name": recipe, "run.seed": seed, "run.device": device}
    store = None if dry_run else _store(store_dir)
    if resume_id:
        record = store.get(resume_id)
        spec, force = dict(record.spec), False
        if record.label:
            spec.setdefault("run", {})["label"] = record.label
        console.print(f"resuming {record.id} ({record.status})")
    elif spec_json:
        from .files import load_json_file

        spec = load_json_file(spec_json, "spec file")
    else:
        if not (preset or files or recipe):
            preset = DEFAULT_PRESET
        spec = build_spec(host.registries, preset=preset, files=files, overrides=overrides, sets=sets)
    runner = Runner(store, host, console=console, force=force, wait=wait)
    if dry_run:
        planned = runner.plan(spec, only=only)
        out = [{"label": p.label, "run_id": p.run_id, "spec": p.resolved.spec} for p in planned]
        click.echo(json.dumps(out, indent=2, default=str))
        return
    command = "lmbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["run"] else \
        "lmbench run"
    if resume_id:
        command = f"lmbench run --resume {resume_id}"
    group_id, records = runner.run_spec(spec, command=command, only=only)
    reports = []
    if not no_report and runner.dist.is_main and records:
        reports = _write_reports(store, records, group_id, host, console)
    if as_json and runner.dist.is_main:  # under torchrun, one answer, not one per rank
        click.echo(json.dumps({"group": group_id, "runs": [{"id": r.id, "label": r.label, "status": r.status,
                                                              "reason": r.reason, "results": r.results}
                                                             for r in records],
                               "reports": [str(p) for p in reports]}, indent=2, default=str))
    if runner.stop.reason == "interrupted":  # 128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM
        raise SystemExit(128 + int(runner.stop_signal))
    failed = [r for r in records if r.status != "done"]
    if failed:
        raise SystemExit(1)


def _write_reports(store: Any, records: list, group_id: str, host: Any, console: Any) -> list:
    """Write the formats of the experiment's ``[report]`` table (stored with each run's spec)."""
    spec = records[0].spec
    cfg = spec.get("report", {})
    if not cfg.get("formats"):
        return []
    from .report import write_reports

    out_dir = store.root / "reports" / group_id
    paths = write_reports(store, records, out_dir, formats=tuple(cfg["formats"]), host=host,
                          title=cfg.get("title") or str(spec.get("preset", "")), plots=cfg.get("plots", True))
    for path in paths:
        console.print(f"report: {path}")
    return paths


@cli.command("list")
@click.argument("kind", required=False, type=click.Choice(LIST_KINDS))
@json_option
def list_cmd(kind: str | None, as_json: bool) -> None:
    """List registered components (all kinds, or one)."""
    from .plugins import default_host

    registries = default_host().registries
    kinds = [kind] if kind else list(LIST_KINDS)
    rows = [(k, e.name, e.plugin, e.summary) for k in kinds for e in registries[k]]
    if as_json:
        click.echo(json.dumps([{"kind": k, "name": n, "plugin": p, "summary": s} for k, n, p, s in rows], indent=2))
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("kind", "name", "summary"):
        table.add_column(column)
    for k, name, _plugin, summary in rows:
        table.add_row(k, name, summary)
    _console(stderr=False).print(table)


@cli.command("plugins")
@json_option
def plugins_cmd(as_json: bool) -> None:
    """Installed plugins: version, source, hooks and load errors."""
    from .plugins import default_host

    host = default_host()
    host.registries  # registration hooks run here, so their errors are recorded too
    infos = list(host.plugins.values())
    if as_json:
        click.echo(json.dumps([i.__dict__ for i in infos], indent=2))
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("plugin", "version", "module", "hooks", "status"):
        table.add_column(column)
    for info in infos:
        hooks = ", ".join(h.removeprefix("lmbench_") for h in info.hooks)
        status = "[green]ok[/green]" if info.ok else f"[red]error: {info.error}[/red]"
        table.add_row(info.name, info.version, info.module, hooks, status)
    _console(stderr=False).print(table)


@cli.command("show")
@click.argument("run_id")
@store_option
@json_option
def show_cmd(run_id: str, store_dir: str | None, as_json: bool) -> None:
    """Show one stored run: status, results, measurements, spec, command."""
    store = _store(store_dir, readonly=True)
    record = store.get(run_id)
    measurements = store.measurements(record.id)
    if as_json:
        click.echo(json.dumps({**record.__dict__, "measurements": measurements}, indent=2, default=str))
        return
    from rich.table import Table

    console = _console(stderr=False)
    console.print(f"[bold]{record.name}[/bold]  {record.id}  status: {record.status}"
                  + (f"  ({record.reason})" if record.reason else ""))
    console.print(f"command: {record.command}\nfolder:  {record.run_dir}")
    table = Table("result", "value", box=None, header_style="bold")
    for key, value in sorted(record.results.items()):
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    console.print(table)
    for name, data in measurements.items():
        rows = data.get("rows") if isinstance(data, dict) else None
        console.print(f"measurement [bold]{name}[/bold]: " + (f"{len(rows)} rows" if rows is not None else
                      ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in list(data.items())[:8] if not isinstance(v, (list, dict)))))
    console.print("spec: " + json.dumps(record.spec, sort_keys=True))


@cli.command("export")
@click.argument("run_ids", nargs=-1)
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None, help="File to write [default: stdout].")
@store_option
def export_cmd(run_ids: tuple[str, ...], out: str | None, store_dir: str | None) -> None:
    """Export runs (all, or the given ids) as JSON Lines: spec, env, results, steps, measurements."""
    store = _store(store_dir, readonly=True)
    ids = [store.get(r).id for r in run_ids] if run_ids else None
    if out is None:
        store.export_jsonl(sys.stdout, ids)
        return
    with open(out, "w") as handle:
        count = store.export_jsonl(handle, ids)
    _console().print(f"exported {count} run(s) to {out}")


@cli.command("env")
@click.option("--device", default="auto", help="Device to describe.")
def env_cmd(device: str) -> None:
    """Print the environment that is recorded with every run (JSON)."""
    from .measure.env import capture_environment
    from .plugins import default_host
    from .runner import pick_device

    click.echo(json.dumps(capture_environment(default_host().versions, device=pick_device(device)), indent=2,
                          default=str))


cli.add_command(report_cmd, "report")
cli.add_command(compare_cmd, "compare")
cli.add_command(sweep_cmd, "sweep")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors unless ``--debug``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("LMBENCH_DEBUG") == "1"
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        cli.main(args=argv, prog_name="lmbench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except LmbenchError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except OSError as exc:  # a full disk or read-only folder while writing a report or a file
        if debug:
            raise
        from .files import describe_os_error

        click.echo(f"error: {describe_os_error(exc)}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"error: {type(exc).__name__}: {first} (rerun with --debug for the traceback)", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
