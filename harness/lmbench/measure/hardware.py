"""What hardware this is, by name: the CPU's model and a device's name (the leaf of measure/).

The environment record (:mod:`lmbench.measure.env`) and the measured-peak cache
(:mod:`lmbench.measure.peak`, keyed by device name) both read these; this module imports neither.
"""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    """The CPU model for ``cpu``, the GPU's name for ``cuda[:N]``, else the device string."""
    kind = str(device).split(":", 1)[0]
    if kind == "cpu":
        return cpu_model()
    if kind == "cuda":
        import torch

        return torch.cuda.get_device_name(torch.device(str(device)))
    return kind
