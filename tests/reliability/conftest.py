"""A seconds-long lm.train spec (on the root conftest's ``corpus``), for the fault and distributed tests."""

from __future__ import annotations

import subprocess
import sys
import time


def lm_spec(corpus, *, batch_size: int = 8, steps: int = 8, eval_every: int = 4, **recipe) -> dict:
    """A one-layer character Transformer on ``corpus``: deterministic on one CPU thread."""
    return {
        "dataset": {"name": "lm.text", "path": str(corpus)},
        "tokenizer": {"name": "lm.char"},
        "model": {"name": "lm.transformer", "n_layers": 1, "n_heads": 2, "emb_dim": 16, "max_seq_len": 32,
                  "dropout": 0.0},
        "recipe": {"name": "lm.train", "context": 16, "batch_size": batch_size, "max_steps": steps,
                   "eval_every": eval_every, "log_every": 1, "warmup_steps": 2, "eval_tokens": 256,
                   "final_eval_tokens": 512, "lr": 3e-3, "sample_prompts": [], "gen_tokens": 0, "save_best": False,
                   **recipe},
        "run": {"seed": 0, "threads": 1},
    }


def lmbench_process(*args: str) -> subprocess.Popen:
    """``lmbench ARGS`` in a child process (its output captured)."""
    return subprocess.Popen([sys.executable, "-m", "lmbench.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout: float = 120, what: str = "condition") -> None:
    """Poll ``predicate`` every 50 ms until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
