"""torchrun integration: launch a run under ``torch.distributed.run`` and join its process group.

``lmbench run --nproc N ...`` re-runs the same command under torchrun (no home-made launcher);
each worker reads RANK/WORLD_SIZE/LOCAL_RANK, joins the group (NCCL on GPUs, gloo on CPU) and
runs the same spec. Recipes wrap their model with ``run.wrap_model`` and shard data by
``run.dist``; only rank 0 writes the store, checkpoints and reports.
"""

from __future__ import annotations

import os
import subprocess
import sys

_LAUNCH_OPTIONS = ("--nproc", "--nnodes", "--rdzv-endpoint")


def strip_launch_options(argv: list[str]) -> list[str]:
    """Remove ``--nproc/--nnodes/--rdzv-endpoint`` (and their values) from a command line."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _LAUNCH_OPTIONS:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def torchrun_command(argv: list[str], *, nproc: int, nnodes: str = "1", rdzv_endpoint: str | None = None) -> list[str]:
    """The ``python -m torch.distributed.run ... -m lmbench.cli <argv>`` command line."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", f"--nnodes={nnodes}"]
    if rdzv_endpoint:
        cmd += ["--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}"]
    else:
        cmd += ["--standalone"]
    return cmd + ["-m", "lmbench.cli", *strip_launch_options(argv)]


def launch_torchrun(argv: list[str], *, nproc: int, nnodes: str = "1", rdzv_endpoint: str | None = None) -> int:
    """Run the command under torchrun and return its exit code."""
    if nnodes not in ("1", "1:1") and not rdzv_endpoint:
        from .errors import LmbenchError

        raise LmbenchError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (the same on every node)")
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.call(torchrun_command(argv, nproc=nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint), env=env)


def init_process_group(device: str) -> None:
    """Join torchrun's process group once: NCCL for CUDA devices, gloo otherwise."""
    import torch.distributed as dist

    if dist.is_available() and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
