"""Processes end with their run: torchrun and its ranks are one process group that follows ``lmbench run``.

``lmbench run --nproc N`` starts torchrun in its own session (a new process group holding torchrun
and every rank). The parent forwards SIGINT, SIGTERM and SIGHUP to that whole group, and a second
Ctrl-C sends SIGKILL to it; if the parent itself is killed (even with ``kill -9``) the kernel sends
torchrun SIGTERM (Linux ``PR_SET_PDEATHSIG``), and torchrun stops its ranks. Before anything is
started, ``--nproc`` above this machine's device count (GPUs, or CPU cores on a CPU run) is refused
on one node, and torchrun variables left in the environment without a launcher are named
(:func:`check_stale_rendezvous`), so a run never waits out torch's 30-minute rendezvous timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Any

from ..errors import LimitError, LmbenchError

#: torchrun's rank variables; one of them set in a shell without a launcher means a stale export.
RANK_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
#: How long a rank waits for its master to answer (seconds), ``LMBENCH_RDZV_TIMEOUT``: rank 0 opens
#: the rendezvous only once it has imported torch, which takes tens of seconds on a loaded node.
DEFAULT_RDZV_TIMEOUT = 120.0


def device_count(device: str | None) -> tuple[int, str]:
    """(how many processes one node can give a device each, what they are)."""
    if device != "cpu":
        try:
            import torch

            if torch.cuda.is_available() and (device in (None, "auto") or str(device).startswith("cuda")):
                return torch.cuda.device_count(), "GPUs"
        except Exception:
            pass
    return os.cpu_count() or 1, "CPU cores"


def check_nproc(nproc: int, nnodes: str, device: str | None) -> None:
    """On one node, ``--nproc`` above the device count is refused (it would fork that many ranks)."""
    if nnodes not in ("1", "1:1"):
        return
    count, what = device_count(device)
    if nproc > count:
        raise LimitError(f"--nproc {nproc} is more than the {count} {what} of this machine; give at most {count}")


def rendezvous_timeout(environ: Any = None) -> float:
    """``LMBENCH_RDZV_TIMEOUT`` seconds (default 120) for a master to answer."""
    env = os.environ if environ is None else environ
    try:
        return max(float(env.get("LMBENCH_RDZV_TIMEOUT", DEFAULT_RDZV_TIMEOUT)), 0.1)
    except ValueError:
        return DEFAULT_RDZV_TIMEOUT


def check_stale_rendezvous(environ: dict[str, str] | None = None) -> None:
    """Refuse torchrun variables that no launcher set: rank variables without torchrun's own
    ``TORCHELASTIC_RUN_ID`` (or SLURM's ``SLURM_PROCID``: ranks started by ``srun``), or, for such
    a rank other than 0, a master that does not answer within :func:`rendezvous_timeout`."""
    env = os.environ if environ is None else environ
    present = [name for name in RANK_ENV if env.get(name)]
    if not present:
        return
    unset = "unset " + " ".join(present)
    if env.get("TORCHELASTIC_RUN_ID"):  # torchrun started us: its agent owns the rendezvous
        return
    if not env.get("SLURM_PROCID"):
        raise LmbenchError(f"torchrun variables are set but no launcher started this process ({', '.join(present)}); "
                           f"`{unset}`, or use lmbench run --nproc N")
    if "MASTER_ADDR" in present and "MASTER_PORT" in present and env.get("RANK", "0") != "0":  # srun-started rank
        timeout = rendezvous_timeout(env)
        if not _answers(env["MASTER_ADDR"], env["MASTER_PORT"], timeout):
            raise LmbenchError(f"the torchrun master {env['MASTER_ADDR']}:{env['MASTER_PORT']} did not answer within "
                               f"{timeout:g} s (LMBENCH_RDZV_TIMEOUT); if no launcher is running, `{unset}`")


def _answers(host: str, port: str, timeout: float) -> bool:
    """Whether ``host:port`` accepts a connection within ``timeout`` s. A refused connection is tried
    again: rank 0 opens the port only once it has started, which its peers may well beat."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, int(port)), timeout=max(left, 0.05)):
                return True
        except ValueError:
            return False
        except OSError:
            if left <= 0:
                return False
            time.sleep(min(0.25, max(left, 0.0)))


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def run_process_group(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` as the leader of a new process group that follows this process; return its exit code.

    SIGINT/SIGTERM/SIGHUP here are passed on to the whole group; a second SIGINT kills it."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=_die_with_parent)
    seen: dict[str, int] = {"int": 0}

    def forward(signum: int, frame: Any) -> None:
        if signum == signal.SIGINT:
            seen["int"] += 1
        sig = signal.SIGKILL if seen["int"] > 1 else signum
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        return proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
