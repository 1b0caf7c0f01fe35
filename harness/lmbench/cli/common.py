"""What every command shares: the consoles, the store and JSON options, and the experiment report.

Kept light: only click is imported here; rich, the store and the report writers are imported when a
command runs, so ``lmbench --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

#: The preset ``lmbench run`` starts from when nothing else is given.
DEFAULT_PRESET = "lm.compare"
#: Width of a console that writes to a pipe or a file: tables are as wide as their content.
UNBOUNDED_WIDTH = 1000
#: Exit status of a run stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130

_store_location = click.option(
    "--store", "store_dir", envvar="LMBENCH_STORE", type=click.Path(file_okay=False), default=None,
    callback=lambda ctx, param, value: _not_empty(ctx, param, value),
    help="Results store: a folder [default: ./runs or $LMBENCH_STORE] or postgresql+psycopg://USER@HOST/DB.")


def _not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .values import not_empty

    return not_empty(ctx, param, value)


def _set_artifacts(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        os.environ["LMBENCH_ARTIFACTS"] = value


#: ``--artifacts DIR``: run folders of a database store (``--store postgresql+psycopg://...``).
artifacts_option = click.option(
    "--artifacts", type=click.Path(file_okay=False), default=None, expose_value=False, callback=_set_artifacts,
    is_eager=True, metavar="DIR",
    help="Run folders (checkpoints, reports) of a database store, on a filesystem every node sees [env LMBENCH_ARTIFACTS].")


def store_option(command: Any) -> Any:
    """``--store`` and, beside it, ``--artifacts`` (the run folders of a database store)."""
    return _store_location(artifacts_option(command))
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def console(stderr: bool = True) -> Any:
    """A rich console: stderr for humans (status, progress), stdout for tables a command prints.

    ``soft_wrap``: a printed line is never broken at the terminal's width, so a path or an error
    message stays whole (and copyable) at any ``COLUMNS``; tables fit the width (a terminal's, or
    ``COLUMNS`` when set), wrapping cells at word boundaries rather than cutting them. Written to a
    pipe or a file with no ``COLUMNS`` (logs, CI output, a script's capture), tables keep their
    natural width.
    """
    import os

    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out.width = UNBOUNDED_WIDTH
    return out


def open_store(path: str | None, readonly: bool = False) -> Any:
    """The results store at ``path`` (``--store``), read-only for commands that only read."""
    from ..store import Store

    return Store(path, readonly=readonly)


def report_formats(values: tuple[str, ...]) -> tuple[str, ...]:
    """``-f md -f tex,html`` -> ``("md", "tex", "html")``; markdown when none is given."""
    out = [f.strip() for v in values for f in v.split(",") if f.strip()]
    return tuple(dict.fromkeys(out)) or ("md",)


def write_experiment_reports(store: Any, records: list, spec: dict[str, Any], out_name: str, host: Any,
                             out: Any, default_title: str = "") -> list[Path]:
    """Write the formats of an experiment's ``[report]`` table (validated like any spec table).

    Used at the end of ``lmbench run`` and ``lmbench sweep``; the report lands in
    ``<store>/reports/<out_name>/`` and each written file is named on ``out`` (figures counted).
    """
    from ..spec.config import HARNESS_CONFIGS, make_config
    from ..report import write_reports

    cfg = make_config(HARNESS_CONFIGS["report"], dict(spec.get("report", {})), "[report]")
    if not cfg.formats:
        return []
    paths = write_reports(store, records, store.root / "reports" / out_name, formats=tuple(cfg.formats), host=host,
                          title=cfg.title or default_title, plots=cfg.plots)
    for path in paths:
        if path.suffix not in (".png", ".svg"):
            out.print(f"report: {path}")
    return paths
