"""The looped lab's report figures: error against prompt length, one line per model and baseline.

Drawn from the ``error_vs_prompt_length`` measurement that ``looped.train`` records (rows of
model, n_examples, error, error_p10, error_p90) through the ``lmbench_report_figures`` hook.
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmbench import hookimpl

#: The measurement this module draws.
MEASUREMENTS = ("error_vs_prompt_length",)


@hookimpl
def lmbench_report_figures(runs, store, out_dir):
    """One figure per run that recorded an ``error_vs_prompt_length`` measurement."""
    from lmbench import run_name
    from lmbench import figure_stem

    figures = []
    for record in runs:
        data = store.measurements(record.id).get("error_vs_prompt_length")
        rows = data.get("rows") if isinstance(data, dict) else None
        if isinstance(rows, list) and rows:
            fig = error_vs_prompt_length(rows, figure_stem(out_dir, run_name(record), "error_vs_prompt_length"),
                                         f"{run_name(record)}: error vs prompt length")
            if fig is not None:
                figures.append(fig)
    return figures


def _pos(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def error_vs_prompt_length(rows: Sequence[dict[str, Any]], stem: Path, title: str = "") -> Any:
    """Error against number of in-context examples, one line per model."""
    models: dict[str, list[tuple[float, float, Any, Any]]] = {}
    for row in rows:
        x, y = row.get("n_examples"), row.get("error")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and math.isfinite(y):
            models.setdefault(str(row.get("model", "model")), []).append((x, y, row.get("error_p10"), row.get("error_p90")))
    if not models:
        return None
    from lmbench import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for model, pts in models.items():
        pts.sort(key=lambda p: p[0])
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=model, markersize=3, linewidth=1.2)
        if all(_pos(p[2]) and _pos(p[3]) for p in pts):  # p10-p90 band when the rows carry one
            ax.fill_between([p[0] for p in pts], [p[2] for p in pts], [p[3] for p in pts], color=line.get_color(),
                            alpha=0.15, linewidth=0)
    if all(p[1] > 0 for pts in models.values() for p in pts):
        ax.set_yscale("log")
    ax.set_xlabel("in-context examples (prompt length)")
    ax.set_ylabel("error")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    name = title or "error against prompt length"
    ax.set_title(name, fontsize=10)
    return save_figure(fig, stem, name)
