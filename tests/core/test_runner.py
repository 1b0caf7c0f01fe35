"""Runner: end to end with the core recipes; failures recorded as results; ids; hooks."""

import types
from pathlib import Path

import pytest

from lmbench import hookimpl
from lmbench.errors import UnknownNameError
from lmbench.runner import Runner
from lmbench.store import Store
from lmbench.testing import fresh_host, run_spec

NOOP = {"recipe": {"name": "core.noop", "steps": 20}}


def test_noop_run_end_to_end_and_skip_when_done(tmp_path, run_experiment, lmbench_host):
    [record] = run_experiment(NOOP, host=lmbench_host)
    assert record.status == "done" and record.results["steps"] == 20
    store = Store(tmp_path / "runs")
    assert [s for s, _ in store.steps(record.id)["loss"]] == list(range(20))
    run_dir = Path(record.run_dir)
    assert (run_dir / "spec.toml").exists() and (run_dir / "env.json").exists()
    assert record.env["python"] and "core" in record.env["plugins"]
    again = run_experiment(NOOP, host=lmbench_host)[0]
    assert again.attempts == 1  # skipped, not rerun
    forced = run_spec(NOOP, tmp_path / "runs", host=lmbench_host, force=True)[0]
    assert forced.attempts == 2


def test_nan_and_crash_are_recorded_as_results(run_experiment, lmbench_host):
    nan = run_experiment({"recipe": {"name": "core.noop", "steps": 10, "nan_at": 4}}, host=lmbench_host)[0]
    assert nan.status == "nan" and nan.reason == "non-finite loss at step 4 (nan)"
    crash = run_experiment({"recipe": {"name": "core.noop", "steps": 10, "fail_at": 2}}, host=lmbench_host)[0]
    assert crash.status == "failed" and crash.reason == "RuntimeError: injected failure at step 2"
    assert "Traceback" in (Path(crash.run_dir) / "error.txt").read_text()


def test_timeout_stops_the_recipe_cleanly(run_experiment, lmbench_host):
    spec = {"recipe": {"name": "core.sleep", "steps": 1000, "seconds": 0.01}, "run": {"timeout": "0.2s"}}
    record = run_experiment(spec, host=lmbench_host)[0]
    assert record.status == "timeout" and record.reason == "timeout after 0.2 s"
    assert record.results["step_time_ms"] > 0


def test_out_of_memory_is_recorded_as_oom(run_experiment, lmbench_host):
    class OutOfMemoryError(RuntimeError):
        pass

    class Boom:
        def __init__(self, config):
            pass

        def run(self, run):
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    plugin = types.SimpleNamespace(lmbench_register_recipes=hookimpl(lambda registry: registry.add("boom", Boom)))
    lmbench_host.register(plugin, "t")
    record = run_experiment({"recipe": {"name": "t.boom"}}, host=lmbench_host)[0]
    assert record.status == "oom" and "Tried to allocate" in record.reason


def test_run_id_ignores_label_and_report_but_not_options(lmbench_host):
    runner = Runner(None, lmbench_host, progress=False)
    a = runner.plan({**NOOP, "run": {"label": "x"}, "report": {"formats": ["md", "tex"]}})[0].run_id
    b = runner.plan({**NOOP, "run": {"label": "y"}})[0].run_id
    c = runner.plan({"recipe": {"name": "core.noop", "steps": 21}})[0].run_id
    assert a == b != c


def test_variants_become_runs_and_only_selects(run_experiment, lmbench_host):
    spec = {**NOOP, "variants": [{"label": "short", "set": {"recipe.steps": 3}},
                                 {"label": "long", "set": {"recipe.steps": 5}}]}
    records = run_experiment(spec, host=lmbench_host)
    assert [(r.label, r.results["steps"]) for r in records] == [("short", 3), ("long", 5)]
    with pytest.raises(UnknownNameError, match="did you mean: long"):
        run_experiment(spec, host=lmbench_host, only=("lon",))


def test_hooks_see_the_run_and_a_failing_step_hook_does_not_stop_training(run_experiment, lmbench_host):
    seen = {"start": 0, "steps": 0, "end": None}

    def start(run):
        seen["start"] += 1
        assert run.device == "cpu" and run.spec["recipe"]["name"] == "core.noop"

    def step_end(run, step, logs):
        seen["steps"] += 1
        raise ValueError("observer bug")

    def end(run, result):
        seen["end"] = result["status"]

    plugin = types.SimpleNamespace(lmbench_run_start=hookimpl(start), lmbench_step_end=hookimpl(step_end),
                                   lmbench_run_end=hookimpl(end))
    lmbench_host.register(plugin, "observer")
    record = run_experiment(NOOP, host=lmbench_host)[0]
    assert record.status == "done" and seen == {"start": 1, "steps": 1, "end": "done"}


def test_run_start_hook_failure_fails_the_run_naming_the_plugin(run_experiment, lmbench_host):
    def start(run):
        raise RuntimeError("cannot start")

    lmbench_host.register(types.SimpleNamespace(lmbench_run_start=hookimpl(start)), "picky")
    record = run_experiment(NOOP, host=lmbench_host)[0]
    assert record.status == "failed" and record.reason.startswith("plugin 'picky' failed in lmbench_run_start")


def test_paths_cannot_escape_the_run_folder(tmp_path, lmbench_host):
    from lmbench.context import Run

    runner = Runner(None, lmbench_host, progress=False)
    planned = runner.plan(NOOP)[0]
    run = Run(run_id=planned.run_id, run_dir=tmp_path / "r", resolved=planned.resolved, host=lmbench_host,
              store=None, device="cpu")
    assert run.path("report/table.md").parent.is_dir()
    from lmbench.errors import LmbenchError

    with pytest.raises(LmbenchError, match="outside the run folder"):
        run.path("../../etc/passwd")
