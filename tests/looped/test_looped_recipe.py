"""The `looped.train` recipe end to end through the runner (tiny sizes: seconds on a CPU)."""

import copy

import pytest
import torch

from lmbench import hookimpl
from lmbench.errors import ConfigError
from lmbench.store import Store

torch.set_num_threads(1)

TINY = {
    "dataset": {"name": "looped.linreg", "n_dims": 3, "n_points": 7, "dims_start": 2, "points_start": 3,
                "curriculum_every": 5},
    "model": {"name": "looped.looped", "loops": 3, "grad_loops": 2, "d_model": 16, "n_heads": 2},
    "recipe": {"name": "looped.train", "max_steps": 12, "batch_size": 8, "eval_prompts": 32, "log_every": 4,
               "eval_every": 6, "warmup": 2, "eval_loops": [1, 3, 5]},
    "run": {"seed": 0, "device": "cpu"},
}


def spec(**sets):
    out = copy.deepcopy(TINY)
    for key, value in sets.items():
        table, _, field = key.partition("__")
        if field == "name":
            out[table] = {"name": value}
        else:
            out[table][field] = value
    return out


def stored(tmp_path, record):
    store = Store(tmp_path / "runs", readonly=True)
    try:
        return store.measurements(record.id), store.steps(record.id)
    finally:
        store.close()


def test_looped_run_records_curves_loops_plot_and_cost(run_experiment, tmp_path):
    (record,) = run_experiment(spec())
    assert record.status == "done", record.reason
    r = record.results
    for key in ("error_at_2d", "error_at_d", "params", "train_tokens_per_s", "step_time_ms",
                "knn_error_at_2d", "averaging_error_at_2d", "error_at_2d_best_loops"):
        assert key in r, key
    assert r["steps"] == 12 and r["least_squares_error_at_2d"] < 1e-6 and r["train_tokens_per_s"] > 0
    measurements, steps = stored(tmp_path, record)
    rows = measurements["error_vs_prompt_length"]["rows"]
    models = {row["model"] for row in rows}
    assert {"least_squares", "ridge", "knn", "averaging", "zero"} <= models and len(models) == 6
    assert all(row["error_p10"] <= row["error"] * 1.0001 + 1e-12 <= row["error_p90"] * 1.0002 + 1e-12
               for row in rows if row["model"] != "zero")
    assert sorted(r["n_examples"] for r in rows if r["model"] == "zero") == list(range(7))
    assert [row["loops"] for row in measurements["error_vs_loops"]["rows"]] == [1, 3, 5]  # 5 > b = 3
    assert "train_loss" in steps and "val_loss" in steps and "tokens_per_s" in steps
    png = tmp_path / "runs" / record.id / "error_vs_n.png"
    assert png.exists() and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("model", [{"name": "looped.gpt2", "n_layers": 2, "d_model": 16, "n_heads": 2},
                                   {"name": "looped.universal", "n_layers": 2, "d_model": 16, "n_heads": 2}])
def test_gpt2_and_universal_runs(run_experiment, tmp_path, model):
    s = spec()
    s["model"] = model
    s["recipe"]["eval_loops"] = [] if model["name"] == "looped.gpt2" else [1, 4]
    (record,) = run_experiment(s)
    assert record.status == "done", record.reason
    measurements, _ = stored(tmp_path, record)
    assert ("error_vs_loops" in measurements) == (model["name"] == "looped.universal")


def test_nan_stops_the_run_with_the_step(run_experiment, tmp_path):
    (record,) = run_experiment(spec(recipe__nan_at=5))
    assert record.status == "nan" and "train_loss at step 5" in record.reason
    _, steps = stored(tmp_path, record)
    assert max(s for s, _ in steps["train_loss"]) < 5  # nothing logged past the NaN


def test_task_larger_than_model_fails_before_training(run_experiment, tmp_path):
    (record,) = run_experiment(spec(model__n_dims=2))
    assert record.status == "failed" and "larger than the model's input dimension" in record.reason
    _, steps = stored(tmp_path, record)
    assert not steps


@pytest.mark.parametrize("sets,match", [
    (dict(model__grad_loops=5), "grad_loops"),  # T > b
    (dict(dataset__n_points=0), "n_points"),  # n < 1
    (dict(recipe__eval_loops=[0]), "eval_loops"),
])
def test_invalid_combinations_are_rejected_before_running(run_experiment, sets, match):
    with pytest.raises(ConfigError, match=match):
        run_experiment(spec(**sets))


def test_eval_loops_on_gpt2_is_rejected(run_experiment):
    s = spec()
    s["model"] = {"name": "looped.gpt2", "n_layers": 1, "d_model": 16, "n_heads": 2}
    (record,) = run_experiment(s)
    assert record.status == "failed" and "cannot change its number of loops" in record.reason


@pytest.mark.parametrize("preset,labels", [("looped.compare", ["gpt2", "universal", "universal-plain", "looped",
                                                              "looped-ln-outside"]),
                                           ("looped.loops", ["fixed", "loop_curriculum", "a_to_b", "a_then_b"]),
                                           ("looped.paper", ["looped", "gpt2"])])
def test_presets_resolve(lmbench_entry_point_host, tmp_path, preset, labels):
    from lmbench.config import build_spec
    from lmbench.runner import Runner

    spec = build_spec(lmbench_entry_point_host.registries, preset=preset)
    store = Store(tmp_path / "plan")
    try:
        planned = Runner(store, lmbench_entry_point_host, progress=False).plan(spec)
    finally:
        store.close()
    assert [p.label for p in planned] == labels
    if preset == "looped.paper":
        model = planned[0].resolved.spec["model"]
        data = planned[0].resolved.spec["dataset"]
        # Yang et al.'s released linear-regression script: b = 30, T = 15, loops T -> b (+2 every 500 steps)
        assert (data["n_dims"], data["n_points"], model["loops"], model["grad_loops"]) == (20, 41, 30, 15)
        assert (model["loops_start"], model["loops_step"], model["loops_every"], model["loop_norm"]) == \
            (15, 2, 500, True)
        assert planned[1].resolved.spec["model"]["n_layers"] == 12
    if preset == "looped.loops":
        models = [p.resolved.spec["model"] for p in planned]
        assert [m["name"] for m in models] == ["looped.looped", "looped.looped", "looped.chained", "looped.chained"]
        assert all((m["loops"], m["grad_loops"], m["d_model"], m["n_heads"]) == (8, 5, 64, 4) for m in models)
        assert [m["loops_start"] for m in models] == [0, 5, 0, 0] and models[3]["loops_a"] == 4
        assert [m["order"] for m in models[2:]] == ["alternate", "sequential"]  # seed 004 alternates A and B
        assert all(m["loop_norm"] for m in models)  # Yang et al.: LayerNorm inside the loop
    if preset == "looped.compare":
        models = {p.label: p.resolved.spec["model"] for p in planned}
        assert models["looped"]["loop_norm"] and not models["looped-ln-outside"]["loop_norm"]
        assert models["universal"]["loop_norm"] and models["universal"]["positions_each_loop"]
        assert not models["universal-plain"]["loop_norm"] and not models["universal-plain"]["positions_each_loop"]


def test_shared_training_keys_and_the_old_names(caplog):
    import logging

    from lmbench.validate import make_config
    from lmbench_looped.train import TrainConfig

    with caplog.at_level(logging.WARNING, logger="lmbench"):
        cfg = make_config(TrainConfig, {"steps": 7, "warmup_steps": 3}, "recipe looped.train")
    assert (cfg.max_steps, cfg.warmup) == (7, 3) and "'steps' is now called 'max_steps'" in caplog.text
    with pytest.raises(ConfigError, match="min_lr"):
        make_config(TrainConfig, {"lr": 5e-5}, "recipe looped.train")  # below the default floor: one clear line
    assert make_config(TrainConfig, {"budget": "2m", "max_steps": 0}, "recipe looped.train").budget == 120


def test_stopped_by_budget_and_the_shared_cost_keys(run_experiment, tmp_path):
    (record,) = run_experiment(spec(recipe__max_steps=0, recipe__budget=1.5, recipe__eval_every=0))
    assert record.status == "done", record.reason
    r = record.results
    assert r["stopped_by"] == "budget" and r["steps"] > 0 and 1.5 <= r["train_seconds"] < 10
    points = [3] * 5 + [5] * 5 + [7] * 10_000  # the task's curriculum: n = 3, 5, 7 every 5 steps
    assert r["train_tokens"] == sum(2 * 8 * p for p in points[:int(r["steps"])])  # 2 tokens per example, batch 8
    assert r["trainable_params"] == r["params"] > 0 and r["train_tokens_kind"].startswith("prompt tokens")
    assert not (tmp_path / "runs" / record.id / "checkpoints" / "last.pt").exists()  # finished: nothing to resume


def test_two_micro_batches_of_4_train_what_one_batch_of_8_does(run_experiment, tmp_path):
    def train_losses(store_dir, **recipe):
        from lmbench.testing import run_spec

        (record,) = run_spec(spec(recipe__eval_every=0, recipe__log_every=1, **{f"recipe__{k}": v
                                                                               for k, v in recipe.items()}), store_dir)
        assert record.status == "done", record.reason
        with Store(store_dir, readonly=True) as store:
            return [v for _, v in store.steps(record.id)["train_loss"]], record.results

    whole, whole_results = train_losses(tmp_path / "whole", batch_size=8)
    split, split_results = train_losses(tmp_path / "split", batch_size=4, grad_accum=2)
    assert split == pytest.approx(whole, rel=1e-4) and len(whole) == 12
    assert split_results["train_tokens"] == whole_results["train_tokens"]
    assert split_results["error_at_2d"] == pytest.approx(whole_results["error_at_2d"], rel=1e-3)


def test_a_checkpoint_of_other_data_is_refused():
    from lmbench.errors import LmbenchError
    from lmbench_looped.models.looped import LoopedConfig, LoopedTransformer
    from lmbench_looped.steps import TaskStream
    from lmbench_looped.tasks import LinRegConfig, RegressionTask

    task = RegressionTask(LinRegConfig(n_dims=3, n_points=7, dims_start=2, points_start=3, curriculum_every=5))
    model = LoopedTransformer(LoopedConfig(loops=4, grad_loops=2, d_model=16, n_heads=2, loops_start=2,
                                           loops_step=1, loops_every=4), n_dims=3, n_points=7)
    stream = TaskStream(task, model, 8, seed=0)
    for _ in range(9):
        stream.advance()
    state = stream.state_dict()
    assert state == {"step": 9, "seed": 0, "global_batch": 8, "curriculum": [3, 5, 4]}
    resumed = TaskStream(task, model, 8, seed=0)
    resumed.load_state_dict(state)
    assert resumed.step == 9 and [b.xs for b in resumed.batches()][0].equal(stream.batches()[0].xs)
    for other in (TaskStream(task, model, 8, seed=1), TaskStream(task, model, 4, seed=0, grad_accum=1),
                  TaskStream(RegressionTask(LinRegConfig(n_dims=3, n_points=7, curriculum_every=5)), model, 8, seed=0)):
        with pytest.raises(LmbenchError, match="other data.*--force"):
            other.load_state_dict(state)



class _StopAt:
    """A plugin that stops the run (as Ctrl-C does) once step ``step`` is logged."""

    def __init__(self, step: int):
        self.step = step

    @hookimpl
    def lmbench_step_end(self, run, step, logs):
        if step == self.step:
            run.stop.set("interrupted")


def test_an_interrupted_run_keeps_its_checkpoint_and_the_next_attempt_ends_as_an_uninterrupted_one(tmp_path):
    from lmbench.testing import fresh_host, run_spec

    s = spec(recipe__max_steps=20, recipe__log_every=1, recipe__checkpoint_every=1000)
    (reference,) = run_spec(s, tmp_path / "reference")
    (first,) = run_spec(s, tmp_path / "runs", host=fresh_host(entry_points=True, plugins={"stop": _StopAt(6)}))
    assert first.status == "interrupted" and first.results["stopped_by"] == "interrupted", first.reason
    assert first.results["steps"] == 7  # stopped before step 7, after step 6 was logged
    assert (tmp_path / "runs" / first.id / "checkpoints" / "last.pt").exists()  # saved where training stopped
    (second,) = run_spec(s, tmp_path / "runs")
    assert second.status == "done" and "resumed from step 7" in (tmp_path / "runs" / second.id / "log.txt").read_text()
    for key in ("error_at_2d", "error_at_d", "val_mse", "train_tokens", "steps"):
        assert second.results[key] == pytest.approx(reference.results[key], rel=1e-6), key


def test_looped_models_report_flops_per_token_and_mfu_against_the_peak(run_experiment, tmp_path, monkeypatch):
    """FLOPs per prompt token by the lab's formula (each loop's block forward, the last T loops' backward,
    the read-in/out trained) and MFU against this machine's measured peak, planted here."""
    import json

    from lmbench.measure.peak import peak_key
    from lmbench_looped.flops import train_flops_per_token
    from lmbench_looped.models.looped import LoopedConfig, LoopedTransformer

    model = LoopedTransformer(LoopedConfig(d_model=16, n_heads=2, loops=6, grad_loops=4), n_dims=4, n_points=5)
    block = sum(p.numel() for p in model.blocks.parameters())
    io = sum(p.numel() for n, p in model.io.named_parameters() if not n.startswith("wpe"))
    forward = 2 * block + 4 * 1 * 10 * 16
    assert train_flops_per_token(model, 10) == 6 * forward + 4 * 2 * forward + 6 * io

    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("LMBENCH_CACHE", str(cache))
    peak = 1e9
    keys = {peak_key("cpu", "fp32", threads=n): {"flops": peak} for n in range(1, 9)}
    (cache / "peaks.json").write_text(json.dumps(keys))
    s = spec()
    s["model"] = {"name": "looped.looped", "n_block_layers": 1, "loops": 4, "grad_loops": 2, "d_model": 16,
                  "n_heads": 2}
    (record,) = run_experiment(s)
    assert record.status == "done", record.reason
    r = record.results
    assert r["train_flops_per_token"] > 0 and r["mfu_peak"] == "measured peak"
    assert r["mfu"] == pytest.approx(r["train_tokens_per_s"] * r["train_flops_per_token"] / peak, rel=1e-6)
