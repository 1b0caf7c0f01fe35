"""Every process ends with its run (issue 27, items 5 and 6): torchrun and its ranks follow
``lmbench run --nproc 2`` (SIGTERM and kill -9), a dry run launches nothing, ``--nproc`` above the
machine is refused, stale torchrun variables are named, and Ctrl-C stops a sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from lmbench.run.launch_guard import check_stale_rendezvous, device_count

from .conftest import wait_for

SLEEP_RUN = ["run", "--plugin", "core.noop", "--set", "recipe.name=core.sleep", "--set", "recipe.steps=2000",
             "--set", "recipe.seconds=0.05", "--no-report"]


def _lmbench(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lmbench.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_a_dry_run_with_nproc_launches_nothing(tmp_path):
    started = time.monotonic()
    proc = _lmbench("run", "--plugin", "core.noop", "--nproc", "2", "--dry-run", "--store", str(tmp_path / "s"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.lstrip().startswith("[") and "torch.distributed" not in err and not (tmp_path / "s").exists()
    assert time.monotonic() - started < 60


def test_nproc_above_the_machine_is_refused_with_one_line(tmp_path):
    count, what = device_count(None)
    proc = _lmbench("run", "--plugin", "core.noop", "--nproc", "1000", "--dry-run", "--store", str(tmp_path / "s"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [f"error: --nproc 1000 is more than the {count} {what} of this machine; "
                                        f"give at most {count}"]


@pytest.mark.parametrize("env, first_line", [
    ({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"},
     "torchrun variables are set but no launcher started this process (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); "
     "`unset RANK WORLD_SIZE MASTER_ADDR MASTER_PORT`, or use lmbench run --nproc N"),
    ({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1", "SLURM_PROCID": "1",
      "LMBENCH_RDZV_TIMEOUT": "0.5"},
     "the torchrun master 127.0.0.1:1 did not answer within 0.5 s (LMBENCH_RDZV_TIMEOUT); if no launcher is "
     "running, `unset RANK WORLD_SIZE MASTER_ADDR MASTER_PORT`"),
])
def test_stale_torchrun_variables_are_named_at_once(env, first_line):
    from lmbench.errors import LmbenchError

    started = time.monotonic()
    with pytest.raises(LmbenchError) as err:
        check_stale_rendezvous(env)
    assert str(err.value) == first_line and time.monotonic() - started < 10
    check_stale_rendezvous({"RANK": "0", "TORCHELASTIC_RUN_ID": "x"})  # torchrun's own ranks pass
    check_stale_rendezvous({})


def _family(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _ranks_running(proc: subprocess.Popen) -> bool:
    return sum("lmbench.cli" in " ".join(p.cmdline()) for p in _family(proc) if p.is_running()) >= 2


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_torchrun_and_its_ranks_end_with_lmbench_run(tmp_path, how):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 CPU cores for --nproc 2")
    proc = _lmbench(*SLEEP_RUN, "--nproc", "2", "--store", str(tmp_path / "s"))
    try:
        wait_for(lambda: _ranks_running(proc) or proc.poll() is not None, timeout=120, what="two ranks")
        family = _family(proc)
        assert len(family) >= 3, proc.communicate(timeout=30)[1][-2000:]  # torchrun + 2 ranks
        proc.send_signal(how)
        proc.wait(60)
        gone, alive = psutil.wait_procs(family, timeout=60)
        assert alive == [], [p.cmdline() for p in alive]
    finally:
        for p in _family(proc):
            p.kill()
        if proc.poll() is None:
            proc.kill()


def _running_rows(store_dir) -> int:
    import sqlite3

    try:
        with sqlite3.connect(store_dir / "lmbench.sqlite", timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0] and \
                conn.execute("SELECT COUNT(DISTINCT run_id) FROM steps").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_ctrl_c_stops_a_sweep_without_starting_the_remaining_points(tmp_path):
    store = tmp_path / "sweep"
    proc = _lmbench("sweep", "--plugin", "core.noop", "--set", "recipe.name=core.sleep", "--set", "recipe.steps=2000",
                    "--grid", "recipe.seconds=0.05,0.06,0.07,0.08", "-j", "2", "--store", str(store), "--no-report",
                    start_new_session=True)  # its own group, like a terminal's foreground job
    try:
        wait_for(lambda: len([p for p in _family(proc) if "lmbench.cli" in " ".join(p.cmdline())]) >= 2
                 or proc.poll() is not None, timeout=120, what="two sweep workers")
        wait_for(lambda: _running_rows(store) >= 2 or proc.poll() is not None, timeout=120, what="two running points")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group gets it
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    from lmbench.store import Store

    with Store(store) as s:
        statuses = sorted(r.status for r in s.runs())
    assert statuses == ["interrupted", "interrupted"]  # the two other points never started
