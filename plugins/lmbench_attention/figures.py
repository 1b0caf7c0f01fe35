"""The attention lab's report figures: time and memory against sequence length, with fitted slopes.

Drawn from the ``scaling`` measurement that ``attention.scaling`` records (rows of kernel,
seq_len, fwd_ms, fwd_bwd_ms, peak_memory_bytes, status) for every run of a report that has one,
through the ``lmbench_report_figures`` hook; the fitted exponents come back as the figure's
table. matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmbench import hookimpl

#: The measurement this module draws.
MEASUREMENTS = ("scaling",)


@hookimpl
def lmbench_report_figures(runs, store, out_dir):
    """One log-log time/memory figure per run that recorded a ``scaling`` measurement."""
    from lmbench import run_name
    from lmbench import figure_stem

    figures = []
    for record in runs:
        for name, data in store.measurements(record.id).items():
            rows = data.get("rows") if isinstance(data, dict) else None
            if not isinstance(rows, list) or not rows:
                continue
            if name == "scaling" or (name.startswith("scaling") and any("seq_len" in r for r in rows)):
                fig = scaling(rows, figure_stem(out_dir, run_name(record), name),
                              f"{run_name(record)}: time and memory vs sequence length")
                if fig is not None:
                    fig.rows = [{"run": run_name(record), **row} for row in fig.rows]
                    figures.append(fig)
    return figures


def fit_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The slope of log(y) against log(x) by least squares (the empirical exponent); None if < 2 points."""
    import numpy as np

    pairs = [(x, y) for x, y in zip(xs, ys) if _pos(x) and _pos(y)]
    if len(pairs) < 2 or len({p[0] for p in pairs}) < 2:
        return None
    lx, ly = np.log([p[0] for p in pairs]), np.log([p[1] for p in pairs])
    return float(np.polyfit(lx, ly, 1)[0])


def _pos(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _ok_row(row: dict[str, Any]) -> bool:
    """A measured row: status ok/done, or no status and no error message (a numeric ``error`` is data)."""
    if row.get("status") is not None:
        return str(row["status"]).lower() in ("ok", "done")
    return not (isinstance(row.get("error"), str) and row["error"])


def scaling(rows: Sequence[dict[str, Any]], stem: Path, title: str = "") -> Any:
    """Time and memory against sequence length (log-log) per kernel: the figure, its rows the fitted slopes.

    Failed rows (``status`` other than ok, e.g. ``oom``) are left out of the fit and listed in the
    caption as ``kernel: OOM at 16384``.
    """
    kernels: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        kernels.setdefault(str(row.get("kernel", row.get("model", "?"))), []).append(row)
    time_keys = [k for k in ("fwd_ms", "fwd_bwd_ms", "time_ms") if any(_pos(r.get(k)) for r in rows)]
    mem_keys = [k for k in ("peak_memory_bytes",) if any(_pos(r.get(k)) for r in rows)]
    if not time_keys and not mem_keys:
        return None
    from lmbench import pyplot, save_figure

    plt = pyplot()
    panels = [("time (ms)", time_keys, 1.0)] if time_keys else []
    if mem_keys:
        panels.append(("peak memory (MiB)", mem_keys, 1.0 / 2**20))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.8), squeeze=False)
    slopes, failures = [], []
    for ax, (ylabel, keys, scale) in zip(axes[0], panels):
        for kernel, krows in kernels.items():
            ok = sorted((r for r in krows if _ok_row(r) and _pos(r.get("seq_len"))), key=lambda r: r["seq_len"])
            for key in keys:
                xs = [r["seq_len"] for r in ok if _pos(r.get(key))]
                ys = [r[key] * scale for r in ok if _pos(r.get(key))]
                if not xs:
                    continue
                slope = fit_slope(xs, ys)
                if slope is not None:
                    slopes.append({"kernel": kernel, "metric": key, "slope": round(slope, 3),
                                   "from": min(xs), "to": max(xs), "points": len(xs)})
                label = f"{kernel} {key.replace('_ms', '').replace('_bytes', '')}" + \
                        (f" (slope {slope:.2f})" if slope is not None else "")
                ax.plot(xs, ys, "o-" if "bwd" not in key else "s--", label=label, markersize=4, linewidth=1.2)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6)
    for kernel, krows in kernels.items():
        for r in krows:
            if not _ok_row(r):
                failures.append(f"{kernel}: {str(r.get('status') or 'error').upper()} at {r.get('seq_len')}")
    name = title or "time and memory against sequence length"
    fig.suptitle(name, fontsize=10)
    caption = "Slopes are least-squares fits of log(y) on log(seq_len)."
    if failures:
        caption += " Not plotted: " + "; ".join(failures) + "."
    return save_figure(fig, stem, name, caption, rows=slopes,
                       rows_caption="slope of log(time or memory) on log(sequence length): 1 linear, 2 quadratic")
