"""Killing and interrupting real training: the resumed run ends where an uninterrupted one does."""

from __future__ import annotations

import json
import signal

import pytest

from lmbench.store import Store
from lmbench.testing import run_spec

from .conftest import kill_9_then_resume, lm_spec, lmbench_process, steps_logged, wait_for

pytest.importorskip("torch")
STEPS, EVAL_EVERY = 300, 20


def _start(corpus, tmp_path, store_dir):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(lm_spec(corpus, steps=STEPS, eval_every=EVAL_EVERY)))
    args = ("run", "--spec-json", str(spec_file), "--store", str(store_dir), "--no-report", "--json")
    return args, lmbench_process(*args)


def test_kill_9_mid_training_then_resume_equals_uninterrupted(corpus, tmp_path):
    spec = lm_spec(corpus, steps=STEPS, eval_every=EVAL_EVERY)
    [reference] = run_spec(spec, tmp_path / "reference")
    assert reference.status == "done", reference.reason
    record, _ = kill_9_then_resume(spec, tmp_path, 2 * EVAL_EVERY + 5)
    assert record.id == reference.id
    for key in ("val_loss", "test_loss", "train_tokens", "steps"):
        assert record.results[key] == pytest.approx(reference.results[key], rel=1e-6), key


def test_ctrl_c_saves_records_interrupted_and_exits_130(corpus, tmp_path):
    store_dir = tmp_path / "interrupted"
    args, proc = _start(corpus, tmp_path, store_dir)
    wait_for(lambda: steps_logged(store_dir) >= 10 or proc.poll() is not None, what="training")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    [run] = json.loads(stdout)["runs"]
    assert run["status"] == "interrupted" and 10 <= run["results"]["steps"] < STEPS
    with Store(store_dir) as store:
        run_dir = store.run_dir(run["id"])
    assert (run_dir / "checkpoints" / "last.pt").exists()  # saved on the way out
    assert run["results"]["test_loss"] > 0  # and still evaluated
