"""Paired comparisons (by seed, by evaluation example), FDR control and the measured noise floor."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from lmbench.stats.compare import NO_VERDICT, SINGLE, compare, compare_examples, compare_samples
from lmbench.stats.noise import floor_key, load_noise, measure_noise, noise_path, save_noise
from lmbench.stats import mcnemar_pvalue, paired_ratio_ci, t_quantile95
from lmbench.plugin.weights import WEIGHTS_KEY

from report_helpers import add_run

QUALITY = ("val_loss", "test_loss", "val_accuracy")


def _sweep(store, name: str, values_by_seed: dict[int, dict[str, float]], tag: str) -> list[str]:
    ids = [add_run(store, f"base seed={s}", seed=s, extra={"sweep": tag}, results=r) for s, r in values_by_seed.items()]
    store.add_group(f"g-{name}", "sweep", name, "", {}, ids)
    return ids


def _seeded(rng, seeds=range(5), scale: float = 1.0, noise: float = 0.004) -> dict[int, dict[str, float]]:
    """Per seed: a seed effect shared by both sides (init, data order) plus a little independent noise."""
    seed_effect = {s: 0.03 * np.sin(3.0 * s + 1.0) for s in seeds}
    return {s: {"val_loss": scale * (2.0 + seed_effect[s]) + rng.normal(0, noise),
                "test_loss": scale * (2.1 + seed_effect[s]) + rng.normal(0, noise),
                "val_accuracy": 0.4 - seed_effect[s] / 3 + rng.normal(0, noise / 4),
                "steps": 20} for s in seeds}


def test_two_sweeps_of_the_same_spec_are_within_noise(store):
    rng = np.random.default_rng(0)
    _sweep(store, "first", _seeded(rng), "a")
    _sweep(store, "again", _seeded(rng), "b")
    result = compare(store, "first", "again")
    quality = [m for m in result.metrics if m.metric in QUALITY]
    assert {m.metric for m in quality} == set(QUALITY)
    assert all(m.verdict == "within noise" for m in quality), [(m.metric, m.rel_change, m.ci) for m in quality]
    assert all(m.basis == "paired by seed (n=5)" and m.interval == "t" for m in quality)
    assert all(m.seeds == [0, 1, 2, 3, 4] for m in quality)  # which seed each (a[i], b[i]) pair is


def test_pairs_name_their_seeds_and_drop_a_non_finite_seed(store):
    rng = np.random.default_rng(2)
    a, b = _seeded(rng, seeds=(3, 5, 7)), _seeded(rng, seeds=(3, 5, 7))
    b[5]["val_loss"] = float("nan")
    _sweep(store, "first", a, "a")
    _sweep(store, "again", b, "b")
    m = next(m for m in compare(store, "first", "again").metrics if m.metric == "val_loss")
    assert m.seeds == [3, 7] and m.a == [a[3]["val_loss"], a[7]["val_loss"]]


def test_planted_ten_percent_loss_change_is_flagged_with_a_paired_interval(store):
    rng = np.random.default_rng(1)
    base = _seeded(rng)
    worse = {s: {**r, "val_loss": r["val_loss"] * 1.10 + rng.normal(0, 0.004)} for s, r in base.items()}
    _sweep(store, "base", base, "a")
    _sweep(store, "worse", worse, "b")
    result = compare(store, "base", "worse")
    m = next(m for m in result.metrics if m.metric == "val_loss")
    assert m.verdict == "worse" and m.basis.startswith("paired by seed")
    assert m.ci is not None and 0.05 < m.ci[0] <= 0.10 <= m.ci[1] < 0.15  # excludes zero, holds the truth
    assert m.p_adjusted < 0.05 and m.p_adjusted >= m.p_value
    assert [x.metric for x in result.regressions(0.05)] == ["val_loss"]
    assert next(x for x in result.metrics if x.metric == "test_loss").verdict == "within noise"


def test_pairing_by_seed_finds_what_an_unpaired_test_cannot():
    rng = np.random.default_rng(2)
    a = [2.0 + 0.2 * s + rng.normal(0, 0.002) for s in range(5)]  # seeds differ a lot; the change is a steady 3%
    b = [x * 1.03 + rng.normal(0, 0.002) for x in a]
    paired = compare_samples("p", "val_loss", a, b, paired=True)
    unpaired = compare_samples("p", "val_loss", a, b)
    assert paired.verdict == "worse" and paired.ci[0] > 0
    assert unpaired.verdict == "within noise" and unpaired.ci[0] < 0 < unpaired.ci[1]


def test_single_runs_give_no_verdict_unless_a_noise_floor_of_their_spec_exists(store):
    a = add_run(store, "x", results={"val_loss": 2.00})
    b = add_run(store, "x", seed=1, results={"val_loss": 2.06})  # +3%
    fixed = compare(store, a, b)
    m = fixed.metrics[0]
    assert m.basis == SINGLE and m.ci is None and m.verdict == NO_VERDICT
    assert fixed.notes[0].startswith("no verdict: one seed per side (seeds 0, 1) cannot separate the change from "
                                     "seed noise") and "--seeds 0-4" in fixed.notes[0]
    assert compare(store, a, b, tolerance=0.01).metrics[0].verdict == NO_VERDICT  # a typed tolerance is no floor
    other = {"model": {"name": "lm.transformer"}, "recipe": {"name": "lm.train", "steps": 99}, "run": {"device": "cpu"}}
    save_noise(store, "lm.train", "seeds", {"repeats": 5, "points": {"x": {"val_loss": 0.0001}},
                                            "specs": {floor_key(other): {"val_loss": 0.0001}}})
    assert compare(store, a, b).metrics[0].verdict == NO_VERDICT  # another spec's floor never stands in
    spec = store.get(a).spec
    save_noise(store, "lm.train", "seeds", {"repeats": 5, "points": {"x": {"val_loss": 0.02}},
                                            "specs": {floor_key(spec): {"val_loss": 0.02}}})
    floored = compare(store, a, b)
    m = floored.metrics[0]
    assert m.tolerance == pytest.approx(t_quantile95(4) * 0.02 * math.sqrt(2), rel=1e-4)  # 7.9%: 3% is noise here
    assert m.verdict == "within noise" and "noise floor of lm.train (5 seeds, cv 2.00%, t 2.78)" in m.tolerance_source
    c = add_run(store, "x", seed=2, results={"val_loss": 2.40})  # +20%: beyond that floor
    assert compare(store, a, c).metrics[0].verdict == "worse"


def test_per_example_losses_pair_two_single_runs(store):
    rng = np.random.default_rng(3)
    batches = rng.normal(2.0, 0.3, 200)  # hard and easy evaluation batches, the same on both sides
    a = add_run(store, "x", results={"val_loss": float(batches.mean())})
    later = batches * 0.97 + rng.normal(0, 0.01, 200)
    b = add_run(store, "x", seed=1, results={"val_loss": float(later.mean())})
    same = {"val_loss": "checkpoint-1"}  # one checkpoint evaluated two ways (say, two kernels swapped in)
    store.add_measurement(a, "per_example", {"val_loss": list(batches), WEIGHTS_KEY: same})
    store.add_measurement(b, "per_example", {"val_loss": list(later), WEIGHTS_KEY: same})
    result = compare(store, a, b, tolerance=0.01)
    m = result.metrics[0]
    assert m.basis == "paired by example, paired t (n=200)" and m.verdict == "better" and m.interval == "BCa bootstrap"
    assert m.ci[1] < 0 and -0.04 < m.rel_change < -0.02
    assert any("same trained weights" in n for n in result.notes)


def test_a_per_example_test_is_never_applied_across_differently_trained_weights(store):
    rng = np.random.default_rng(3)
    batches = rng.normal(2.0, 0.3, 200)
    later = batches * 0.97 + rng.normal(0, 0.01, 200)
    pairs = {"different": ({"val_loss": "seed-0 weights"}, {"val_loss": "seed-1 weights"}),
             "unknown": (None, None), "one side unknown": ({"val_loss": "w"}, None)}
    for name, (wa, wb) in pairs.items():
        a = add_run(store, name, results={"val_loss": float(batches.mean())})
        b = add_run(store, name, seed=1, results={"val_loss": float(later.mean())})
        store.add_measurement(a, "per_example", {"val_loss": list(batches), **({WEIGHTS_KEY: wa} if wa else {})})
        store.add_measurement(b, "per_example", {"val_loss": list(later), **({WEIGHTS_KEY: wb} if wb else {})})
        m = compare(store, a, b).metrics[0]
        assert not m.basis.startswith("paired by example"), name  # evaluation noise is not training noise
        assert m.verdict == NO_VERDICT, name


def test_mcnemar_for_paired_right_and_wrong():
    a = [1] * 60 + [0] * 40
    b = [1] * 60 + [0] * 40
    b[60:80] = [1] * 20  # B gets 20 more right, none fewer
    assert mcnemar_pvalue(a, b) == pytest.approx(2 * 0.5 ** 20)
    assert mcnemar_pvalue(a, a) == 1.0
    m = compare_examples("p", "accuracy", a, b, tolerance=0.01)
    assert m.basis == "paired by example, McNemar (n=100)" and m.verdict == "better"
    assert m.ci[0] > 0


def test_chrf_uses_sacrebleu_paired_bootstrap():
    refs = [f"the {w} sat on the mat near the door" for w in ("cat", "dog", "bird", "cow", "fox")] * 8
    good = list(refs)
    bad = [r.replace("sat on", "is by").replace("door", "window") for r in refs]
    m = compare_examples("p", "chrf_pp", {"hypotheses": good, "references": refs},
                         {"hypotheses": bad, "references": refs})
    assert m.basis.startswith("paired by example, sacrebleu bootstrap") and m.p_value < 0.05
    assert m.verdict == "worse" and m.a_value > m.b_value


def test_benjamini_hochberg_across_the_metrics_of_one_comparison(store):
    rng = np.random.default_rng(4)
    base = {s: {f"m{k}_loss": 1.0 + rng.normal(0, 0.05) for k in range(12)} for s in range(5)}
    other = {s: {k: v * (1.08 if k == "m0_loss" else 1.0) + rng.normal(0, 0.01) for k, v in r.items()}
             for s, r in base.items()}
    _sweep(store, "one", base, "a")
    _sweep(store, "two", other, "b")
    result = compare(store, "one", "two")
    raw = [m.p_value for m in result.metrics]
    assert [m.p_adjusted for m in result.metrics] == pytest.approx(list(false_discovery_control(raw)))
    assert any("Benjamini-Hochberg" in n for n in result.notes)
    assert [m.metric for m in result.metrics if m.verdict != "within noise"] == ["m0_loss"]


def test_identical_pairs_give_a_point_interval():
    assert paired_ratio_ci([1.0, 2.0, 3.0], [1.1, 2.2, 3.3]) == pytest.approx((0.1, 0.1))


def test_noise_measures_a_spec_and_compare_uses_it(store):
    spec = {"recipe": {"name": "core.noop", "steps": 3}, "run": {"device": "cpu", "label": "noop"}}
    section, path, records = measure_noise(store, spec, repeats=3, same_seed=True)
    assert len({r.id for r in records}) == 3 and all(r.ok for r in records)  # same seed, distinct runs
    assert path == noise_path(store.root, "core.noop") and json.loads(path.read_text())["same_seed"]["repeats"] == 3
    assert section["points"]["noop"]["final_loss"] == 0.0  # a deterministic result has no noise
    assert any(g["kind"] == "noise" for g in store.groups())
    floor = load_noise(store.root, "core.noop")
    assert floor.tolerance("final_loss", "noop", "quality")[0] == 0.0
    seeds, _, seeded = measure_noise(store, spec, repeats=2)
    assert [r.spec["run"]["seed"] for r in seeded] == [0, 1]
    assert set(json.loads(path.read_text())) == {"kind", "seeds", "same_seed"}  # each mode its own section
    result = compare(store, records[0].id, records[1].id)
    assert any("noise floor of core.noop" in m.tolerance_source for m in result.metrics)


def test_lm_train_stores_per_document_losses_and_pairs_by_them_only_for_the_same_weights(corpus, run_experiment,
                                                                                       tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    for path in corpus.iterdir():  # paragraphs: lm.text makes a document of each
        lines = path.read_text().splitlines()
        path.write_text("\n\n".join("\n".join(lines[i:i + 2]) for i in range(0, len(lines), 2)) + "\n")
    spec = {"dataset": {"name": "lm.text", "path": str(corpus), "unit": "block"}, "tokenizer": {"name": "lm.char"},
            "model": {"name": "lm.transformer", "n_layers": 1, "n_heads": 2, "emb_dim": 16, "max_seq_len": 32},
            "recipe": {"name": "lm.train", "context": 16, "batch_size": 4, "max_steps": 4, "eval_every": 4,
                       "warmup": 1, "eval_tokens": 128, "final_eval_tokens": 512, "sample_prompts": [],
                       "gen_tokens": 0},
            "run": {"seed": 0, "threads": 1}}
    [a] = run_experiment(spec)
    [b] = run_experiment({**spec, "recipe": {**spec["recipe"], "lr": 0.01}})  # trained differently
    [c] = run_experiment({**spec, "recipe": {**spec["recipe"], "eval_batch_size": 2}})  # a's weights, other batches
    assert a.ok and b.ok and c.ok, (a.reason, b.reason, c.reason)
    from lmbench.store import Store

    store = Store(tmp_path / "runs", readonly=True)
    data = store.measurements(a.id)["per_example"]
    losses = data["val_loss"]
    assert len(losses) >= 2 and data[WEIGHTS_KEY]["val_loss"] != store.measurements(b.id)["per_example"][WEIGHTS_KEY]["val_loss"]
    assert store.measurements(c.id)["per_example"]["val_loss"] == pytest.approx(losses, rel=1e-4)  # any batch size
    assert data["_unit"]["val_loss"] in ("document", "sequence")
    m = next(m for m in compare(store, a.id, b.id).metrics if m.metric == "val_loss")
    assert m.basis == SINGLE and m.verdict == NO_VERDICT  # different weights: seeds, not documents, are the unit
    m = next(m for m in compare(store, a.id, c.id).metrics if m.metric == "val_loss")
    assert m.basis.startswith("paired by example") and m.verdict == "within noise"
