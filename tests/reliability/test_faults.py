"""Fault injection on the harness: full disk, kill -9, Ctrl-C, torn checkpoints.

Each case checks the two promises: the failure is recorded as a result with its reason, and
nothing recorded before it is lost.
"""

import errno
import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from lmbench.errors import DiskFullError, LmbenchError
from lmbench.runner import Runner
from lmbench.store import Store
from lmbench.testing import fresh_host


def _lmbench(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "lmbench.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _wait_for_steps(db, minimum, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db, timeout=5) as conn:
                if conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0] >= minimum:
                    return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"fewer than {minimum} steps were logged in {timeout} s")


def test_full_disk_fails_the_run_and_keeps_what_was_recorded(tmp_path):
    store = Store(tmp_path)
    page_size = store.conn.execute("PRAGMA page_size").fetchone()[0]
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 3}")  # SQLite's own 'database or disk is full'
    runner = Runner(store, fresh_host(), progress=False)
    _, [record] = runner.run_spec({"recipe": {"name": "core.noop", "steps": 5000}})
    assert record.status == "failed" and "disk is full" in record.reason
    store.close()
    reopened = Store(tmp_path)
    logged = reopened.steps(record.id).get("loss", [])
    assert 0 < len(logged) < 5000 and [s for s, _ in logged] == list(range(len(logged)))
    assert page_size > 0


def test_sigint_records_interrupted_and_exits_130(tmp_path):
    proc = _lmbench("run", "--plugin", "core.noop", "--set", "recipe.steps=1000000", "--store", str(tmp_path),
                    "--no-report")
    _wait_for_steps(tmp_path / "lmbench.sqlite", 50)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    [record] = Store(tmp_path).runs()
    assert record.status == "interrupted" and record.reason == "interrupted (Ctrl-C)"
    assert 0 < record.results["steps"] < 1000000  # the recipe saw the stop and returned its results


def test_kill_9_leaves_a_consistent_store_and_the_rerun_completes(tmp_path):
    args = ["run", "--plugin", "core.noop", "--set", "recipe.steps=1000000", "--store", str(tmp_path), "--no-report"]
    proc = _lmbench(*args)
    _wait_for_steps(tmp_path / "lmbench.sqlite", 100)
    proc.kill()
    proc.wait(30)
    conn = sqlite3.connect(tmp_path / "lmbench.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    logged = conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
    status = conn.execute("SELECT status FROM runs").fetchone()[0]
    assert logged >= 100 and status == "running"  # what it was doing when killed
    conn.close()
    rerun = subprocess.run([sys.executable, "-m", "lmbench.cli", *args, "--set", "recipe.steps=200", "--json"],
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    [run] = json.loads(rerun.stdout)["runs"]
    assert run["status"] == "done"


def test_rerunning_an_unfinished_run_makes_a_new_attempt_of_the_same_id(tmp_path):
    store = Store(tmp_path)
    runner = Runner(store, fresh_host(), progress=False)
    [planned] = runner.plan({"recipe": {"name": "core.noop", "steps": 5}})
    store.start_run(planned.run_id, planned.resolved.spec)  # as a killed run leaves it: 'running'
    _, [record] = runner.run_spec({"recipe": {"name": "core.noop", "steps": 5}})
    assert record.id == planned.run_id and record.status == "done" and record.attempts == 2


def test_checkpoint_write_is_atomic_and_loading_is_weights_only(tmp_path, monkeypatch):
    import torch

    from lmbench.checkpoint import load_checked, save_atomic

    path = tmp_path / "last.pt"
    save_atomic({"step": 1, "w": torch.ones(3)}, path)

    def torn_save(obj, handle):
        handle.write(b"half a checkpoint")
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:  # torch reports the full disk as its own RuntimeError, the OSError inside
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 85888 vs 85776")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(DiskFullError, match=r"cannot write checkpoint .*last\.pt: No space left on device"):
        save_atomic({"step": 2}, path)
    monkeypatch.undo()
    assert load_checked(path)["step"] == 1  # the previous checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind

    path.write_bytes(b"\x00garbage")
    with pytest.raises(LmbenchError, match="cannot be loaded .*delete it to start over"):
        load_checked(path)

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    torch.save({"evil": Evil()}, path)
    with pytest.raises(LmbenchError, match="cannot be loaded"):
        load_checked(path)  # weights_only refuses arbitrary objects


def test_spec_files_are_data(tmp_path):
    from lmbench.config import load_toml

    spec = tmp_path / "exp.toml"
    spec.write_text('[recipe]\nname = "__import__(\'os\').system(\'touch pwned\')"\n')
    loaded = load_toml(spec)
    assert loaded["recipe"]["name"].startswith("__import__")
    from lmbench.errors import UnknownNameError
    from lmbench.config import resolve

    with pytest.raises(UnknownNameError):
        resolve(loaded, fresh_host().registries)
    assert not (tmp_path / "pwned").exists()


def test_sigterm_is_a_clean_stop_too(tmp_path):
    proc = _lmbench("run", "--plugin", "core.noop", "--set", "recipe.steps=1000000", "--store", str(tmp_path),
                    "--no-report")
    _wait_for_steps(tmp_path / "lmbench.sqlite", 50)
    proc.terminate()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    [record] = Store(tmp_path).runs()
    assert record.status == "interrupted" and record.reason == "interrupted (SIGTERM)"


def test_cache_folders_are_whole_or_absent(tmp_path):
    from lmbench.checkpoint import atomic_folder

    def half_written(folder):
        (folder / "part").write_text("x")
        raise OSError("No space left on device")

    with pytest.raises(OSError):
        atomic_folder(tmp_path / "cache", half_written)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one remains

    atomic_folder(tmp_path / "cache", lambda folder: (folder / "first").write_text("1"))
    atomic_folder(tmp_path / "cache", lambda folder: (folder / "second").write_text("2"))  # lost the race
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["first"]
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]
