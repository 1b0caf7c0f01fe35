"""The UI's interactive charts: Plotly figure specs built on the server, drawn by plotly.js in the page.

Each function returns a figure as plain JSON data (``{"data": [...], "layout": {...}}``, made by
``plotly.graph_objects`` and its validators), or None when there is nothing to draw. The page only
hands the spec to ``Plotly.react``: no chart is drawn by hand-written code. Every label that comes
from a store (run labels, result names, kernels) is HTML-escaped before it enters a spec, because
plotly.js reads a few HTML tags in text.

Which curves and axes a chart shows follows the reports (:mod:`lmbench.report.plots`): learning
curves against steps, tokens trained and wall-clock seconds; quality against cost with the Pareto
front of :func:`lmbench.report.plots.pareto_front`.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

from ..plugin.results import HIGHER, ResultRegistry
from ..report.plots import pareto_front, quality_cost_points
from ..report.tables import ResultTable

#: Points drawn per line at most (long runs are thinned evenly; the last point is always kept).
MAX_POINTS = 2000
#: Per-step keys that are x axes, not curves.
AXIS_KEYS = ("tokens",)
X_TITLES = {"step": "step", "tokens": "tokens trained", "seconds": "wall-clock seconds"}
HEIGHT = 300


def _text(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _spec(fig: Any) -> dict[str, Any]:
    return json.loads(fig.to_json())


def _layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    return dict(title=dict(text=_text(title), font=dict(size=13)), height=HEIGHT, template="plotly_white",
                margin=dict(l=60, r=20, t=40, b=45), xaxis=dict(title=dict(text=_text(x_title))),
                yaxis=dict(title=dict(text=_text(y_title))), legend=dict(font=dict(size=10)), **extra)


def thin(points: Sequence[Any], limit: int = MAX_POINTS) -> list[Any]:
    """At most ``limit`` of ``points``, evenly spaced, the first and last kept."""
    points = list(points)
    if len(points) <= limit:
        return points
    stride = len(points) / (limit - 1)
    return [points[int(i * stride)] for i in range(limit - 1)] + [points[-1]]


def x_values(axis: str, steps: Sequence[int], tokens: dict[int, float], clock: dict[int, float]) -> list[float] | None:
    """``steps`` on ``axis``: themselves, the tokens logged at them (None where none were), or the
    seconds since the run's first logged step; None when the run's log cannot give that axis."""
    if axis == "step":
        return [float(s) for s in steps]
    source = tokens if axis == "tokens" else clock
    if not source or not all(s in source for s in steps):
        return None
    return [float(source[s]) for s in steps]


def curve_order(keys: Sequence[str], vocab: ResultRegistry, plugin: str | None) -> list[str]:
    """Per-step keys to chart, quality first, then cost, then the rest, each in declaration order."""
    rank = {"quality": 0, "cost": 1, "info": 2}
    shown = [k for k in keys if k not in AXIS_KEYS]
    return sorted(shown, key=lambda k: (rank[vocab.spec(k, plugin).kind], vocab.position(k, plugin), k))


def unit_label(spec: Any) -> str:
    """A declared result's header with its unit (``val loss``, ``throughput (tok/s)``)."""
    text = spec.label()
    return text + f" ({spec.unit})" if spec.unit and spec.scale == 1.0 and spec.unit not in text else text


def run_curves(series: dict[str, list[tuple[int, float]]], clock: dict[int, float], axis: str,
               vocab: ResultRegistry, plugin: str | None, *, limit: int = 8) -> list[dict[str, Any]]:
    """One chart per logged key of one run (loss, lr, throughput, ...) against ``axis``."""
    import plotly.graph_objects as go

    tokens = {s: v for s, v in series.get("tokens", [])}
    charts = []
    for key in curve_order(list(series), vocab, plugin)[:limit]:
        points = [(s, v) for s, v in series[key] if v is not None and math.isfinite(v)]
        if not points:
            continue
        points = thin(points)
        xs = x_values(axis, [s for s, _ in points], tokens, clock)
        if xs is None:
            continue
        spec = vocab.spec(key, plugin)
        fig = go.Figure(go.Scatter(x=xs, y=[v for _, v in points], mode="lines+markers" if len(points) < 30 else "lines",
                                   name=_text(key), line=dict(width=1.5)),
                        layout=_layout(unit_label(spec), X_TITLES[axis], key))
        charts.append({"key": key, "figure": _spec(fig)})
    return charts


def overlaid_curves(runs: Sequence[tuple[str, str, dict[str, list[tuple[int, float]]]]], keys: Sequence[str],
                    vocab: ResultRegistry) -> list[dict[str, Any]]:
    """Learning curves of many runs overlaid, one chart per key; ``runs`` is (point label, run id,
    series). Runs of one point (its seeds) share a colour and one legend entry."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    palette = qualitative.Plotly
    points = list(dict.fromkeys(label for label, _, _ in runs))
    charts = []
    for key in keys:
        fig = go.Figure(layout=_layout(f"learning curves: {vocab.spec(key).label()}", "step", key))
        shown: set[str] = set()
        for label, run_id, series in runs:
            values = [(s, v) for s, v in series.get(key, []) if v is not None and math.isfinite(v)]
            if len(values) < 2:
                continue
            values = thin(values)
            fig.add_trace(go.Scatter(x=[s for s, _ in values], y=[v for _, v in values], mode="lines",
                                     name=_text(label), legendgroup=_text(label), showlegend=label not in shown,
                                     hovertext=_text(run_id), line=dict(width=1.3,
                                                                        color=palette[points.index(label) % len(palette)])))
            shown.add(label)
        if fig.data:
            charts.append({"key": key, "figure": _spec(fig)})
    return charts


def quality_vs_cost(table: ResultTable) -> dict[str, Any] | None:
    """Each point's headline quality against its headline cost, the Pareto front joined and ringed
    (the axes and points of the report's figure: :func:`lmbench.report.plots.quality_cost_points`)."""
    import plotly.graph_objects as go

    drawn = quality_cost_points(table)
    if drawn is None:
        return None
    q, c, labels, pts = drawn
    front = sorted((pts[i] for i in pareto_front(pts, c.direction, q.direction)), key=lambda p: p[0])
    better = lambda d: "higher is better" if d == HIGHER else "lower is better"  # noqa: E731
    fig = go.Figure(layout=_layout(f"{q.header} vs {c.header}", f"{c.header} ({better(c.direction)})",
                                   f"{q.header} ({better(q.direction)})"))
    fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers+text",
                             text=[_text(l) for l in labels], textposition="top center", name="points",
                             marker=dict(size=9)))
    fig.add_trace(go.Scatter(x=[p[0] for p in front], y=[p[1] for p in front], mode="lines+markers",
                             name="Pareto front", line=dict(dash="dash", color="#d62728"),
                             marker=dict(size=16, symbol="circle-open", color="#d62728")))
    xs = [p[0] for p in pts]
    if min(xs) > 0 and max(xs) / min(xs) > 20:
        fig.update_xaxes(type="log")
    return _spec(fig)


def paired_values(metric: str, point: str, a: Sequence[float], b: Sequence[float], paired: bool,
                  a_name: str, b_name: str, seeds: Sequence[Any] = ()) -> dict[str, Any]:
    """A comparison's values of one result: A and B side by side, one line per seed when paired
    (named by its seed where ``seeds`` gives them)."""
    import plotly.graph_objects as go

    fig = go.Figure(layout=_layout(f"{metric} ({point})", "", metric))
    sides = [_text(f"A: {a_name}"), _text(f"B: {b_name}")]
    if paired:
        names = [f"seed {s}" for s in seeds] if len(seeds) == len(a) else [f"pair {i + 1}" for i in range(len(a))]
        for name, x, y in zip(names, a, b):
            fig.add_trace(go.Scatter(x=sides, y=[x, y], mode="lines+markers", name=_text(name),
                                     line=dict(width=1.2), marker=dict(size=8)))
    else:
        fig.add_trace(go.Scatter(x=[sides[0]] * len(a), y=list(a), mode="markers", name="A", marker=dict(size=9)))
        fig.add_trace(go.Scatter(x=[sides[1]] * len(b), y=list(b), mode="markers", name="B", marker=dict(size=9)))
    fig.update_layout(showlegend=paired and len(a) <= 12)
    return _spec(fig)


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The least-squares slope of log(y) on log(x) (the empirical exponent); None under 2 distinct x."""
    import numpy as np

    pairs = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len({x for x, _ in pairs}) < 2:
        return None
    return float(np.polyfit(np.log([x for x, _ in pairs]), np.log([y for _, y in pairs]), 1)[0])


#: Row keys of a scaling measurement that are times or memory, drawn against ``seq_len``.
SCALING_KEYS = ("fwd_ms", "fwd_bwd_ms", "time_ms", "peak_memory_bytes")


def is_scaling(rows: Any) -> bool:
    """Whether a measurement's rows are a scaling table (``seq_len`` with times or memory)."""
    return isinstance(rows, list) and any(isinstance(r, dict) and "seq_len" in r and
                                          any(k in r for k in SCALING_KEYS) for r in rows)


def scaling(rows: Sequence[dict[str, Any]], title: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Time and memory against sequence length on log-log axes, one line per kernel and quantity
    (failed rows left out), and the fitted slopes as rows: kernel, quantity, slope, range, points."""
    import plotly.graph_objects as go

    kernels: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if str(row.get("status", "ok")).lower() in ("ok", "done"):
            kernels.setdefault(str(row.get("kernel", row.get("model", "?"))), []).append(row)
    charts, slopes = [], []
    for quantity, keys, scale in (("time (ms)", ("fwd_ms", "fwd_bwd_ms", "time_ms"), 1.0),
                                  ("peak memory (MiB)", ("peak_memory_bytes",), 1.0 / 2**20)):
        fig = go.Figure(layout=_layout(f"{title}: {quantity}", "sequence length", quantity))
        for kernel, krows in kernels.items():
            for key in keys:
                ok = sorted((r for r in krows if isinstance(r.get(key), (int, float)) and r[key] > 0
                             and isinstance(r.get("seq_len"), (int, float))), key=lambda r: r["seq_len"])
                if not ok:
                    continue
                xs, ys = [r["seq_len"] for r in ok], [r[key] * scale for r in ok]
                slope = loglog_slope(xs, ys)
                if slope is not None:
                    slopes.append({"kernel": kernel, "quantity": key, "slope": round(slope, 3), "from": min(xs),
                                   "to": max(xs), "points": len(xs)})
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers",
                                         name=_text(f"{kernel} {key}" + (f" (slope {slope:.2f})" if slope is not None
                                                                          else ""))))
        if fig.data:
            fig.update_xaxes(type="log")
            fig.update_yaxes(type="log")
            charts.append({"key": quantity, "figure": _spec(fig)})
    return charts, slopes
