"""A full disk anywhere (store, log file, checkpoint, report): one line naming what could not be
written, the run recorded as failed where the store can still take it, never left ``running``.

The real case needs a small tmpfs (``mount``, so root on Linux); the same code paths are covered
everywhere by injecting ``OSError(ENOSPC)``.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmbench.cli import main
from lmbench.errors import DiskFullError
from lmbench.files import SafeFileHandler
from lmbench.store import Store
from lmbench.testing import run_spec

from .conftest import lm_spec


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 2 MB tmpfs, filled up to its last ~200 kB so the store fills within a second or two."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("needs Linux mount")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not permitted'})")
    try:
        free = shutil.disk_usage(mount).free
        (mount / "filler").write_bytes(b"\0" * max(free - 200_000, 0))
        yield mount / "store"
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_store_on_a_full_tmpfs_fails_in_one_line_and_is_never_left_running(tiny_tmpfs):
    done = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--plugin", "core.noop", "--set",
                           "recipe.steps=100000000", "--store", str(tiny_tmpfs)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "Logging error" not in done.stderr, done.stderr[-3000:]
    full = [line for line in done.stderr.splitlines() if "disk is full" in line or "No space" in line]
    assert full, done.stderr[-2000:]
    with Store(tiny_tmpfs, readonly=True) as store:
        [record] = store.runs()
        assert record.status in ("failed", "abandoned")  # failed if the store took it, else its owner is gone
    shown = subprocess.run([sys.executable, "-m", "lmbench.cli", "show", record.id, "--store", str(tiny_tmpfs)],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "status: running" not in shown.stdout and record.status in shown.stdout


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_log_file_on_a_full_disk_warns_once_instead_of_a_traceback_per_record(tmp_path, capsys):
    handler = SafeFileHandler(tmp_path / "log.txt")
    logger = logging.getLogger("lmbench.test-full-log")
    logger.addHandler(handler)
    try:
        logger.warning("first")  # opens and writes the file
        handler.stream.write = _enospc
        for i in range(5):
            logger.warning("record %d", i)
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert err.count("cannot write log file") == 1 and "No space left on device" in err
    assert "Logging error" not in err and "Traceback" not in err


def test_a_checkpoint_on_a_full_disk_fails_the_run_with_the_file_named(corpus, tmp_path, monkeypatch):
    import torch

    real_save = torch.save

    def full_disk_save(obj, handle, *args, **kwargs):
        if not isinstance(handle, io.BufferedWriter):
            return real_save(obj, handle, *args, **kwargs)
        try:
            _enospc()
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 85888 vs 85776")

    monkeypatch.setattr(torch, "save", full_disk_save)
    [record] = run_spec(lm_spec(corpus, steps=6, eval_every=3), tmp_path / "runs")
    assert record.status == "failed"
    assert "cannot write checkpoint" in record.reason and "last.pt: No space left on device" in record.reason
    assert "unexpected pos" not in record.reason
    assert not list(Path(record.run_dir).rglob("*.tmp"))


def test_a_report_on_a_full_disk_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    store_dir = tmp_path / "runs"
    run_spec({"recipe": {"name": "core.noop", "steps": 3}}, store_dir)
    monkeypatch.setattr(Path, "write_text", _enospc)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--last", "1", "--no-plots", "--store", str(store_dir), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert "cannot write report" in err[0] and "report.md: No space left on device" in err[0]


def test_disk_full_errors_name_the_file():
    from lmbench.files import write_failure

    error = write_failure(RuntimeError("unexpected pos").with_traceback(None), "/x/last.pt", "checkpoint")
    assert not isinstance(error, DiskFullError)
    try:
        try:
            _enospc()
        except OSError:
            raise RuntimeError("unexpected pos 1 vs 2")
    except RuntimeError as exc:
        error = write_failure(exc, "/x/last.pt", "checkpoint")
    assert isinstance(error, DiskFullError) and str(error).startswith("cannot write checkpoint /x/last.pt: No space")
    assert os.fspath("/x/last.pt") in str(error)
