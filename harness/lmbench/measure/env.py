"""Environment capture: what ran, where, with which versions, recorded with every run."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .hardware import cpu_model
from .peak import peaks_for_env

PACKAGES = ("lmbench", "torch", "numpy", "transformers", "tokenizers", "datasets", "peft", "sacrebleu",
            "scikit-learn", "optuna", "pluggy")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_info(path: str | Path = ".") -> dict[str, Any]:
    """The git sha and dirty flag of the checkout at ``path`` (empty outside a checkout)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return {}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                               capture_output=True, text=True, timeout=5)
        return {"sha": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {}


def gpu_info() -> list[dict[str, Any]]:
    """Per-GPU name, memory, driver and current clocks via NVML (empty without NVML or GPUs)."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:
        return []
    gpus = []
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append({
                "index": i,
                "name": name.decode() if isinstance(name, bytes) else name,
                "memory_total_bytes": pynvml.nvmlDeviceGetMemoryInfo(handle).total,
                "driver": driver.decode() if isinstance(driver, bytes) else driver,
                "sm_clock_mhz": pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
                "mem_clock_mhz": pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM),
                "max_sm_clock_mhz": pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM),
            })
    except Exception as exc:  # partial information is still worth keeping
        gpus.append({"error": str(exc)})
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    return gpus


def torch_info(device: str | None = None) -> dict[str, Any]:
    """torch, CUDA and cuDNN versions, threads, and the device's name and capability."""
    try:
        import torch
    except ImportError:
        return {}
    info: dict[str, Any] = {"version": torch.__version__, "cuda": torch.version.cuda,
                            "num_threads": torch.get_num_threads()}
    if torch.backends.cudnn.is_available():
        info["cudnn"] = torch.backends.cudnn.version()
    if device and device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(index)
        info.update(device_name=props.name, capability=f"{props.major}.{props.minor}",
                    multiprocessors=props.multi_processor_count, memory_total_bytes=props.total_memory)
    elif device == "mps":
        info["device_name"] = "Apple MPS"
    return info


def capture_environment(plugins: dict[str, str] | None = None, *, device: str | None = None,
                        seed: int | None = None) -> dict[str, Any]:
    """Everything needed to interpret a number later: versions, device, driver, clocks, git, seeds."""
    import psutil

    env: dict[str, Any] = {
        "time": time.time(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_total_bytes": psutil.virtual_memory().total,
        "packages": {p: v for p in PACKAGES if (v := _version(p))},
        "plugins": dict(plugins or {}),
        "git": git_info(),
        "lmbench_git": git_info(Path(__file__).resolve().parent),
        "device": device,
        "torch": torch_info(device),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    if device and device.startswith("cuda"):
        env["gpus"] = gpu_info()
    env["measured_peaks"] = peaks_for_env()  # `lmbench env --peak` caches them; MFU on a CPU divides by one
    if seed is not None:
        env["seed"] = seed
    return env
