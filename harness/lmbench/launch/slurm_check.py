"""Check a SLURM launcher's resources against what ``sinfo`` says the cluster has, before submitting.

A job array that asks for more than any node has is either refused by ``sbatch`` with a terse line
or, worse, pends forever (``--slurm-nodes 2`` on a one-node partition; GPUs on nodes without GRES).
:func:`check_against_sinfo` turns each such request into one line naming the flag, what was asked
and what the partition has. Where ``sinfo`` does not answer (no SLURM client here, controller down),
nothing is checked: ``sbatch`` then has the last word.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError


@dataclass
class Node:
    """One node of one partition as ``sinfo -N`` lists it."""

    name: str
    partition: str
    cpus: int
    memory_mb: int
    gpus: int
    features: set[str] = field(default_factory=set)


def sinfo_nodes() -> list[Node] | None:
    """Every (node, partition) pair SLURM reports; the default partition is marked ``default``.

    None when ``sinfo`` cannot be asked.
    """
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N|%P|%c|%m|%G|%f"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    nodes = []
    for line in out.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 6:
            continue
        name, partition, cpus, memory, gres, features = parts
        nodes.append(Node(name, partition, _int(cpus), _int(memory), _gpus(gres),
                          {f for f in features.split(",") if f and f != "(null)"}))
    return nodes or None


def _int(text: str) -> int:
    match = re.match(r"\d+", text.strip())
    return int(match.group()) if match else 0


def _gpus(gres: str) -> int:
    """GPUs in a GRES string: ``gpu:a100:4(S:0-1),shard:8`` -> 4."""
    total = 0
    for item in gres.split(","):
        parts = item.split("(")[0].split(":")
        if parts[0] == "gpu":
            total += _int(parts[-1]) if len(parts) > 1 else 1
    return total


def check_against_sinfo(config: Any, nodes: list[Node] | None = None) -> None:
    """Refuse, in one line, a request no node of the chosen partition can satisfy.

    Checked: the partition exists; ``nodes`` <= its node count; per node, tasks x CPUs per task,
    tasks x memory per task and GPUs fit on at least that many nodes; every feature the constraint
    names exists there.
    """
    nodes = sinfo_nodes() if nodes is None else nodes
    if not nodes:
        return
    by_partition: dict[str, list[Node]] = {}
    default = ""
    for node in nodes:
        name = node.partition.rstrip("*")
        if node.partition.endswith("*"):
            default = name
        by_partition.setdefault(name, []).append(node)
    partition = config.partition or default
    if partition not in by_partition:
        if not config.partition:
            return
        raise ConfigError(f"SLURM has no partition '{config.partition}' (sinfo lists: {', '.join(sorted(by_partition))}); "
                          "fix --slurm-partition")
    members = by_partition[partition]
    where = f"partition {partition}"
    if config.nodes > len(members):
        raise ConfigError(f"--slurm-nodes {config.nodes} but {where} has {len(members)} node(s): the job would pend "
                          "forever; ask for fewer nodes or another partition")
    tasks = config.processes_per_node
    cpus = tasks * max(1, config.cpus_per_task)
    fits = [n for n in members if n.cpus >= cpus]
    if len(fits) < config.nodes:
        most = max(n.cpus for n in members)
        raise ConfigError(f"{tasks} task(s) per node x {max(1, config.cpus_per_task)} CPU(s) per task = {cpus} CPUs, "
                          f"but the nodes of {where} have at most {most}; lower --slurm-tasks-per-node or "
                          "--slurm-cpus-per-task")
    if config.mem_per_task_gb:
        need = config.mem_per_task_gb * tasks * 1024
        fits = [n for n in fits if n.memory_mb >= need]
        if len(fits) < config.nodes:
            most = max(n.memory_mb for n in members) / 1024
            raise ConfigError(f"{tasks} task(s) per node x {config.mem_per_task_gb:g} GB = {need / 1024:g} GB per node, "
                              f"but the nodes of {where} have at most {most:.1f} GB; lower --slurm-mem-per-task")
    if config.gpus_per_node:
        fits = [n for n in fits if n.gpus >= config.gpus_per_node]
        if len(fits) < config.nodes:
            most = max(n.gpus for n in members)
            raise ConfigError(f"--slurm-gpus-per-node {config.gpus_per_node} but the nodes of {where} have "
                              + (f"at most {most} GPU(s)" if most else "no GPUs (no gpu GRES)")
                              + "; use --slurm-tasks-per-node N for CPU processes, or a GPU partition")
    if config.constraint:
        known = set().union(*(n.features for n in members))
        wanted = {w for w in re.split(r"[&|,()\[\]\s]+", re.sub(r"\*\d+", "", config.constraint)) if w}
        missing = sorted(wanted - known)
        if missing:
            raise ConfigError(f"--slurm-constraint names feature(s) {', '.join(missing)} that no node of {where} has "
                              f"(features: {', '.join(sorted(known)) or 'none'})")
