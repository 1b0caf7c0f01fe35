"""The sweep and run pages' charts as Plotly specs: the Pareto front, overlaid curves, kernel scaling
with its fitted slopes, and every store label escaped before it enters a spec."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("plotly", reason="the ui extra is absent: pip install 'lmbench[ui]'")

from lmbench.plugin.results import vocabulary  # noqa: E402
from lmbench.ui import charts, pages  # noqa: E402


def test_sweep_page_charts_pareto_curves_and_scaling(report_store):
    store, ids = report_store
    host = None
    data = pages.sweep_page(store, "lm.compare", vocabulary(), host)
    by_key = {c["key"]: c["figure"] for c in data["charts"]}
    pareto = by_key["pareto"]
    names = [t["name"] for t in pareto["data"]]
    assert names == ["points", "Pareto front"]
    front = pareto["data"][1]
    # val_loss (lower is better) against train tok/s (higher): none of the three points is beaten on both
    assert front["x"] == pytest.approx([15300.0, 20500.0, 90000.0])  # seed means, ordered along the front
    assert "val_loss" in by_key and len(by_key["val_loss"]["data"]) >= 6  # one line per run, seeds included
    legend = [t["name"] for t in by_key["val_loss"]["data"] if t.get("showlegend", True)]
    assert len(legend) == len(set(legend))  # one legend entry per point, its seeds share it
    [scaling] = data["loglog"]
    slopes = {(s["kernel"], s["quantity"]): s["slope"] for s in scaling["slopes"]}
    assert slopes[("naive", "fwd_ms")] == pytest.approx(2.0, abs=1e-6)
    assert slopes[("favor", "fwd_bwd_ms")] == pytest.approx(1.0, abs=1e-6)
    assert all(s["to"] == 2048 for s in scaling["slopes"])  # the OOM row at 4096 is left out of the fit
    time_chart = scaling["charts"][0]["figure"]
    assert time_chart["layout"]["xaxis"]["type"] == "log" and time_chart["layout"]["yaxis"]["type"] == "log"
    assert "Pareto" in json.dumps(pareto)


def test_run_page_curves_against_each_axis(report_store):
    store, ids = report_store
    record = store.get(ids[0])
    step = pages.run_charts(store, record, "step", vocabulary())
    assert [c["key"] for c in step][:2] == ["val_loss", "train_loss"]  # quality first
    assert step[0]["figure"]["data"][0]["x"] == [float(s) for s in range(8)]
    seconds = pages.run_charts(store, record, "seconds", vocabulary())
    assert seconds and seconds[0]["figure"]["layout"]["xaxis"]["title"]["text"] == "wall-clock seconds"
    assert pages.run_charts(store, record, "tokens", vocabulary()) == []  # no tokens logged: no chart, no error


def test_labels_are_escaped_inside_chart_specs():
    spec = charts.paired_values("<b>loss</b>", "<script>x</script>", [1.0, 2.0], [1.5, 2.5], True,
                                "<img src=x onerror=alert(1)>", "b")
    text = json.dumps(spec)
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text  # shown literally by plotly.js


def test_paired_lines_are_named_by_their_seed():
    spec = charts.paired_values("loss", "p", [1.0, 2.0], [1.5, 2.5], True, "a", "b", seeds=[3, 7])
    assert [trace["name"] for trace in spec["data"]] == ["seed 3", "seed 7"]
    unnamed = charts.paired_values("loss", "p", [1.0, 2.0], [1.5, 2.5], True, "a", "b")
    assert [trace["name"] for trace in unnamed["data"]] == ["pair 1", "pair 2"]


def test_thin_keeps_ends_and_bounds_points():
    points = list(range(10_001))
    thinned = charts.thin(points, 2000)
    assert len(thinned) == 2000 and thinned[0] == 0 and thinned[-1] == 10_000
    assert charts.thin([1, 2, 3], 2000) == [1, 2, 3]
