"""Commands that run experiments: ``lmbench run`` and ``lmbench sweep``."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

import click

from . import values

from ..errors import LmbenchError
from .common import DEFAULT_PRESET, console, json_option, open_store, store_option, write_experiment_reports


@click.command("run")
@click.option("--plugin", "--preset", "preset", default=None, callback=values.not_empty,
              help=f"Preset to start from (e.g. attention.lsh) [default: {DEFAULT_PRESET} when nothing else is given].")
@click.option("-c", "--config", "files", multiple=True, type=click.Path(dir_okay=False),
              help="TOML spec file(s), merged in order after the preset.")
@click.option("--dataset", default=None, help="Dataset name (short names resolve when unambiguous).")
@click.option("--tokenizer", default=None, help="Tokenizer name.")
@click.option("--model", default=None, help="Model name.")
@click.option("--attention", default=None, help="Attention kernel name.")
@click.option("--recipe", default=None, help="Recipe name.")
@click.option("--seed", type=int, default=None, callback=values.non_negative, help="Random seed (run.seed).")
@click.option("--device", default=None, help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps.")
@click.option("--set", "sets", multiple=True, metavar="TABLE.KEY=VALUE", help="Override one spec value (repeatable).")
@click.option("--only", multiple=True, metavar="LABEL", help="Run only these variants of the preset.")
@click.option("--variant", "variants", multiple=True, metavar="LABEL:TABLE.KEY=VALUE,...",
              help="Add a variant beside the preset's (repeatable), e.g. gru:model.name=gru.gru,model.hidden_size=256; "
                   "a swapped component starts from its own defaults.")
@click.option("--resume", "resume_id", default=None, metavar="RUN",
              help="Continue a stored run from its last checkpoint (same spec, same id).")
@click.option("--force", is_flag=True, help="Run again even if the store has this run done (checkpoints cleared).")
@click.option("--reuse-stale", is_flag=True,
              help="Reuse a done run of the same spec even if the core's or a plugin's code changed since.")
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
            sets: tuple[str, ...], only: tuple[str, ...], variants: tuple[str, ...], resume_id: str | None,
            force: bool, spec_json: str | None,
            nproc: int, nnodes: str, rdzv_endpoint: str | None, dry_run: bool, no_report: bool,
            store_dir: str | None, as_json: bool, wait: bool, reuse_stale: bool) -> None:
    """Run an experiment: a preset, spec files and flags, merged in that order."""
    from ..spec.limits import check_process_count

    check_process_count(nproc)
    from ..run.launch_guard import check_nproc, check_stale_rendezvous

    check_nproc(nproc, nnodes, device)
    check_stale_rendezvous()
    if (nproc > 1 or nnodes not in ("1", "1:1")) and not dry_run:  # a dry run launches nothing
        from ..run.distributed import launch_torchrun

        raise SystemExit(launch_torchrun(sys.argv[1:], nproc=nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint))
    from ..spec.config import build_spec
    from ..spec.variants import parse_variant
    from ..plugin.host import default_host
    from ..run.runner import Runner

    out = console()
    host = default_host()
    overrides = {"dataset.name": dataset, "tokenizer.name": tokenizer, "model.name": model,
                 "attention.name": attention, "recipe.name": recipe, "run.seed": seed, "run.device": device}
    store = None if dry_run else open_store(store_dir)
    if resume_id:
        record = store.get(resume_id)
        spec, force = dict(record.spec), False
        if record.label:
            spec.setdefault("run", {})["label"] = record.label
        out.print(f"resuming {record.id} ({record.status})")
    elif spec_json:
        from ..files import load_json_file

        spec = load_json_file(spec_json, "spec file")
    else:
        if not (preset or files or recipe):
            preset = DEFAULT_PRESET
        spec = build_spec(host.registries, preset=preset, files=files, overrides=overrides, sets=sets, only=only,
                          variants=[parse_variant(v) for v in variants])
    runner = Runner(store, host, console=out, force=force, wait=wait, reuse_stale=reuse_stale)
    if dry_run:
        planned = runner.plan(spec, only=only)
        out = [{"label": p.label, "run_id": p.run_id, "spec": p.resolved.spec} for p in planned]
        click.echo(json.dumps(out, indent=2, default=str))
        return
    command = "lmbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["run"] else \
        "lmbench run"
    if resume_id:
        command = f"lmbench run --resume {resume_id}"
    elif spec_json:  # a sweep point: record the command that reproduces it, not the worker's
        from ..launch.base import point_command_of

        command = point_command_of(spec_json) or command
    group_id, records = runner.run_spec(spec, command=command, only=only)
    reports = []
    if not no_report and runner.dist.is_main and records:
        reports = write_experiment_reports(store, records, records[0].spec, group_id, host, out,
                                             default_title=str(records[0].spec.get("preset", "")))
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


# -- sweep ----------------------------------------------------------------------------------------
@click.command("sweep")
@click.option("--plugin", "--preset", "preset", default=None, callback=values.not_empty, help="Preset to start from (e.g. attention.lsh).")
@click.option("-c", "--config", "files", multiple=True, type=click.Path(dir_okay=False),
              help="TOML spec file(s), merged in order after the preset.")
@click.option("--grid", "grids", multiple=True, metavar="[VARIANT:]TABLE.KEY=V1,V2",
              help="A swept option and its values (repeatable; points are the cross product); "
                   "VARIANT: sweeps it in that variant only.")
@click.option("--only", multiple=True, metavar="LABEL", help="Sweep only these variants of the preset (repeatable).")
@click.option("--variant", "variants", multiple=True, metavar="LABEL:TABLE.KEY=VALUE,...",
              help="Add a variant beside the preset's (repeatable), e.g. gru:model.name=gru.gru,model.hidden_size=256; "
                   "a swapped component starts from its own defaults.")
@click.option("--seeds", default=None, metavar="0,1,2", help="Seeds per point (0,1,2 or 0-4).")
@click.option("--set", "sets", multiple=True, metavar="TABLE.KEY=VALUE", help="Override one spec value (repeatable).")
@click.option("-j", "--jobs", type=int, default=1, show_default=True,
              help="Points run at once, each in its own worker process (>1).")
@click.option("--launcher", default="local", show_default=True, metavar="NAME",
              help="Where the points run: local, slurm, or a plugin's launcher (lmbench list launchers).")
@click.option("--slurm-partition", default=None, help="SLURM partition of the job array.")
@click.option("--slurm-time", type=int, default=None, metavar="MIN", help="Time limit of each task, minutes [60].")
@click.option("--slurm-nodes", type=int, default=None, help="Nodes per point (multi-node: torch.distributed) [1].")
@click.option("--slurm-gpus-per-node", type=int, default=None, help="GPUs per node; one process per GPU [0].")
@click.option("--slurm-array-parallelism", type=int, default=None, metavar="N", help="Tasks of the array at once [256].")
@click.option("--slurm-tasks-per-node", type=int, default=None, metavar="N",
              help="Processes (torch.distributed ranks) per node of a point [one per GPU, else 1].")
@click.option("--slurm-cpus-per-task", type=int, default=None, metavar="N", help="CPUs per process.")
@click.option("--slurm-mem-per-task", "slurm_mem_per_task_gb", type=float, default=None, metavar="GB",
              help="Memory per process in GB (asked per node: tasks x GB).")
@click.option("--slurm-constraint", default=None, metavar="FEATURES", help="Node features, e.g. a100 or 'a100|h100'.")
@click.option("--slurm-account", default=None, help="SLURM account to charge.")
@click.option("--slurm-qos", default=None, help="SLURM quality of service.")
@click.option("--slurm-setup", multiple=True, metavar="LINE",
              help="A shell line run before each task, e.g. 'module load cuda' (repeatable, in order).")
@click.option("--slurm-signal-delay", type=int, default=None, metavar="S",
              help="Seconds before the time limit SLURM warns the task (USR2): it checkpoints and requeues [90].")
@click.option("--slurm-set", "slurm_sets", multiple=True, metavar="KEY=VALUE",
              help="Any other sbatch parameter, e.g. qos=high, account=lab (repeatable).")
@click.option("--name", default=None, callback=values.plain_name, help="Sweep name [default: derived from the spec, stable across reruns].")
@click.option("--force", is_flag=True, help="Run points again even if they are done in the store.")
@click.option("--reuse-stale", is_flag=True,
              help="Count a point done when a run of its spec is done, even if the code changed since.")
@click.option("--dry-run", is_flag=True, help="Validate and list the points and their run ids; run nothing.")
@click.option("--no-report", is_flag=True, help="Do not write the report at the end.")
@store_option
@json_option
def sweep_cmd(preset: str | None, files: tuple[str, ...], grids: tuple[str, ...], only: tuple[str, ...],
              variants: tuple[str, ...],
              seeds: str | None, sets: tuple[str, ...], jobs: int, launcher: str, slurm_partition: str | None,
              slurm_time: int | None, slurm_nodes: int | None, slurm_gpus_per_node: int | None,
              slurm_array_parallelism: int | None, slurm_sets: tuple[str, ...], name: str | None, force: bool,
              reuse_stale: bool, dry_run: bool, no_report: bool, store_dir: str | None, as_json: bool,
              **slurm_more: Any) -> None:
    """Run a grid of spec values times seeds; done points are skipped, so a killed sweep resumes."""
    from ..spec.config import build_spec
    from ..spec.variants import parse_variant
    from ..plugin.host import default_host
    from ..launch.sweep import (check_size, expand, grid_target, parse_grid, parse_seeds, point_command, run_sweep,
                                select_variants, validate_grid)

    if jobs < 1:
        raise LmbenchError("--jobs must be at least 1")
    if not (preset or files):
        raise LmbenchError("lmbench sweep needs a spec: --plugin PRESET or -c spec.toml")
    host = default_host()
    from ..launch.select import build_launcher, parse_key_values

    slurm = {"partition": slurm_partition, "time": slurm_time, "nodes": slurm_nodes,
             "gpus_per_node": slurm_gpus_per_node, "array_parallelism": slurm_array_parallelism,
             **{k[len("slurm_"):]: (list(v) or None) if k == "slurm_setup" else v for k, v in slurm_more.items()}}
    launcher_name, launcher_obj = build_launcher(host.registries, launcher, jobs=jobs, slurm=slurm,
                                                 slurm_set=parse_key_values(slurm_sets, "--slurm-set"))
    grid, seed_list = parse_grid(list(grids)), parse_seeds(seeds)
    if not grid and not seed_list:
        raise LmbenchError("nothing to sweep: give --grid TABLE.KEY=V1,V2 and/or --seeds 0,1,2")
    base = select_variants(build_spec(host.registries, preset=preset, files=files, sets=sets, only=only,
                                      variants=[parse_variant(v) for v in variants]), only)
    check_size(grid, seed_list, len(base.get("variants") or []))
    validate_grid(base, grid, host.registries)
    grid_paths = {grid_target(k)[1] for k in grid}
    spec = expand(base, grid, seed_list)
    base_args = (["--plugin", preset] if preset else []) + [a for f in files for a in ("-c", f)] + \
                [a for v in variants for a in ("--variant", v)] + [a for s in sets for a in ("--set", s)] + \
                (["--store", store_dir] if store_dir else [])
    base_labels = [v.get("label", "") for v in base.get("variants") or []]
    commands = {}
    for variant in spec["variants"]:
        base_label = next((lb for lb in base_labels
                           if lb and (variant["label"].startswith(lb + " ") or variant["label"] == lb)), "")
        point_sets = {k: v for k, v in variant["set"].items() if k in grid_paths or k == "run.seed"}
        commands[variant["label"]] = point_command(base_args, variant["label"], point_sets, bool(base_labels), base_label)
    command = "lmbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["sweep"] else "lmbench sweep"
    out = console()
    from ..store import Store

    if dry_run:
        from ..run.runner import Runner

        target = getattr(launcher_obj, "execution_target", None)  # the ids the launched workers will compute
        planned = Runner(open_store(store_dir) if reuse_stale else None, host, reuse_stale=reuse_stale,
                         target=target() if callable(target) else None).plan(spec)
        click.echo(json.dumps([{"label": p.label, "run_id": p.run_id, "command": commands.get(p.label)}
                               for p in planned], indent=2))
        return
    store = Store(store_dir)
    out.print(f"sweep: {len(spec['variants'])} point(s)" + (f", {jobs} at a time" if jobs > 1 else "")
              + (f" on {launcher_name}" if launcher_name != "core.local" else ""))
    result = run_sweep(store, spec, host=host, jobs=jobs, name=name, command=command, point_commands=commands,
                       force=force, console=out, launcher=launcher_obj, launcher_name=launcher_name,
                       reuse_stale=reuse_stale)
    if result.launched:
        _print_launched(out, result, launcher_name, as_json)
        return
    _print_aggregate(out, result.records)
    reports = []
    if not no_report and result.records:
        reports = write_experiment_reports(store, result.records, spec, result.group_id, host, out,
                                             default_title=result.name)
    if as_json:
        from ..launch.sweep import aggregate

        click.echo(json.dumps({"group": result.group_id, "name": result.name, "skipped": result.skipped,
                               "runs": [{"id": r.id, "label": r.label, "status": r.status, "reason": r.reason,
                                         "results": r.results} for r in result.records],
                               "aggregate": aggregate(result.records), "reports": [str(p) for p in reports]},
                              indent=2, default=str))
    out.print(f"sweep [bold]{result.name}[/bold]: {len(result.records)} point(s), {result.skipped} skipped as done, "
                  f"{len(result.failed)} not done" + (f" ({'; '.join(result.failed[:5])})" if result.failed else ""))
    if result.failed:
        raise SystemExit(1)


def _print_launched(out: Any, result: Any, launcher_name: str, as_json: bool) -> None:
    """A non-blocking launch: the job id of each point, and the commands that follow them."""
    if as_json:
        click.echo(json.dumps({"group": result.group_id, "name": result.name, "launcher": launcher_name,
                               "skipped": result.skipped,
                               "points": [{"run_id": s.run_id, "label": s.label, "job": s.job_id, "log": s.log}
                                          for s in result.submissions]}, indent=2))
    for sub in result.submissions:
        out.print(f"queued {sub.label} [dim]{sub.run_id}[/dim] job {sub.job_id}")
    out.print(f"sweep [bold]{result.name}[/bold]: {len(result.submissions)} point(s) queued on {launcher_name}, "
              f"{result.skipped} skipped as done. Follow it with `lmbench status {result.name}`; "
              f"when done: `lmbench report --sweep {result.name}`")


def _print_aggregate(out: Any, records: list) -> None:
    """Points across seeds: the headline table (mean ± 95% CI), fitted to the terminal's width."""
    from ..report.terminal import print_headline

    print_headline(out, records, title="sweep points (mean ± 95% CI over seeds)")


__all__ = ["run_cmd", "sweep_cmd"]
