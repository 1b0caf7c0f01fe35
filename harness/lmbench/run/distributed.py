"""torchrun integration: launch a run under ``torch.distributed.run`` and join its process group.

``lmbench run --nproc N ...`` re-runs the same command under torchrun (no home-made launcher);
each worker reads RANK/WORLD_SIZE/LOCAL_RANK, joins the group (NCCL on GPUs, gloo on CPU) and
runs the same spec. Recipes wrap their model with ``run.wrap_model`` and shard data by
``run.dist``; only rank 0 writes the store, checkpoints and reports.
"""

from __future__ import annotations

import os
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
        from ..errors import LmbenchError

        raise LmbenchError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (the same on every node)")
    from .launch_guard import run_process_group

    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    # torchrun and its ranks: one process group that gets our signals and dies with us (lmbench.launch_guard)
    return run_process_group(torchrun_command(argv, nproc=nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint), env)


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


# -- model parallel wrappers -----------------------------------------------------------------
def _fully_shard():
    try:  # torch >= 2.6
        from torch.distributed.fsdp import fully_shard
    except ImportError:  # pragma: no cover - torch 2.4/2.5
        from torch.distributed._composable.fsdp import fully_shard
    return fully_shard


def wrap_model(model, *, parallel: str, device: str, local_rank: int):
    """DDP (a full replica per rank) or FSDP2 (parameters sharded over ranks) around ``model``.

    FSDP shards each block of the first ``nn.ModuleList`` found (a Transformer's layers) as its
    own unit, then the root; FSDP2 shards in place, so ``model`` itself becomes the sharded model.
    """
    from torch import nn

    if parallel == "fsdp":
        fully_shard = _fully_shard()
        blocks = next((m for m in model.modules() if isinstance(m, nn.ModuleList)), None)
        for block in blocks or []:
            fully_shard(block)
        fully_shard(model)
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[local_rank] if device.startswith("cuda") else None)


def _full_options(all_ranks: bool = False):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    # cpu_offload gathers to rank 0 only (what a checkpoint needs); without it every rank gets it all
    return StateDictOptions(full_state_dict=True, cpu_offload=not all_ranks)


def model_state_dict(model, *, sharded: bool, all_ranks: bool = False) -> dict:
    """The model's full (unsharded) state dict; under FSDP every rank must call this together.

    Under FSDP only rank 0 receives it (others get ``{}``) unless ``all_ranks``.
    """
    if not sharded:
        return model.state_dict()
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(model, options=_full_options(all_ranks))


def optimizer_state_dict(model, optimizer, *, sharded: bool) -> dict:
    """The optimizer's full state dict (FSDP: a collective, as for the model)."""
    if not sharded:
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(model, optimizer, options=_full_options())


def load_state_dicts(model, optimizer, model_state: dict, optimizer_state: dict | None, *, sharded: bool) -> None:
    """Load full state dicts into a (possibly sharded) model and optimizer; every rank calls this."""
    if not sharded:
        model.load_state_dict(model_state)
        if optimizer is not None and optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, model_state, options=options)
    if optimizer is not None and optimizer_state is not None:
        set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)
