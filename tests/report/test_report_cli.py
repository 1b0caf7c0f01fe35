"""`lmbench report`, `compare` and `sweep` through the real entry point (one-line errors, exit codes)."""

from __future__ import annotations

import json

import pytest

from lmbench.cli import main
from lmbench.store import Store


def _main(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return info.value.code or 0, out, err


def test_report_of_unknown_run_is_one_line(tmp_path, capsys):
    from report_helpers import add_run

    with Store(tmp_path / "runs") as store:
        add_run(store, "a", results={"val_loss": 1.0})
    code, _, err = _main(["report", "nosuchrun", "--store", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.startswith("error: unknown run") and err.count("\n") == 1


def test_report_formats_and_failed_runs_are_named(tmp_path, capsys):
    from report_helpers import add_run

    runs = tmp_path / "runs"
    with Store(runs) as store:
        ok = add_run(store, "a", results={"val_loss": 1.0, "train_tokens_per_s": 10.0})
        oom = add_run(store, "b", status="oom", reason="out of memory")
    out_dir = tmp_path / "out"
    code, out, err = _main(["report", ok, oom, "--store", str(runs), "-f", "md,tex", "-f", "csv", "--no-plots",
                            "-o", str(out_dir), "--json"], capsys)
    assert code == 0
    files = {p.split("/")[-1] for p in json.loads(out)["files"]}
    assert {"report.md", "report.tex", "results.csv"} <= files
    assert "did not finish: OOM" in err
    assert "| b | OOM |" in (out_dir / "report.md").read_text()


def test_compare_fail_on_regression_exit_code(tmp_path, capsys):
    from report_helpers import add_run

    runs = tmp_path / "runs"
    with Store(runs) as store:
        a = add_run(store, "a", results={"val_loss": 1.0, "train_tokens_per_s": 1000.0})
        b = add_run(store, "b", seed=1, results={"val_loss": 1.0, "train_tokens_per_s": 800.0})
        c = add_run(store, "c", seed=2, results={"val_loss": 1.0, "train_tokens_per_s": 1010.0})
        code, out, _ = _main(["compare", a, b, "--store", str(runs), "--fail-on", "regression"], capsys)
        assert code == 0 and "no verdict: one seed per side" in out  # one seed a side: no claim without a floor
        from lmbench.stats.noise import floor_key, save_noise

        save_noise(store, "lm.train", "seeds", {"repeats": 5, "specs": {floor_key(store.get(a).spec): {
            "val_loss": 0.001, "train_tokens_per_s": 0.005}}})
    code, out, err = _main(["compare", a, b, "--store", str(runs), "--fail-on", "regression", "--threshold", "0.1"], capsys)
    assert code == 1 and "regression: 1 metric(s)" in err and "train_tokens_per_s" in err
    assert "worse" in out and "-20.0%" in out
    code, out, _ = _main(["compare", a, c, "--store", str(runs), "--fail-on", "regression", "--json"], capsys)
    assert code == 0 and json.loads(out)["regressions"] == []
    code, _, _ = _main(["compare", a, b, "--store", str(runs), "--fail-on", "regression", "--threshold", "0.25"], capsys)
    assert code == 0  # 20% worse is within a 25% threshold


def test_sweep_bad_grid_key_fails_before_running(tmp_path, capsys):
    runs = tmp_path / "runs"
    code, _, err = _main(["sweep", "--plugin", "core.noop", "--grid", "attention.n_hashes=2,4", "--store", str(runs)],
                         capsys)
    assert code == 2 and "the spec has no [attention] table" in err and err.count("\n") == 1
    assert not (runs / "lmbench.sqlite").exists() or Store(runs).runs() == []


def test_sweep_end_to_end_then_resume_and_report(tmp_path, capsys):
    runs = tmp_path / "runs"
    args = ["sweep", "--plugin", "core.noop", "--set", "recipe.steps=3", "--grid", "recipe.steps=2,3",
            "--seeds", "0,1", "--store", str(runs), "--json", "--name", "tiny"]
    code, out, err = _main(args, capsys)
    result = json.loads(out)
    assert code == 0 and len(result["runs"]) == 4 and result["skipped"] == 0
    assert any(p.endswith("report.md") for p in result["reports"])
    point = next(r for r in result["aggregate"] if r["point"] == "steps=3")
    assert point["ok"] == 2 and point["steps"]["mean"] == 3
    with Store(runs) as store:
        cmd = store.get(result["runs"][0]["id"]).command
    assert cmd.startswith("lmbench run --plugin core.noop --set recipe.steps=3") and "--set run.seed=0" in cmd
    code, out, _ = _main(args, capsys)
    assert code == 0 and json.loads(out)["skipped"] == 4
    code, _, err = _main(["report", "--sweep", "tiny", "--store", str(runs), "--no-plots"], capsys)
    assert code == 0 and "report.md" in err
