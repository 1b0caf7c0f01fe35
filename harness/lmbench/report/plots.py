"""Report figures with matplotlib (Agg backend), each saved as PNG and SVG.

* :func:`learning_curves`: per-step metrics of each run (``steps`` table), one panel per key;
* :func:`quality_vs_cost`: a quality column against a throughput column, Pareto front marked;
* :func:`scaling`: time and memory against sequence length on log-log axes with fitted slopes
  (from a ``scaling`` measurement: rows of kernel, seq_len, fwd_ms, fwd_bwd_ms, peak_memory_bytes);
* :func:`error_vs_prompt_length`: rows of model, n_examples, error.

matplotlib is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compare import HIGHER, LOWER
from ..store import RunRecord, Store
from .tables import Column, ResultTable

MAX_PANELS = 4


@dataclass
class Figure:
    """A saved figure: title, PNG and SVG paths, and a caption (fitted slopes, front members)."""

    title: str
    png: Path
    svg: Path
    caption: str = ""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def slug(text: str) -> str:
    """A file-name-safe form of ``text``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "x"


def _save(fig: Any, stem: Path, title: str, caption: str = "") -> Figure:
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.parent / (stem.name + ".png"), stem.parent / (stem.name + ".svg")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    fig.savefig(svg)
    _pyplot().close(fig)
    return Figure(title, png, svg, caption)


# -- learning curves --------------------------------------------------------------------------
def _curve_keys(series: dict[str, dict[str, list[tuple[int, float]]]]) -> list[str]:
    keys: list[str] = []
    for per_run in series.values():
        for key, points in per_run.items():
            if len(points) >= 2 and key not in keys:
                keys.append(key)
    keys.sort(key=lambda k: (0 if "loss" in k else 1 if ("ppl" in k or "acc" in k or "f1" in k) else 2, k))
    quality = [k for k in keys if any(word in k for word in _QUALITY_WORDS)]
    return (quality or keys)[:MAX_PANELS]  # timings (eval_s, step_time_ms) are not learning curves


_QUALITY_WORDS = ("loss", "ppl", "perplexity", "acc", "f1", "error", "mse", "mae", "chrf", "bits_per_byte")


def learning_curves(store: Store, records: Sequence[RunRecord], stem: Path, title: str = "") -> Figure | None:
    """One panel per per-step metric (losses first), one line per run; None without curves."""
    series = {r.id: store.steps(r.id) for r in records}
    keys = _curve_keys(series)
    if not keys:
        return None
    from ..compare import point_label

    plt = _pyplot()
    points = list(dict.fromkeys(point_label(r) for r in records))
    colours = {p: plt.get_cmap("tab10")(i % 10) for i, p in enumerate(points)}
    # at most two panels a row, so each is half the page's width (four in a row were unreadable)
    ncols = min(2, len(keys))
    nrows = -(-len(keys) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    axes = [list(grid.flat)[: len(keys)]]
    for ax in list(grid.flat)[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes[0], keys):
        labelled: set[str] = set()
        for record in records:
            values = series[record.id].get(key, [])
            if len(values) < 2:
                continue
            steps, ys = zip(*values)
            point = point_label(record)
            ax.plot(steps, ys, color=colours[point], linewidth=1.1, alpha=0.85,
                    label=None if point in labelled else point)
            labelled.add(point)
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        _number_ticks(ax, "y")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if 1 < len(labels) <= 12:
        axes[0][-1].legend(fontsize=7)
    fig.suptitle(title or "learning curves", fontsize=10)
    return _save(fig, stem, title or "learning curves")


def _number_ticks(ax: Any, axis: str) -> None:
    """Compact tick labels (``20k``, ``1.5M``) on a linear axis."""
    from matplotlib.ticker import FuncFormatter

    from .tables import fmt_number

    target = ax.xaxis if axis == "x" else ax.yaxis
    if (ax.get_xscale() if axis == "x" else ax.get_yscale()) == "linear":
        target.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_number(float(v), 3)))


# -- quality against cost ------------------------------------------------------------------------
def pareto_front(points: Sequence[tuple[float, float]], x_dir: int = HIGHER, y_dir: int = HIGHER) -> list[int]:
    """Indices of the points no other point dominates (better or equal on both axes, better on one)."""
    oriented = [(x * x_dir, y * y_dir) for x, y in points]
    front = []
    for i, (xi, yi) in enumerate(oriented):
        dominated = any(xj >= xi and yj >= yi and (xj > xi or yj > yi) for j, (xj, yj) in enumerate(oriented) if j != i)
        if not dominated:
            front.append(i)
    return front


def pick_axes(table: ResultTable) -> tuple[Column, Column] | None:
    """(quality column, cost column) with values in at least two rows, or None."""

    def filled(col: Column) -> int:
        return sum(1 for r in table.rows if r.cells.get(col.key) and r.cells[col.key].summary is not None)

    quality = [c for c in table.columns if c.kind == "quality" and c.direction in (HIGHER, LOWER) and filled(c) >= 2]
    cost = [c for c in table.columns if c.kind == "cost" and c.direction in (HIGHER, LOWER) and filled(c) >= 2]
    cost.sort(key=lambda c: (0 if "per_s" in c.key else 1 if ("ms" in c.key or "time" in c.key) else 2))
    if not quality or not cost:
        return None
    return quality[0], cost[0]


def quality_vs_cost(table: ResultTable, stem: Path, title: str = "") -> Figure | None:
    """Scatter of quality against throughput (or time) per point, the Pareto front joined and ringed."""
    axes_cols = pick_axes(table)
    if axes_cols is None:
        return None
    q, c = axes_cols
    labels, pts = [], []
    for row in table.rows:
        qs, cs = row.cells[q.key].summary, row.cells[c.key].summary
        if qs is not None and cs is not None:
            labels.append(row.label)
            pts.append((cs.mean * c.scale, qs.mean * q.scale))
    front = pareto_front(pts, c.direction, q.direction)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    xs, ys = zip(*pts)
    ax.scatter(xs, ys, color="tab:blue", zorder=3)
    for label, (x, y) in zip(labels, pts):
        ax.annotate(label, (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ordered = sorted((pts[i] for i in front), key=lambda p: p[0])
    ax.plot([p[0] for p in ordered], [p[1] for p in ordered], "--", color="tab:red", zorder=2, label="Pareto front")
    ax.scatter([p[0] for p in ordered], [p[1] for p in ordered], s=120, facecolors="none", edgecolors="tab:red", zorder=4)
    if min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    arrow = lambda d: "higher is better" if d == HIGHER else "lower is better"  # noqa: E731
    ax.set_xlabel(f"{c.header} ({arrow(c.direction)})")
    ax.set_ylabel(f"{q.header} ({arrow(q.direction)})")
    ax.grid(alpha=0.3)
    _number_ticks(ax, "x")
    ax.legend(fontsize=7)
    name = title or f"{q.header} vs {c.header}"
    ax.set_title(name, fontsize=10)
    caption = "Pareto front: " + ", ".join(labels[i] for i in front)
    return _save(fig, stem, name, caption)


# -- scaling with sequence length ------------------------------------------------------------------
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


def scaling(rows: Sequence[dict[str, Any]], stem: Path, title: str = "") -> tuple[Figure | None, list[dict[str, Any]]]:
    """Time and memory against sequence length (log-log) per kernel; returns the figure and slope rows.

    Failed rows (``status`` other than ok, e.g. ``oom``) are left out of the fit and listed in the
    caption as ``kernel: OOM at 16384``.
    """
    kernels: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        kernels.setdefault(str(row.get("kernel", row.get("model", "?"))), []).append(row)
    time_keys = [k for k in ("fwd_ms", "fwd_bwd_ms", "time_ms") if any(_pos(r.get(k)) for r in rows)]
    mem_keys = [k for k in ("peak_memory_bytes",) if any(_pos(r.get(k)) for r in rows)]
    if not time_keys and not mem_keys:
        return None, []
    plt = _pyplot()
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
    return _save(fig, stem, name, caption), slopes


def error_vs_prompt_length(rows: Sequence[dict[str, Any]], stem: Path, title: str = "") -> Figure | None:
    """Error against number of in-context examples, one line per model."""
    models: dict[str, list[tuple[float, float, Any, Any]]] = {}
    for row in rows:
        x, y = row.get("n_examples"), row.get("error")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and math.isfinite(y):
            models.setdefault(str(row.get("model", "model")), []).append((x, y, row.get("error_p10"), row.get("error_p90")))
    if not models:
        return None
    plt = _pyplot()
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
    return _save(fig, stem, name)
