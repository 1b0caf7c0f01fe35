"""peft.train and peft.search end to end (tiny random Llama, a small poem file, a temporary store)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from lmbench.testing import fresh_host


def spec(poems_file, model: str, recipe: dict, **model_options) -> dict:
    return {"dataset": {"name": "peft.poetry", "path": str(poems_file), "max_tokens": 64},
            "model": {"name": model, "base": "random:tiny", **model_options},
            "recipe": recipe, "run": {"seed": 0, "threads": 1}}


def measurement(run_dir, name: str) -> dict:
    db = run_dir.parent / "lmbench.sqlite"
    with sqlite3.connect(db) as c:
        (data,) = c.execute("SELECT data FROM measurements WHERE run_id=? AND name=?",
                            (run_dir.name, name)).fetchone()
    return json.loads(data)


def test_train_lowers_val_loss_and_saves_best_adapter(run_experiment, poems_file, smol_tokenizer):
    recipe = {"name": "peft.train", "lr": 0.05, "grad_accum": 2, "epochs": 2, "warmup": 1,
              "samples": 2, "sampling": {"max_new_tokens": 4}}
    (record,) = run_experiment(spec(poems_file, "peft.ia3", recipe))
    assert record.status == "done", record.reason
    r = record.results
    assert r["val_loss"] < r["val_loss_base"] and r["val_loss_delta"] < 0
    assert r["best_val_loss"] <= r["val_loss"]
    assert r["steps"] == 16 and r["train_examples"] == 32  # 2 epochs x 16 poems / accumulation 2
    assert r["trainable_params"] == 2 * (2 * 2 * 16 + 128)
    assert r["train_tokens_per_s"] > 0 and r["step_time_ms"] > 0 and r["peak_memory_bytes"] > 0
    assert 0 <= r["chrf_pp"] <= 100 and r["ttft_ms"] > 0
    adapter = record.run_dir and __import__("pathlib").Path(record.run_dir) / "adapter"
    assert (adapter / "adapter_model.safetensors").exists() and not (adapter / "model.safetensors").exists()
    samples = measurement(adapter.parent, "samples")["rows"]
    assert set(samples[0]) >= {"author", "title", "generated", "reference", "chrf_pp"}
    assert measurement(adapter.parent, "dataset")["poems_train"] == 16
    per_example = measurement(adapter.parent, "per_example")  # tuned and base on the same two prompts
    tuned, base = per_example["chrf_pp"], per_example["base_chrf_pp"]
    assert len(tuned["hypotheses"]) == len(base["hypotheses"]) == 2 and tuned["references"] == base["references"]
    weights = per_example["_weights"]
    assert weights["base_chrf_pp"] != weights["chrf_pp"] and 0 <= r["chrf_pp_vs_base_p"] <= 1
    assert 0 <= r["base_chrf_pp"] <= 100


def test_train_stops_at_max_steps_and_budget(run_experiment, poems_file, smol_tokenizer):
    recipe = {"name": "peft.train", "max_steps": 3, "grad_accum": 2, "samples": 0, "save": False}
    (record,) = run_experiment(spec(poems_file, "peft.lora", recipe, r=2))
    assert record.status == "done", record.reason
    assert record.results["steps"] == 3 and record.results["stopped_by"] == "max_steps"
    recipe = {"name": "peft.train", "budget": "0.01s", "grad_accum": 16, "samples": 0, "save": False}
    (record,) = run_experiment(spec(poems_file, "peft.ia3", recipe))
    assert record.status == "done" and record.results["stopped_by"] == "budget"
    assert record.results["steps"] == 1  # the budget is checked before each step: the first one runs


def test_search_records_trials_and_resumes(run_experiment, poems_file, smol_tokenizer, tmp_path):
    import optuna

    recipe = {"name": "peft.search", "n_trials": 2, "n_prompts": 2, "max_new_tokens": 3}
    s = spec(poems_file, "peft.smollm2", recipe)
    (record,) = run_experiment(s)
    assert record.status == "done", record.reason
    r = record.results
    assert r["n_trials"] == 2 and 0 <= r["val_chrf_pp"] <= 100 and "best_temperature" in r
    assert r["chrf_pp"] == r["test_chrf_pp"] and 0 <= r["greedy_test_chrf_pp"] <= 100
    assert r["n_prompts"] == 2 and r["n_test_prompts"] == 4  # the whole test split: round(24 * 0.15)
    assert r["study_name"] == f"peft-search-{record.id}"
    rows = measurement(tmp_path / "runs" / record.id, "trials")["rows"]
    assert len(rows) == 2 and {"trial", "chrf_pp", "temperature", "top_k", "top_p"} <= set(rows[0])
    per_example = measurement(tmp_path / "runs" / record.id, "per_example")  # selected vs greedy, same weights
    assert len(per_example["test_chrf_pp"]["hypotheses"]) == len(per_example["greedy_test_chrf_pp"]["hypotheses"]) == 4
    assert per_example["_weights"]["test_chrf_pp"] == per_example["_weights"]["greedy_test_chrf_pp"]
    assert 0 <= r["best_vs_greedy_p"] <= 1
    storage = f"sqlite:///{(tmp_path / 'runs' / 'optuna.sqlite').resolve()}"
    study = optuna.load_study(study_name=r["study_name"], storage=storage)
    assert len(study.trials) == 2
    (again,) = run_experiment(s, force=True)  # same run id: the study resumes, no new trials
    assert again.results["n_trials"] == 2
    assert len(optuna.load_study(study_name=r["study_name"], storage=storage).trials) == 2


def test_search_selects_on_validation_and_reports_test(run_experiment, poems_file, smol_tokenizer, monkeypatch):
    """The reported chrF++ comes from test poems that took no part in choosing the configuration."""
    import lmbench_peft.search as search
    from lmbench_peft.data import PoetryDataset

    calls: list[tuple[set[str], float]] = []

    def fake_sample_poems(model, tok, examples, sampling, **kw):
        titles = {e.title for e in examples}
        calls.append((titles, sampling.temperature))
        held_out = titles <= test_titles
        score = 10.0 if held_out else 100.0 * sampling.temperature / 1.3  # the trials' best is optimistic
        return {"chrf_pp": score, "chrf": score, "chrf_pp_mean": score, "gen_tokens_per_s": 1.0}, []

    monkeypatch.setattr(search, "sample_poems", fake_sample_poems)
    ds = PoetryDataset(PoetryDataset.Config(path=str(poems_file), max_tokens=64), tokenizer=smol_tokenizer)
    val_titles, test_titles = {e.title for e in ds.val}, {e.title for e in ds.test}
    recipe = {"name": "peft.search", "n_trials": 3, "n_prompts": 3, "max_new_tokens": 3}
    (record,) = run_experiment(spec(poems_file, "peft.smollm2", recipe))
    assert record.status == "done", record.reason
    r = record.results
    trial_calls = calls[:3]
    assert all(titles <= val_titles and len(titles) == 3 for titles, _ in trial_calls)
    best = max(trial_calls, key=lambda c: c[1])[1]
    assert r["chrf_pp"] == 10.0, "the reported chrF++ is the chosen sampling's on test poems, not the best trial's"
    assert r["val_chrf_pp"] == pytest.approx(100.0 * best / 1.3) and r["best_temperature"] == pytest.approx(best)
    assert calls[3] == (test_titles, pytest.approx(best))  # the chosen sampling, on the whole test split
    assert r["test_chrf_pp"] == r["chrf_pp"] == 10.0 and r["greedy_test_chrf_pp"] == 10.0
    assert not val_titles & test_titles


def test_search_without_test_split_is_one_line(run_experiment, poems_file, smol_tokenizer):
    recipe = {"name": "peft.search", "n_trials": 1, "n_prompts": 1, "max_new_tokens": 2}
    s = spec(poems_file, "peft.smollm2", recipe)
    s["dataset"]["test_fraction"] = 0
    (record,) = run_experiment(s)
    assert record.status == "failed" and "test split, which is empty: set dataset.test_fraction" in record.reason


def test_bad_spec_fails_before_work(poems_file):
    from lmbench.errors import ConfigError
    from lmbench.run.runner import Runner

    runner = Runner(None, fresh_host(entry_points=True), progress=False)
    bad = spec(poems_file, "peft.lora", {"name": "peft.train", "sampling": {"beams": 2}})
    with pytest.raises(ConfigError, match="unknown sampling key"):
        runner.plan(bad)


@pytest.mark.parametrize("preset", ["peft.ia3", "peft.lora", "peft.full", "peft.compare", "peft.search"])
def test_presets_resolve(preset):
    from lmbench.run.runner import Runner

    host = fresh_host(entry_points=True)
    spec = host.registries.presets.get(preset).load()
    planned = Runner(None, host, progress=False).plan({**spec, "preset": preset})
    assert len(planned) == (3 if preset == "peft.compare" else 1)
    assert all(p.resolved.spec["dataset"]["name"] == "peft.poetry" for p in planned)
    assert all(p.resolved.spec["dataset"]["corpus"] == "english" for p in planned)  # the model's language
