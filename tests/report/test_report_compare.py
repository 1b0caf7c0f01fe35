"""Statistics and verdicts of `lmbench compare`: planted regressions are found, noise is not."""

from __future__ import annotations

import numpy as np
import pytest

from lmbench.stats.compare import compare, compare_samples
from lmbench.errors import LmbenchError
from lmbench.plugin.results import HIGHER, LOWER, NEUTRAL, vocabulary
from lmbench.stats import summarize, t_quantile95

from report_helpers import add_run


@pytest.mark.parametrize("key, expected", [
    ("val_loss", LOWER), ("test_ppl", LOWER), ("error_at_2d", LOWER),
    ("ttft_ms", LOWER), ("per_token_ms", LOWER), ("peak_memory_bytes", LOWER), ("step_time_ms", LOWER),
    ("accuracy", HIGHER), ("f1_macro", HIGHER), ("chrf_pp", HIGHER),
    ("train_tokens_per_s", HIGHER), ("gen_tokens_per_s", HIGHER), ("mfu", HIGHER), ("params", NEUTRAL),
    ("steps", NEUTRAL), ("train_time_s", LOWER)])
def test_directions_are_declared(key, expected):
    spec = vocabulary().spec(key)
    assert spec.sign == expected and not spec.guessed


@pytest.mark.parametrize("key, expected", [("train_step_s", LOWER), ("bits_per_byte", LOWER), ("my_bleu", HIGHER),
                                           ("widgets", NEUTRAL)])
def test_undeclared_keys_are_guessed_and_marked(key, expected):
    spec = vocabulary().spec(key)
    assert spec.sign == expected and spec.guessed and spec.label().endswith("*")


def test_summary_t_interval_matches_textbook():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.n == 4 and s.mean == 2.5 and s.median == 2.5
    assert s.std == pytest.approx(1.290994, rel=1e-5)
    assert s.ci_high - s.mean == pytest.approx(3.182 * 1.290994 / 2, rel=1e-3)
    assert summarize([]) is None and summarize([float("nan")]) is None
    assert t_quantile95(1) == pytest.approx(12.706, abs=1e-3) and t_quantile95(100) == pytest.approx(1.984, abs=2e-3)


def _timing_samples(seed: int, mean: float, n: int = 30, cv: float = 0.05) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(rng.normal(mean, mean * cv, size=n))


def test_planted_20_percent_slowdown_is_a_regression():
    base, slow = _timing_samples(1, 10e-3), _timing_samples(2, 12e-3)
    m = compare_samples("x", "train_step_s", base, slow, stat="median")
    assert m.verdict == "worse"
    assert 0.12 < m.rel_change < 0.28
    assert m.ci is not None and m.ci[0] > 0.1
    assert m.worse_by > 0.1  # what --fail-on regression --threshold 0.1 gates on


def test_planted_speedup_is_better_and_throughput_direction_flips():
    base, fast = _timing_samples(3, 10e-3), _timing_samples(4, 8e-3)
    assert compare_samples("x", "train_step_s", base, fast, stat="median").verdict == "better"
    assert compare_samples("x", "train_tokens_per_s", base, fast, stat="median").verdict == "worse"


def test_same_distribution_is_within_noise():
    m = compare_samples("x", "train_step_s", _timing_samples(5, 10e-3), _timing_samples(6, 10e-3), stat="median")
    assert m.verdict == "within noise"
    flagged = sum(compare_samples("x", "t_ms", _timing_samples(2 * i, 1.0), _timing_samples(2 * i + 1, 1.0),
                                  stat="median", seed=i).verdict != "within noise" for i in range(40))
    assert flagged <= 3  # a 95% interval plus a 2% tolerance: false alarms are rare


def test_single_values_give_no_better_or_worse():
    assert compare_samples("x", "val_loss", [1.0], [1.01]).verdict == "no verdict"
    assert compare_samples("x", "val_loss", [1.0], [1.2]).verdict == "no verdict"  # one seed: seed noise unknown
    assert compare_samples("x", "params", [1.0], [2.0]).verdict == "changed"  # a fact, not a claim


def test_compare_runs_and_groups_in_a_store(store):
    a = [add_run(store, f"base seed={s}", seed=s, results={"val_loss": 2.0 + 0.01 * s, "train_tokens_per_s": 1000 + s})
         for s in range(3)]
    b = [add_run(store, f"base seed={s}", seed=s, model="lm.other",
                 results={"val_loss": 2.6 + 0.01 * s, "train_tokens_per_s": 1001 + s}) for s in range(3)]
    store.add_group("g1", "sweep", "before", "", {}, a)
    store.add_group("g2", "sweep", "after", "", {}, b)
    result = compare(store, "before", "after")
    verdicts = {m.metric: m.verdict for m in result.metrics}
    assert verdicts == {"val_loss": "worse", "train_tokens_per_s": "within noise"}
    assert [m.metric for m in result.regressions(0.1)] == ["val_loss"]
    assert result.regressions(0.5) == []  # 30% worse does not pass a 50% threshold
    single = compare(store, a[0], b[0])
    assert single.metrics[0].ci is None


def test_compare_uses_timing_samples_of_measurements(store):
    a = add_run(store, "a", results={"val_loss": 1.0})
    b = add_run(store, "b", results={"val_loss": 1.0}, seed=1)
    store.add_measurement(a, "train_step", {"median": 0.01, "p10": 0.009, "p90": 0.011, "samples": _timing_samples(7, 0.01)})
    store.add_measurement(b, "train_step", {"median": 0.012, "p10": 0.011, "p90": 0.013, "samples": _timing_samples(8, 0.012)})
    result = compare(store, a, b)
    timing = next(m for m in result.metrics if m.metric == "train_step_s")
    assert timing.verdict == "worse" and timing.stat == "median" and len(timing.a) == 30


def test_compare_unknown_name_is_one_line(store):
    add_run(store, "a")
    with pytest.raises(LmbenchError, match="no run or sweep named 'nope'") as info:
        compare(store, "nope", "a")
    assert "\n" not in str(info.value)


def test_compare_takes_one_point_of_a_sweep_on_each_side_and_pairs_it_by_seed(tmp_path):
    """`SWEEP[key=value]` (or `SWEEP[label]`) names one point; two points pair by training seed."""
    from lmbench.store import Store

    store = Store(tmp_path / "runs")
    ids = []
    for lr, shift in ((0.001, 0.0), (0.002, 0.3)):  # the second point is 10% worse on every seed
        for seed in range(5):
            ids.append(add_run(store, f"lr={lr} seed={seed}", seed=seed, model="lm.lstm",
                               extra={"lr_probe": lr}, results={"val_loss": 3.0 + shift + 0.01 * seed}))
    store.add_group("g", "sweep", "g", "lmbench sweep", {}, ids)
    result = compare(store, "g[model.lr_probe=0.001]", "g[model.lr_probe=0.002]")
    assert (result.a_name, result.b_name) == ("g[model.lr_probe=0.001]", "g[model.lr_probe=0.002]")
    [row] = [m for m in result.metrics if m.metric == "val_loss"]
    assert row.verdict == "worse" and row.basis == "paired by seed (n=5)"
    by_label = compare(store, "g[lr=0.001]", "g[lr=0.002]")
    assert [m.verdict for m in by_label.metrics if m.metric == "val_loss"] == ["worse"]
    with pytest.raises(LmbenchError, match=r"^no run of 'g' matches \[model.lr_probe=9\]; pick a point by key=value"):
        compare(store, "g[model.lr_probe=9]", "g")


def test_two_sweeps_over_seeds_alone_pair_by_seed(tmp_path):
    """Runs labelled only by their seed (`seed=3`, a sweep with --seeds and no grid) are one point, so
    two such sweeps pair seed by seed instead of one run per point."""
    from lmbench.store import Store

    store = Store(tmp_path / "runs")
    for group, shift in (("before", 0.0), ("after", 0.3)):
        ids = [add_run(store, f"seed={seed}", seed=seed, model=f"lm.{group}",
                       results={"val_loss": 3.0 + shift + 0.01 * seed}) for seed in range(5)]
        store.add_group(group, "sweep", group, "lmbench sweep", {}, ids)
    result = compare(store, "before", "after")
    [row] = [m for m in result.metrics if m.metric == "val_loss"]
    assert row.basis == "paired by seed (n=5)" and row.verdict == "worse"
