"""``lmbench noise``: measure the noise floor of a kind of run (see :mod:`lmbench.stats.noise`)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from ..errors import LmbenchError, UnknownNameError
from .common import console, json_option, open_store, store_option


@click.command("noise")
@click.argument("source", required=False, metavar="[SPEC-OR-RUN]")
@click.option("--plugin", "--preset", "preset", default=None, help="Preset to start from (e.g. lm.compare).")
@click.option("-c", "--config", "files", multiple=True, type=click.Path(dir_okay=False),
              help="TOML spec file(s), merged in order after the preset.")
@click.option("--set", "sets", multiple=True, metavar="TABLE.KEY=VALUE", help="Override one spec value (repeatable).")
@click.option("--only", multiple=True, metavar="LABEL", help="Only these variants of the preset.")
@click.option("-n", "--repeats", type=int, default=5, show_default=True, help="Runs of the spec.")
@click.option("--same-seed", is_flag=True,
              help="Repeat with the spec's own seed (timing noise only) instead of seeds seed..seed+N-1.")
@click.option("--force", is_flag=True, help="Run seeds again even if the store has them done.")
@store_option
@json_option
def noise_cmd(source: str | None, preset: str | None, files: tuple[str, ...], sets: tuple[str, ...],
              only: tuple[str, ...], repeats: int, same_seed: bool, force: bool, store_dir: str | None,
              as_json: bool) -> None:
    """Run a spec N times and store each result's coefficient of variation (its noise floor).

    SPEC-OR-RUN is a stored run id (its spec is run again), a TOML spec file, or a preset name;
    --plugin/-c/--set build the spec as for `lmbench run`. `lmbench compare` then uses the floor of
    each point (its spec without the seed) as its default tolerance, and may judge one seed a side against it.
    """
    from ..spec.config import build_spec
    from ..stats.noise import measure_noise, run_kind
    from ..plugin.host import default_host

    out = console()
    host = default_host()
    store = open_store(store_dir)
    spec = None
    if source:
        try:
            record = store.get(source)
            spec = dict(record.spec)
            if record.preset:
                spec.setdefault("preset", record.preset)
        except UnknownNameError:
            if Path(source).is_file():
                files = (source, *files)
            elif preset is None:
                preset = source
            else:
                raise LmbenchError(f"'{source}' is neither a stored run nor a spec file, and --plugin is given; "
                                   "pass one of them") from None
    if spec is None:
        if not (preset or files):
            raise LmbenchError("lmbench noise needs a spec: a run id, a spec file, a preset, or --plugin/-c")
        spec = build_spec(host.registries, preset=preset, files=files, sets=sets, only=only)
    elif sets:
        from ..spec.config import assignments_to_spec, merge

        spec = merge(spec, assignments_to_spec(list(sets)))
    command = "lmbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["noise"] else \
        "lmbench noise"
    kind = run_kind(spec)
    out.print(f"noise of {kind}: {repeats} " + ("same-seed repeats" if same_seed else "seeds"))
    section, path, records = measure_noise(store, spec, repeats=repeats, same_seed=same_seed, host=host, console=out,
                                           only=only, force=force, command=command)
    if as_json:
        click.echo(json.dumps({"kind": kind, "mode": "same_seed" if same_seed else "seeds", "file": str(path),
                               **section}, indent=2))
        return
    _print_floor(kind, section)
    out.print(f"noise floor: {path}")


def _print_floor(kind: str, section: dict) -> None:
    from ..report.terminal import print_table

    rows = [[point, metric, f"{cv:.2%}"] for point, cvs in section["points"].items()
            for metric, cv in sorted(cvs.items())]
    print_table(console(stderr=False), f"noise floor of {kind} (coefficient of variation over "
                                       f"{section['repeats']} runs)", ["point", "result", "cv"], rows,
                left=("point", "result"))


__all__ = ["noise_cmd"]
