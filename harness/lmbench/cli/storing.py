"""Commands on whole stores: ``lmbench store merge SRC... DST`` and ``lmbench import runs.jsonl``.

Every command that takes ``--store`` also takes ``--artifacts DIR`` (``LMBENCH_ARTIFACTS``): where a
database store keeps its run folders (see :data:`lmbench.cli.common.artifacts_option`).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..errors import LmbenchError
from .common import artifacts_option, console, json_option, store_option


def _finish(report: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"copied": report.copied, "same": report.same, "groups": report.groups,
                               "duplicates": [{"run": r, "source": s, "kept": k} for r, s, k in report.duplicates],
                               "conflicts": [{"run": r, "source": s, "fields": f} for r, s, f in report.conflicts]},
                              indent=2))
    out = console()
    for line in report.lines():
        out.print(line, markup=False)
    if report.conflicts:
        raise LmbenchError(f"{len(report.conflicts)} run(s) conflict and were left as they are in the destination; "
                           "compare them with `lmbench show` and remove the wrong copy by hand")


@click.group("store")
def store_cmd() -> None:
    """Whole-store operations (merge stores made on different machines)."""


@store_cmd.command("merge")
@click.argument("locations", nargs=-1, required=True, metavar="SRC... DST")
@artifacts_option
@json_option
def merge_cmd(locations: tuple[str, ...], as_json: bool) -> None:
    """Copy runs of each SRC store (folder or URL) into DST: same run id = same run; conflicts are
    reported and nothing is overwritten."""
    from ..store import Store
    from ..store.merge import merge_stores

    if len(locations) < 2:
        raise LmbenchError("give at least one source store and the destination: lmbench store merge SRC... DST")
    *sources, destination = locations
    dst = Store(destination)
    report = merge_stores([Store(s, readonly=True) for s in sources], dst)
    _finish(report, as_json)


@click.command("import")
@click.argument("files", nargs=-1, required=True, metavar="RUNS.jsonl...")
@store_option
@json_option
def import_cmd(files: tuple[str, ...], store_dir: str | None, as_json: bool) -> None:
    """Add runs from `lmbench export` files (`-` reads stdin) to the store; conflicts are reported,
    nothing is overwritten."""
    from ..store import Store
    from ..store.merge import MergeReport, add_groups, jsonl_payloads, merge_into

    dst = Store(store_dir)
    report = MergeReport()
    groups: list[dict] = []  # sweeps and experiments: added after their runs
    for name in files:
        if name == "-":
            merge_into(dst, jsonl_payloads(sys.stdin, "stdin", groups), "stdin", report)
            continue
        try:
            with open(name, encoding="utf-8") as handle:
                merge_into(dst, jsonl_payloads(handle, name, groups), name, report)
        except OSError as exc:
            raise LmbenchError(f"cannot read {name} ({exc.strerror or exc}); give a file written by `lmbench export`")
    add_groups(dst, groups, report)
    _finish(report, as_json)


@store_cmd.command("add-mirror")
@click.argument("folder", type=click.Path(file_okay=False))
@store_option
def add_mirror_cmd(folder: str, store_dir: str | None) -> None:
    """Record FOLDER as another path to a database store's run folders (the same share mounted
    elsewhere, or a synchronised copy), so hosts that see it there may pass --artifacts FOLDER."""
    from pathlib import Path

    from ..store import Store
    from ..store.artifacts import add_mirror

    store = Store(store_dir)
    if store.url is None:
        raise LmbenchError(f"{store.path} is a folder store: its run folders are beside it; mirrors are for "
                           "database stores (--store URL)")
    locations = add_mirror(store.engine, Path(folder))
    console().print(f"results store {store.path}: run folders in {', '.join(locations)}", markup=False)
