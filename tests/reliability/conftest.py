"""Helpers of the fault, resume and distributed tests: a seconds-long lm.train spec (on the root
conftest's ``corpus``), ``lmbench`` in a child process, and kill -9 then resume."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from lmbench.store import RunRecord, Store


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


def steps_logged(store_dir: Path) -> int:
    """How many distinct steps the run in ``store_dir`` has logged a ``train_loss`` for (0 before the store exists)."""
    try:
        with sqlite3.connect(Path(store_dir) / "lmbench.sqlite", timeout=5) as conn:
            return conn.execute("SELECT COUNT(DISTINCT step) FROM steps WHERE key='train_loss'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def kill_9_then_resume(spec: dict, tmp_path: Path, kill_after_logged: int, *,
                       rerun_timeout: float = 300) -> tuple[RunRecord, Path]:
    """Run ``spec`` as ``lmbench run`` in a child, SIGKILL it once ``kill_after_logged`` steps are
    logged, check it left an abandoned run with a checkpoint, then run the same command again.

    Returns the resumed run's record (two attempts, "resumed from step" in its log) and its folder.
    """
    spec_file, store_dir = tmp_path / "spec.json", tmp_path / "killed"
    spec_file.write_text(json.dumps(spec))
    args = ("run", "--spec-json", str(spec_file), "--store", str(store_dir), "--no-report", "--json")
    proc = lmbench_process(*args)
    wait_for(lambda: steps_logged(store_dir) >= kill_after_logged or proc.poll() is not None, what="training")
    proc.kill()  # SIGKILL: no handler runs, nothing is saved on the way out
    proc.wait(30)
    with Store(store_dir) as store:
        [killed] = store.runs()
        run_dir = Path(store.run_dir(killed.id))
    assert killed.status == "abandoned", "the run finished before it could be killed; train longer"
    assert (run_dir / "checkpoints" / "last.pt").exists()
    again = lmbench_process(*args)
    stdout, stderr = again.communicate(timeout=rerun_timeout)
    assert again.returncode == 0, stderr[-3000:]
    [resumed] = json.loads(stdout)["runs"]
    assert resumed["status"] == "done", resumed
    with Store(store_dir) as store:
        record = store.get(resumed["id"])
    assert record.attempts == 2 and "resumed from step" in (run_dir / "log.txt").read_text()
    return record, run_dir
