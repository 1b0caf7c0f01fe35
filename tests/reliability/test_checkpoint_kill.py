"""kill -9 at random points during checkpoint writes: the checkpoint on disk is always a whole one,
and the temporary files of the killed writer are removed when the run is next started."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from lmbench.checkpoint import TEMP_GLOB, load_checked, remove_stale_temp_files
from lmbench.lease import RunLease, pid_alive
from lmbench.runner import Runner
from lmbench.store import Store
from lmbench.testing import fresh_host

from .conftest import wait_for

torch = pytest.importorskip("torch")

# Imports torch once, then per line on stdin forks a writer that saves checkpoints in a loop and
# prints its pid; the test kills the writer with SIGKILL (fork: no second torch import per kill).
WRITER = """
import itertools, os, sys
from pathlib import Path
import torch
from lmbench.checkpoint import save_atomic
path = Path(sys.argv[1])
for _ in sys.stdin:
    pid = os.fork()
    if pid == 0:
        for step in itertools.count():
            save_atomic({"step": step, "w": torch.full((1_000_000,), float(step))}, path)  # 4 MB a write
    print(pid, flush=True)
    os.waitpid(pid, 0)
"""


def test_kill_9_at_random_points_of_checkpoint_writes_leaves_a_whole_checkpoint(tmp_path):
    rng = random.Random(14)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    path = folder / "last.pt"
    parent = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        for kill in range(8):
            parent.stdin.write("go\n")
            parent.stdin.flush()
            writer = int(parent.stdout.readline())
            deadline = time.monotonic() + 30
            while not path.exists() and time.monotonic() < deadline:  # at least one whole write
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.2))  # then a random point, most likely inside a write
            os.kill(writer, signal.SIGKILL)
            wait_for(lambda: not pid_alive(writer), timeout=10, what="the writer to die")
            state = load_checked(path)
            assert state["w"].shape == (1_000_000,) and bool((state["w"] == float(state["step"])).all())
            remove_stale_temp_files(tmp_path)
            assert not list(folder.glob(TEMP_GLOB))
    finally:
        parent.kill()
        parent.wait(10)


def test_temporary_files_of_a_dead_run_are_removed_on_its_next_start(tmp_path):
    store = Store(tmp_path)
    spec = {"recipe": {"name": "core.noop", "steps": 3}}
    runner = Runner(store, fresh_host(), progress=False)
    [planned] = runner.plan(spec)
    store.start_run(planned.run_id, planned.resolved.spec)  # a run whose process died: no lease
    stale = store.run_dir(planned.run_id) / "checkpoints" / ".last.pt.k2j3h4.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a checkpoint")
    assert store.get(planned.run_id).status == "abandoned"
    record = runner.execute(planned)
    assert record.status == "done" and not stale.exists()


def test_a_live_owner_s_temporary_files_are_not_touched(tmp_path):
    store = Store(tmp_path)
    spec = {"recipe": {"name": "core.noop", "steps": 3}}
    [planned] = Runner(None, fresh_host()).plan(spec)
    owner = RunLease(Store(tmp_path), planned.run_id).acquire()
    busy = store.run_dir(planned.run_id) / "checkpoints" / ".last.pt.live.tmp"
    busy.parent.mkdir(parents=True)
    busy.write_bytes(b"being written")
    with pytest.raises(Exception, match="is being run by"):
        Runner(store, fresh_host(), progress=False).execute(planned)
    assert busy.exists()
    owner.release()
