"""Generic report figures with matplotlib (Agg backend), each saved as PNG and SVG.

* :func:`learning_curves`: per-step quality values of each run (the ``steps`` table), one
  column of panels per declared quality key, one row per x axis: optimizer steps, tokens trained
  (when the recipe logs the shared ``tokens`` count) and wall-clock seconds since the run's first
  logged step (a budgeted comparison is read against time);
* :func:`quality_vs_cost`: the first headline quality result against the first headline cost
  result, Pareto front marked.

Lab-specific figures come from the labs (``lmbench_report_figures``); :func:`save_figure`,
:func:`slug` and :class:`Figure` are what they use. matplotlib is imported inside the
functions, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..numbers import fmt_number
from ..stats.points import point_label
from ..plugin.results import HIGHER, ResultRegistry, vocabulary
from ..store import RunRecord, Store
from .tables import Column, ResultTable, headline_columns

MAX_PANELS = 4
#: The x axes learning curves can be drawn against.
CURVE_AXES = ("step", "tokens", "seconds")


@dataclass
class Figure:
    """A saved figure: title, PNG and SVG paths, a caption, and optional rows shown as a table under it."""

    title: str
    png: Path
    svg: Path
    caption: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    rows_caption: str = ""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend (no display needed): for plugins drawing figures."""
    return _pyplot()


def slug(text: str) -> str:
    """A file-name-safe form of ``text``."""
    import re

    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "x"


def figure_stem(out_dir: Path, *parts: str) -> Path:
    """``out_dir/fig-<part>-<part>``: where a figure's PNG and SVG go (suffixes added on save)."""
    return Path(out_dir) / ("fig-" + "-".join(slug(p) for p in parts))


def save_figure(fig: Any, stem: Path, title: str, caption: str = "", *, rows: list[dict[str, Any]] | None = None,
                rows_caption: str = "") -> Figure:
    """Save a matplotlib figure as ``stem.png`` and ``stem.svg``, close it, and describe it."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.parent / (stem.name + ".png"), stem.parent / (stem.name + ".svg")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    fig.savefig(svg)
    _pyplot().close(fig)
    return Figure(title, png, svg, caption, list(rows or []), rows_caption)


_save = save_figure


# -- learning curves --------------------------------------------------------------------------
def step_clock(store: Store, run_id: str) -> dict[int, float]:
    """Seconds since the run's first logged step, per step (the last write of a step wins)."""
    rows = store.step_times(run_id)
    clock: dict[int, float] = {}
    for step, time in rows:
        clock[int(step)] = float(time)
    if not clock:
        return {}
    start = min(clock.values())
    return {step: t - start for step, t in clock.items()}


def curve_keys(series: dict[str, dict[str, list[tuple[int, float]]]], vocab: ResultRegistry,
               plugins: dict[str, str | None] | None = None) -> list[str]:
    """Per-step keys that are quality results (declared first, then guessed), at most :data:`MAX_PANELS`."""
    found: dict[str, tuple[int, int, str]] = {}
    for run_id, per_run in series.items():
        plugin = (plugins or {}).get(run_id)
        for key, points in per_run.items():
            spec = vocab.spec(key, plugin)
            if len(points) >= 2 and spec.kind == "quality" and key not in found:
                found[key] = (int(spec.guessed), vocab.position(key, plugin), key)
    return sorted(found, key=lambda k: found[k])[:MAX_PANELS]


def _x_values(axis: str, steps: Sequence[int], tokens: dict[int, float], clock: dict[int, float]) -> list[float] | None:
    """The x values of ``steps`` on ``axis``. Tokens are read at the steps that logged them and
    interpolated (linearly, through 0 at step 0) at the others, e.g. evaluation steps."""
    if axis == "step":
        return [float(s) for s in steps]
    if axis == "seconds":
        return [clock[s] for s in steps] if clock and all(s in clock for s in steps) else None
    if len(tokens) < 1:
        return None
    import numpy as np

    known = sorted(tokens.items())
    xs, ys = [0.0] + [float(k) for k, _ in known], [0.0] + [float(v) for _, v in known]
    per_step = ys[-1] / xs[-1] if xs[-1] > 0 else 0.0
    return [float(np.interp(s, xs, ys)) if s <= xs[-1] else ys[-1] + (s - xs[-1]) * per_step for s in steps]


def learning_curves(store: Store, records: Sequence[RunRecord], stem: Path, title: str = "", *,
                    axes: Sequence[str] = CURVE_AXES, vocab: ResultRegistry | None = None) -> Figure | None:
    """Quality curves of every run: one panel per key, one row of panels per x axis in ``axes``
    that the runs' logs support (steps always; tokens when ``tokens`` is logged; seconds from the
    store's clock). One line per run, coloured by point. None without curves."""
    from ..stats.points import recipe_plugin

    vocab = vocab or vocabulary()
    unknown = [a for a in axes if a not in CURVE_AXES]
    if unknown:
        from ..errors import LmbenchError

        raise LmbenchError(f"learning curves cannot be drawn against {', '.join(unknown)}; use "
                           f"{', '.join(CURVE_AXES)}")
    series = {r.id: store.steps(r.id) for r in records}
    keys = curve_keys(series, vocab, {r.id: recipe_plugin(r) for r in records})
    if not keys:
        return None
    tokens = {r.id: {s: v for s, v in series[r.id].get("tokens", [])} for r in records}
    clocks = {r.id: step_clock(store, r.id) for r in records} if "seconds" in axes else {}
    rows = [a for a in axes if a == "step" or (a == "tokens" and any(len(t) >= 2 for t in tokens.values()))
            or (a == "seconds" and any(len(c) >= 2 for c in clocks.values()))]
    plt = _pyplot()
    points = list(dict.fromkeys(point_label(r) for r in records))
    colours = {p: plt.get_cmap("tab10")(i % 10) for i, p in enumerate(points)}
    # one row per metric, one column per x axis (at most three): panels stay a third of the page wide
    fig, grid = plt.subplots(len(keys), len(rows), figsize=(4.2 * len(rows), 3.0 * len(keys)), squeeze=False)
    x_labels = {"step": "step", "tokens": "tokens trained", "seconds": "wall-clock seconds"}
    for r, axis in enumerate(rows):
        for ax, key in zip(grid[:, r], keys):
            labelled: set[str] = set()
            for record in records:
                values = series[record.id].get(key, [])
                if len(values) < 2:
                    continue
                steps, ys = zip(*values)
                xs = _x_values(axis, steps, tokens[record.id], clocks.get(record.id, {}))
                if xs is None:
                    continue
                point = point_label(record)
                ax.plot(xs, ys, color=colours[point], linewidth=1.1, alpha=0.85,
                        label=None if point in labelled else point)
                labelled.add(point)
            ax.set_xlabel(x_labels[axis])
            ax.set_ylabel(vocab.spec(key).label())
            ax.grid(alpha=0.3)
            _number_ticks(ax, "y")
            _number_ticks(ax, "x")
    legend: dict[str, Any] = {}
    for ax in grid[:, 0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    if 1 < len(legend) <= 12:
        grid[0][-1].legend(list(legend.values()), list(legend), fontsize=7)
    fig.suptitle(title or "learning curves", fontsize=10)
    caption = "Against " + ", ".join(x_labels[a] for a in rows) + "."
    if "seconds" in rows:
        caption += " Seconds count from each run's first logged step (a resumed run includes its pause)."
    return save_figure(fig, stem, title or "learning curves", caption)


def _number_ticks(ax: Any, axis: str) -> None:
    """Compact tick labels (``20k``, ``1.5M``) on a linear axis."""
    from matplotlib.ticker import FuncFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    if (ax.get_xscale() if axis == "x" else ax.get_yscale()) == "linear":
        target.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_number(float(v), 3) if abs(v) >= 1e4
                                                 else f"{v:g}"))


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
    """(quality, cost) columns for the Pareto plot: the first of the headline table's quality and
    cost columns that have a direction and values in at least two rows; None when either is missing."""

    def filled(col: Column) -> int:
        return sum(1 for r in table.rows if r.cells.get(col.key) and r.cells[col.key].summary is not None)

    shown = headline_columns(table.columns)
    quality = [c for c in shown if c.kind == "quality" and c.direction and filled(c) >= 2]
    cost = [c for c in shown if c.kind == "cost" and c.direction and filled(c) >= 2]
    if not quality or not cost:
        return None
    return quality[0], cost[0]


def quality_cost_points(table: ResultTable) -> tuple[Column, Column, list[str], list[tuple[float, float]]] | None:
    """(quality column, cost column, point labels, (cost, quality) means as shown) of the quality-vs-cost
    figure, the report's and ``lmbench ui``'s; None where :func:`pick_axes` finds no pair."""
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
    return q, c, labels, pts


def quality_vs_cost(table: ResultTable, stem: Path, title: str = "") -> Figure | None:
    """Scatter of quality against throughput (or time) per point, the Pareto front joined and ringed."""
    drawn = quality_cost_points(table)
    if drawn is None:
        return None
    q, c, labels, pts = drawn
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
    return save_figure(fig, stem, name, caption)
