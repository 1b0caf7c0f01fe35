"""Run identity follows every setting that can change a result, and nothing else.

The spec keys declared not to change results are listed here once; every other key of a resolved
spec, the world size, the node count and the device kind change the run id. One spec run under
``lmbench run --nproc 2`` and under ``lmbench run`` gives two runs in one store, and both train."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from lmbench.run.context import DistInfo
from lmbench.run.run_id import NOT_RESULT_CHANGING, execution_identity, identity_spec
from lmbench.run.runner import Runner
from lmbench.store import Store

#: The declared list, repeated here so that adding a key to it is a deliberate, reviewed change.
DECLARED = ("report", "preset", "description", "run.label", "run.device")


def _spec(corpus) -> dict:
    return {"dataset": {"name": "lm.text", "path": str(corpus)}, "tokenizer": {"name": "lm.char"},
            "model": {"name": "lm.transformer", "n_layers": 1, "n_heads": 2, "emb_dim": 16, "max_seq_len": 32},
            "recipe": {"name": "lm.train", "context": 16, "batch_size": 4, "max_steps": 4, "eval_every": 4,
                       "eval_tokens": 128, "final_eval_tokens": 256, "sample_prompts": [], "gen_tokens": 0},
            "run": {"seed": 0, "threads": 1, "label": "x"}, "report": {"title": "t"}, "preset": "lm.compare"}


def _leaves(spec: dict, prefix: str = "") -> list[tuple[str, ...]]:
    out = []
    for key, value in spec.items():
        if isinstance(value, dict) and value:
            out += [(key, *rest) for rest in _leaves(value)]
        else:
            out.append((key,))
    return out


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if value == "auto":  # run.device: another spelling of the same device kind here
        return "cpu"
    if isinstance(value, str):
        return value + "-other"
    if isinstance(value, list):
        return [*value, "other"]
    return "other" if value is None else None


def test_the_declared_keys_leave_the_id_and_every_other_key_changes_it(corpus):
    assert NOT_RESULT_CHANGING == DECLARED
    runner = Runner(None)
    [planned] = runner.plan(_spec(corpus))
    base = runner.spec_id(planned.resolved)
    leaves = _leaves(planned.resolved.spec)
    assert len(leaves) > 40 and ("recipe", "lr") in leaves and ("run", "deterministic") in leaves
    for path in leaves:
        resolved = copy.deepcopy(planned.resolved)
        node = resolved.spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = _changed(node[path[-1]])
        dotted = ".".join(path)
        declared = dotted in DECLARED or path[0] in DECLARED
        assert (runner.spec_id(resolved) == base) == declared, f"{dotted}: declared={declared}"


def test_world_size_nodes_and_device_kind_enter_the_id(corpus, monkeypatch):
    spec = _spec(corpus)
    one = Runner(None).plan(spec)[0].run_id
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    two = Runner(None, dist=DistInfo(0, 2, 0)).plan(spec)[0].run_id
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    two_nodes = Runner(None, dist=DistInfo(0, 2, 0)).plan(spec)[0].run_id
    assert len({one, two, two_nodes}) == 3
    assert execution_identity(spec, DistInfo(0, 2, 0))["nodes"] == 2
    spec["run"]["device"] = "cpu"  # "auto" resolves to cpu here: the same device kind, the same run
    assert Runner(None).plan(spec)[0].run_id == one
    assert identity_spec({"run": {"seed": 3, "label": "a"}}, drop=("run.seed",)) == {"run": {}}


def test_nproc_2_and_one_process_are_two_runs_and_both_train(corpus, tmp_path):
    spec = _spec(corpus)
    spec["recipe"].update(batch_size=2, max_steps=2, eval_every=2)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    store_dir = tmp_path / "runs"
    ids = []
    for nproc in ("1", "2"):
        out = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--spec-json", str(spec_file), "--store",
                              str(store_dir), "--nproc", nproc, "--no-report", "--json"], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        [run] = json.loads(out.stdout)["runs"]
        assert run["status"] == "done" and run["results"]["steps"] == 2  # trained, not skipped as done
        ids.append(run["id"])
    assert ids[0] != ids[1]
    with Store(store_dir, readonly=True) as store:
        runs = {r.id: r for r in store.runs()}
        assert runs[ids[0]].env.get("world_size", 1) == 1 and runs[ids[1]].env["world_size"] == 2


def test_a_launcher_target_gives_the_sweep_the_id_its_workers_compute(corpus, monkeypatch):
    from lmbench.launch.slurm import SlurmConfig, SlurmLauncher

    spec = _spec(corpus)
    target = SlurmLauncher(SlurmConfig(nodes=2)).execution_target()
    assert target == {"world_size": 2, "nodes": 2, "device_kind": "cpu"}
    planned_by_sweep = Runner(None, target=target).plan(spec)[0].run_id
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")  # one rank on each of two nodes, as submitit exports it
    computed_by_worker = Runner(None, dist=DistInfo(1, 2, 0)).plan(spec)[0].run_id
    assert planned_by_sweep == computed_by_worker != Runner(None).plan(spec)[0].run_id
