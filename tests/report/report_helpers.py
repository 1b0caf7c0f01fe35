"""Helpers for the report tests (and the ui's): a results store filled by hand (no torch, no runner),
and the system Chromium the browser tests drive."""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

import pytest

from lmbench.store import Store, content_id


def chromium(what: str) -> str:
    """The path of the system Chromium (or Chrome); skips the test, with the reason, where there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"Chromium absent: apt-get install chromium ({what} is checked in a real browser)")


def add_run(store: Store, label: str, *, seed: int = 0, status: str = "done", reason: str | None = None,
            results: dict | None = None, steps: int = 0, model: str = "lm.transformer", extra: dict | None = None,
            group: str | None = None) -> str:
    """Insert one finished (or failed) run with a spec, an environment, learning curves and results."""
    spec = {"model": {"name": model, **(extra or {})}, "recipe": {"name": "lm.train", "steps": steps},
            "run": {"seed": seed, "label": label, "device": "cpu"}}
    run_id = content_id(spec, label)
    env = {"device": "cpu", "python": "3.11.7", "packages": {"torch": "2.13.0+cpu"}, "git": {"sha": "abc123", "dirty": False},
           "seed": seed, "time": 1.7e9}
    store.start_run(run_id, spec, label=label, command=f"lmbench run --set run.seed={seed} --set run.label='{label}'", env=env)
    rng = random.Random(seed)
    for step in range(steps):
        store.log_step(run_id, step, {"train_loss": 4.0 / (1 + step) ** 0.5 + 0.01 * rng.random(),
                                      "val_loss": 4.2 / (1 + step) ** 0.5})
    store.finish_run(run_id, status, reason=reason, results=results or {})
    return run_id


def fill(store: Store) -> list[str]:
    """One experiment: two models x three seeds, an OOM run, a NaN run, a tiny model, measurements
    (scaling rows, error vs prompt length, samples, a timing); return the run ids."""
    ids = []
    for seed in range(3):
        ids.append(add_run(store, f"lstm seed={seed}", seed=seed, model="lm.lstm", steps=8,
                           results={"val_loss": 1.50 + 0.02 * seed, "test_ppl": math.exp(1.5 + 0.02 * seed),
                                    "train_tokens_per_s": 20000.0 + 500 * seed, "peak_memory_bytes": 300 * 2**20,
                                    "params": 1_200_000, "steps": 8}))
        ids.append(add_run(store, f"transformer seed={seed}", seed=seed, model="lm.transformer", steps=8,
                           results={"val_loss": 1.40 + 0.01 * seed, "test_ppl": math.exp(1.4 + 0.01 * seed),
                                    "train_tokens_per_s": 15000.0 + 300 * seed, "peak_memory_bytes": 500 * 2**20,
                                    "params": 1_500_000, "steps": 8}))
    ids.append(add_run(store, "big transformer", model="lm.transformer", extra={"d_model": 2048}, status="oom",
                       reason="out of memory: CUDA out of memory. Tried to allocate 2.00 GiB"))
    ids.append(add_run(store, "high lr", model="lm.transformer", extra={"lr": 1.0}, status="nan", steps=3,
                       reason="non-finite train_loss at step 12 (nan)"))
    ids.append(add_run(store, "tiny_model_%", model="lm.tiny", steps=4,
                       results={"val_loss": 2.5, "train_tokens_per_s": 90000.0, "peak_memory_bytes": 50 * 2**20,
                                "params": 10_000}))
    kernels = {"naive": 2.0, "favor": 1.0}
    rows = []
    for kernel, exponent in kernels.items():
        for n in (256, 512, 1024, 2048):
            rows.append({"kernel": kernel, "seq_len": n, "fwd_ms": 1e-4 * n ** exponent, "fwd_bwd_ms": 3e-4 * n ** exponent,
                         "peak_memory_bytes": 1000 * n ** exponent, "status": "ok"})
    rows.append({"kernel": "naive", "seq_len": 4096, "status": "oom", "error": "CUDA out of memory"})
    store.add_measurement(ids[0], "scaling", {"rows": rows})
    store.add_measurement(ids[1], "error_vs_prompt_length", {"rows": [
        {"model": m, "n_examples": k, "error": (1.0 if m == "gpt2" else 0.8) / k} for m in ("gpt2", "looped")
        for k in (1, 2, 4, 8, 16)]})
    store.add_measurement(ids[1], "samples", {"rows": [{"prompt": "To be | or", "temperature": 0.8,
                                                          "text": "not to be, that is the $question_ & 100%"}]})
    store.add_measurement(ids[0], "train_step", {"median": 0.012, "p10": 0.011, "p90": 0.014, "cv": 0.05, "n": 20,
                                                 "mean": 0.0125, "std": 0.001, "samples": [0.012] * 20})
    store.add_group(content_id("run", ids), "run", "lm.compare", "lmbench run --plugin lm.compare",
                    {"description": "LSTM vs Transformer"}, ids)
    return ids
