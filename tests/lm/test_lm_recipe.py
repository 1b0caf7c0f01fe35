"""lm.train end to end through the runner: budget stop, resume, NaN, bad inputs, corrupt checkpoint."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from lmbench import hookimpl
from lmbench.errors import LmbenchError
from lmbench.testing import fresh_host, run_spec


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)


def tiny_spec(corpus: Path, **recipe) -> dict:
    return {
        "dataset": {"name": "lm.text", "path": str(corpus)},
        "tokenizer": {"name": "lm.char"},
        "model": {"name": "lm.transformer", "n_layers": 1, "n_heads": 2, "emb_dim": 16, "max_seq_len": 32},
        "recipe": {"name": "lm.train", "context": 16, "batch_size": 4, "max_steps": 6, "eval_every": 3,
                   "log_every": 1, "warmup": 2, "eval_tokens": 256, "final_eval_tokens": 512,
                   "sample_prompts": ["the "], "sample_temperatures": [0.0, 1.0], "sample_tokens": 8,
                   "gen_tokens": 4, "gen_prompt_len": 4, "gen_batch_size": 2, "gen_repeats": 1, **recipe},
        "run": {"seed": 0, "threads": 1},
    }


def test_train_end_to_end_logs_and_results(corpus, run_experiment):
    [rec] = run_experiment(tiny_spec(corpus))
    assert rec.status == "done", rec.reason
    r = rec.results
    assert r["steps"] == 6 and r["stopped_by"] == "max_steps"
    for key in ("val_loss", "test_loss", "test_ppl", "test_bits_per_byte", "train_tokens_per_s", "gen_tokens_per_s",
                "ttft_ms", "per_token_ms", "params", "peak_memory_bytes"):
        assert key in r and r[key] > 0, key
    assert r["train_tokens"] == 6 * 4 * 16
    assert abs(r["test_ppl"] - torch.tensor(r["test_loss"]).exp().item()) < 1e-3
    assert r["params"] == r["params_embedding"] + r["params_body"] + r["params_head"]
    # the shared cost vocabulary (lmbench.training.cost_results), as every lab reports it
    assert r["trainable_params"] == r["params"] and r["train_tokens_kind"] == "target tokens"
    assert r["peak_memory_kind"] == "process_rss" and r["step_time_ms"] > 0
    assert r["train_tokens_per_s"] == pytest.approx(r["train_tokens"] / r["train_seconds"])
    assert "stopped" not in r and "peak_memory_source" not in r
    from lmbench.store import Store

    with Store(Path(rec.run_dir).parent) as store:
        steps = store.steps(rec.id)
        assert len(steps["train_loss"]) == 6 and len(steps["val_loss"]) == 2
        samples = store.measurements(rec.id)["samples"]["rows"]
        assert len(samples) == 2 and all(isinstance(s["text"], str) for s in samples)


def test_old_key_names_load_as_the_shared_ones_and_set_the_schedule(corpus, run_experiment, caplog):
    """``warmup_steps`` (the old name) loads as ``warmup``; the logged LR follows lmbench.training.lr_at;
    eval_every = 0 evaluates val once, at the end."""
    from lmbench.training import lr_at

    spec = tiny_spec(corpus, max_steps=4, eval_every=0, schedule="linear", gen_tokens=0)
    spec["recipe"]["warmup_steps"] = spec["recipe"].pop("warmup")
    with caplog.at_level("WARNING", logger="lmbench"):
        [rec] = run_experiment(spec)
    assert rec.status == "done", rec.reason
    assert any("'warmup_steps' is now called 'warmup'" in m for m in caplog.messages)
    from lmbench.store import Store

    with Store(Path(rec.run_dir).parent) as store:
        steps = store.steps(rec.id)
    expected = [lr_at(i, i / 4, lr=1e-3, min_lr=1e-4, warmup=2, schedule="linear") for i in range(4)]
    assert [v for _, v in steps["lr"]] == pytest.approx(expected)
    assert expected[0] == pytest.approx(5e-4) and steps["val_loss"] == [(4, pytest.approx(rec.results["best_val_loss"]))]


def test_lstm_and_padded_batching(corpus, run_experiment):
    spec = tiny_spec(corpus, batching="padded", max_steps=3)
    spec["model"] = {"name": "lm.lstm", "emb_dim": 16, "hidden_size": 16, "num_layers": 1}
    [rec] = run_experiment(spec)
    assert rec.status == "done", rec.reason
    assert rec.results["test_loss"] > 0 and rec.results["train_tokens"] <= 3 * 4 * 16
    assert rec.results["train_tokens_kind"] == "target tokens, padding excluded"


@pytest.mark.parametrize("tokenizer", [{"name": "lm.bpe", "vocab_size": 300}, {"name": "lm.gpt2"}])
def test_subword_tokenizers_end_to_end(corpus, run_experiment, tokenizer):
    """BPE and GPT-2 runs; bits per byte stay comparable with the character-level run."""
    spec = tiny_spec(corpus, max_steps=2, gen_tokens=0)
    spec["tokenizer"] = tokenizer
    [rec] = run_experiment(spec)
    assert rec.status == "done", rec.reason
    assert rec.results["vocab_size"] == (50257 if tokenizer["name"] == "lm.gpt2" else 300)
    # an untrained model predicts ~uniformly: loss ~ ln(vocab); bits per byte scale with tokens per byte
    assert rec.results["val_loss"] == pytest.approx(torch.tensor(float(rec.results["vocab_size"])).log().item(),
                                                    rel=0.1)


def test_budget_stops_cleanly_and_still_evaluates_test(corpus, run_experiment):
    [rec] = run_experiment(tiny_spec(corpus, max_steps=0, budget="2s", eval_every=1000))
    assert rec.status == "done", rec.reason
    assert rec.results["stopped_by"] == "budget" and rec.results["steps"] > 0
    assert rec.results["train_seconds"] < 4 and "test_loss" in rec.results and "val_loss" in rec.results


def test_budget_too_short_for_one_eval(corpus, run_experiment):
    [rec] = run_experiment(tiny_spec(corpus, max_steps=0, budget="1ms", eval_tokens=0))
    assert rec.status == "failed" and "shorter than one evaluation" in rec.reason


class _StopAt:
    """An inline plugin that asks the run to stop after a given step (as Ctrl-C would)."""

    def __init__(self, step):
        self.step = step

    @hookimpl
    def lmbench_step_end(self, run, step, logs):
        if step == self.step and "train_loss" in logs:
            run.stop.set("interrupted")


def test_resume_equals_uninterrupted(corpus, tmp_path):
    spec = tiny_spec(corpus, save_best=False, gen_tokens=0, eval_every=2)
    spec["model"]["dropout"] = 0.1  # RNG state must be restored too
    [full] = run_spec(copy.deepcopy(spec), tmp_path / "full")
    assert full.status == "done", full.reason
    host = fresh_host(entry_points=True, plugins={"stopper": _StopAt(3)})
    [cut] = run_spec(copy.deepcopy(spec), tmp_path / "resumed", host=host)
    assert cut.status == "interrupted" and cut.results["steps"] == 3 and cut.results["stopped_by"] == "interrupted"
    [resumed] = run_spec(copy.deepcopy(spec), tmp_path / "resumed")
    assert resumed.id == cut.id and resumed.status == "done", resumed.reason
    assert resumed.results["steps"] == 6 and resumed.results["stopped_by"] == "max_steps"
    for key in ("val_loss", "test_loss", "train_tokens"):
        assert resumed.results[key] == pytest.approx(full.results[key], rel=1e-6, abs=1e-7), key
    a = torch.load(Path(full.run_dir) / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(Path(resumed.run_dir) / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


class _FakeEnergyMeter:
    """NVML's energy counter as a GPU would report it: 1 J per measured block."""

    def __init__(self, device):
        self.joules = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.joules = 1.0


def test_energy_is_summed_over_checkpoints_and_survives_a_resume(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("lmbench_lm.energy.EnergyMeter", _FakeEnergyMeter)
    spec = tiny_spec(corpus, gen_tokens=0)  # 6 steps, eval (and checkpoint) every 3
    [full] = run_spec(copy.deepcopy(spec), tmp_path / "full")
    assert full.status == "done", full.reason
    blocks = full.results["energy_j"]
    assert blocks == 4.0  # to the checkpoints at steps 3 and 6, to the last save, after it
    assert full.results["joules_per_token"] == pytest.approx(blocks / full.results["train_tokens"])
    host = fresh_host(entry_points=True, plugins={"stopper": _StopAt(2)})
    [cut] = run_spec(copy.deepcopy(spec), tmp_path / "resumed", host=host)
    assert cut.status == "interrupted" and cut.results["energy_j"] == 2.0  # to the checkpoint at step 2, after it
    [resumed] = run_spec(copy.deepcopy(spec), tmp_path / "resumed")
    assert resumed.status == "done" and resumed.results["steps"] == 6
    # the first attempt's checkpointed 1 J (not the 1 J after its checkpoint) plus the resumed attempt's 4 blocks
    assert resumed.results["energy_j"] == 5.0
    assert resumed.results["joules_per_token"] == pytest.approx(5.0 / resumed.results["train_tokens"])


def test_no_energy_result_without_a_counter(corpus, run_experiment):
    [rec] = run_experiment(tiny_spec(corpus, max_steps=2, gen_tokens=0))  # the CPU has no energy counter
    assert rec.status == "done" and "energy_j" not in rec.results and "joules_per_token" not in rec.results


def test_corrupt_checkpoint_on_resume_is_a_clear_error(corpus, tmp_path):
    spec = tiny_spec(corpus, gen_tokens=0)
    host = fresh_host(entry_points=True, plugins={"stopper": _StopAt(2)})
    [cut] = run_spec(copy.deepcopy(spec), tmp_path / "runs", host=host)
    assert cut.status == "interrupted"
    (Path(cut.run_dir) / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    [again] = run_spec(copy.deepcopy(spec), tmp_path / "runs")
    assert again.status == "failed" and "cannot be loaded" in again.reason and "delete it" in again.reason


def test_nan_loss_stops_the_run(corpus, run_experiment):
    [rec] = run_experiment(tiny_spec(corpus, nan_at=2))
    assert rec.status == "nan" and "train_loss" in rec.reason and "step 2" in rec.reason


def test_bad_inputs_give_clear_messages(corpus, tmp_path, run_experiment):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("")
    spec = tiny_spec(corpus)
    spec["dataset"]["path"] = str(empty)
    with pytest.raises(LmbenchError, match="every file is empty"):  # the pre-flight's data check: no run recorded
        run_experiment(spec)

    spec = tiny_spec(corpus)
    spec["tokenizer"] = {"name": "lm.nope"}
    with pytest.raises(LmbenchError, match="unknown tokenizer 'lm.nope'"):
        run_experiment(spec)

    spec = tiny_spec(corpus)
    spec["model"]["vocab_size"] = 5
    [rec] = run_experiment(spec)
    assert rec.status == "failed" and "smaller than the tokenizer" in rec.reason

    spec = tiny_spec(corpus, context=4000)
    spec["model"]["max_seq_len"] = 4096
    [rec] = run_experiment(spec)
    assert rec.status == "failed" and "fewer than context + 1" in rec.reason

    spec = tiny_spec(corpus, max_steps=0)
    with pytest.raises(LmbenchError, match="max_steps or recipe.budget"):
        run_experiment(spec)


def test_short_documents_with_padded_batching(tmp_path, run_experiment):
    folder = tmp_path / "short"
    folder.mkdir()
    for i in range(10):
        (folder / f"{i}.txt").write_text(f"hi {i}")  # every document shorter than the context
    spec = tiny_spec(folder, batching="padded", max_steps=2)
    [rec] = run_experiment(spec)
    assert rec.status == "done", rec.reason


def test_generate_recipe_samples_from_a_trained_run(corpus, tmp_path):
    [trained] = run_spec(tiny_spec(corpus, gen_tokens=0), tmp_path / "runs")
    assert trained.status == "done", trained.reason
    spec = {"recipe": {"name": "lm.generate", "from_run": trained.id[:8], "sample_prompts": ["the ", "war"],
                       "sample_temperatures": [0.0, 0.9], "sample_tokens": 6, "top_k": 5, "top_p": 0.9,
                       "gen_tokens": 3, "gen_prompt_len": 3, "gen_batch_size": 2, "gen_repeats": 1},
            "run": {"seed": 0, "threads": 1}}
    [gen] = run_spec(spec, tmp_path / "runs")
    assert gen.status == "done", gen.reason
    assert gen.results["samples"] == 4 and gen.results["checkpoint"] == "best" and gen.results["ttft_ms"] > 0
    bad = copy.deepcopy(spec)
    bad["recipe"]["from_run"] = "zzzz"
    [rec] = run_spec(bad, tmp_path / "runs")
    assert rec.status == "failed" and "matches 0 runs" in rec.reason


@pytest.mark.slow
def test_ddp_two_ranks_stop_together_on_budget(corpus, tmp_path):
    """lmbench run --nproc 2 (torchrun, gloo): both ranks train, agree on the budget stop, no hang."""
    import json
    import subprocess
    import sys

    spec = tiny_spec(corpus, max_steps=0, budget="3s", eval_every=5)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    store = tmp_path / "ddp"
    out = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--spec-json", str(spec_file), "--store",
                          str(store), "--nproc", "2"], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    from lmbench.store import Store

    with Store(store) as s:
        [rec] = s.runs()
        assert rec.status == "done" and rec.results["stopped_by"] == "budget"
        assert rec.results["train_tokens"] == rec.results["steps"] * 4 * 16 * 2  # both ranks' tokens
        assert rec.env["world_size"] == 2


@pytest.mark.parametrize("budget", ["budget_tokens", "budget_flops"])
def test_token_and_flop_budgets_stop_lm_train_where_they_say(corpus, run_experiment, budget):
    # 64 tokens a step (4 x 16): 200 tokens stop after the 4th step, and so do that many FLOPs
    probe = run_experiment(tiny_spec(corpus, max_steps=1, eval_every=0, gen_tokens=0, sample_prompts=[]))[0]
    per_token = probe.results["train_flops_per_token"]
    limit = 200 if budget == "budget_tokens" else 200 * per_token
    [rec] = run_experiment(tiny_spec(corpus, max_steps=0, eval_every=0, gen_tokens=0, sample_prompts=[],
                                     **{budget: limit}))
    assert rec.ok, rec.reason
    r = rec.results
    assert r["stopped_by"] == budget and r["steps"] == 4 and r["train_tokens"] == 256
    assert {"train_load_avg", "cpu_count"} <= set(r)  # the machine's load is recorded beside every run
