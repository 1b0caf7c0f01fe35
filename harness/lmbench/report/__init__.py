"""Reports: markdown, LaTeX, HTML, CSV, TensorBoard and W&B writers of the results store.

:func:`write_reports` is what ``lmbench run``/``sweep``/``report`` call: it resolves each format
("md", "tex", "html", "csv", "tensorboard", "wandb" or any plugin's reporter) through the
reporter registry, builds it with its ``Config`` and calls ``write(runs, out_dir, store)``.
Nothing heavy is imported here; matplotlib loads only when a figure is drawn.

May import: the ground, ``lmbench.plugin`` (declared results, the reporter registry),
``lmbench.store`` and ``lmbench.stats``; never ``lmbench.run``, ``lmbench.launch`` or ``lmbench.cli``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import LmbenchError
from ..store import RunRecord, Store

__all__ = ["write_reports", "make_reporter"]


def make_reporter(name: str, *, host: Any = None, options: dict[str, Any] | None = None) -> Any:
    """Build the reporter registered as ``name`` (short or qualified), passing the options its
    ``Config`` has (``title``, ``plots``, ...); unknown options are ignored."""
    if host is None:
        from ..plugin.host import default_host

        host = default_host()
    entry = host.registries.reporters.get(name, prefer_plugin="core")
    factory = entry.load()
    config_cls = getattr(factory, "Config", None)
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        return factory(None)
    fields = {f.name for f in dataclasses.fields(config_cls) if f.init}
    return factory(config_cls(**{k: v for k, v in (options or {}).items() if k in fields}))


def write_reports(store: Store, records: Sequence[RunRecord], out_dir: str | Path, *,
                  formats: Sequence[str] = ("md",), host: Any = None, title: str = "",
                  plots: bool = True) -> list[Path]:
    """Write one report per format for ``records`` into ``out_dir``; return every file written.

    Raises :class:`~lmbench.errors.LmbenchError` for an unknown format or an empty selection.
    """
    records = list(records)
    if not records:
        raise LmbenchError("no runs to report; run an experiment first or pick runs with `lmbench report RUN`")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reporters = [make_reporter(f, host=host, options={"title": title, "plots": plots}) for f in formats]
    from .document import shared_documents

    paths: list[Path] = []
    with shared_documents(host):
        for reporter in reporters:
            paths.extend(Path(p) for p in reporter.write(records, out_dir, store))
    return list(dict.fromkeys(paths))
