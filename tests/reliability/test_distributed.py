"""torchrun (gloo on CPU): two processes, replicated (DDP) or sharded (FSDP), train exactly what one
process with their global batch does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lmbench.store import Store
from lmbench.testing import run_spec

from .conftest import lm_spec

pytest.importorskip("torch")

STEPS = 8


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_two_process_training_equals_one_process_with_the_global_batch(corpus, tmp_path, parallel):
    [single] = run_spec(lm_spec(corpus, batch_size=8, steps=STEPS), tmp_path / "single")
    assert single.status == "done", single.reason

    spec = lm_spec(corpus, batch_size=4, steps=STEPS)
    spec["run"]["parallel"] = parallel
    spec_file = tmp_path / "ddp.json"
    spec_file.write_text(json.dumps(spec))
    store_dir = tmp_path / "ddp"
    out = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--spec-json", str(spec_file), "--store",
                          str(store_dir), "--nproc", "2", "--no-report", "--json"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout)["runs"][0]["status"] == "done"  # one answer on stdout, from rank 0

    with Store(store_dir) as store:
        [ddp] = store.runs()  # two processes, one run: only rank 0 writes
        assert ddp.status == "done" and ddp.env["world_size"] == 2
        ddp_curve = [v for _, v in store.steps(ddp.id)["train_loss"]]
    with Store(tmp_path / "single") as store:
        single_curve = [v for _, v in store.steps(single.id)["train_loss"]]
    assert len(ddp_curve) == len(single_curve) == STEPS
    assert ddp_curve == pytest.approx(single_curve, rel=1e-4)
    assert single_curve[-1] < single_curve[0]  # it learned something, so equality is not vacuous
    assert ddp.results["train_tokens"] == single.results["train_tokens"]
    assert ddp.results["val_loss"] == pytest.approx(single.results["val_loss"], rel=1e-4)


def looped_spec(batch_size: int) -> dict:
    """A seconds-long looped.train run: b = 4 loops, loss window T = 3, loop curriculum 2 -> 4."""
    return {
        "dataset": {"name": "looped.linreg", "n_dims": 3, "n_points": 7, "dims_start": 2, "points_start": 3,
                    "curriculum_every": 3},
        "model": {"name": "looped.looped", "loops": 4, "grad_loops": 3, "d_model": 16, "n_heads": 2,
                  "loops_start": 2, "loops_step": 1, "loops_every": 3},
        "recipe": {"name": "looped.train", "steps": STEPS, "batch_size": batch_size, "eval_prompts": 32,
                   "log_every": 1, "warmup_steps": 2, "lr": 1e-2, "eval_loops": [4], "plot": False},
        "run": {"seed": 0, "device": "cpu", "threads": 1},
    }


def test_looped_two_process_training_equals_one_process_with_the_global_batch(tmp_path):
    """Each rank trains its slice of the global batch on the window of the last T loops, as one process does
    (DDP once trained on the last loop's read-out only, each rank on the same prompts)."""
    [single] = run_spec(looped_spec(batch_size=8), tmp_path / "single")
    assert single.status == "done", single.reason
    spec_file = tmp_path / "ddp.json"
    spec_file.write_text(json.dumps(looped_spec(batch_size=4)))
    store_dir = tmp_path / "ddp"
    out = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--spec-json", str(spec_file), "--store",
                          str(store_dir), "--nproc", "2", "--no-report", "--json"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    with Store(store_dir) as store:
        [ddp] = store.runs()
        assert ddp.status == "done" and ddp.env["world_size"] == 2
        ddp_curve = [v for _, v in store.steps(ddp.id)["train_loss"]]
    with Store(tmp_path / "single") as store:
        single_curve = [v for _, v in store.steps(single.id)["train_loss"]]
    assert len(ddp_curve) == len(single_curve) == STEPS
    assert ddp_curve == pytest.approx(single_curve, rel=1e-4)
    assert ddp.results["error_at_2d"] == pytest.approx(single.results["error_at_2d"], rel=1e-3)
