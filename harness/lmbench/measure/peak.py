"""The peak an MFU is divided by: a vendor table entry, else a matmul peak measured on this machine.

GPUs in :data:`lmbench.measure.flops.PEAK_TFLOPS` have a vendor peak. Every other device (a
CPU, an unlisted GPU) has only what it can be measured to do: ``lmbench env --peak`` times an
``n x n`` matmul (:func:`lmbench.measure.measured_matmul_peak`) once per machine, per device,
dtype and CPU thread count, and caches the result in ``<lmbench cache>/peaks.json``; the
environment record of every run carries the cached entries (``measured_peaks``).

:func:`device_peak` answers ``(FLOP/s, "vendor peak" | "measured peak")``, or ``(None, reason)``
when there is neither: MFU is then left out and the reason says which command gives it. An
entry is keyed by the machine (host name, CPU model, device name), the dtype, the thread count
and torch's version, so a peak measured elsewhere or with other settings is never used.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from .hardware import device_name

VENDOR, MEASURED = "vendor peak", "measured peak"


def peaks_file() -> Path:
    """``<lmbench cache>/peaks.json`` (:func:`lmbench.cache.cache_dir`)."""
    from ..cache import cache_dir

    return cache_dir() / "peaks.json"


def _dtype_name(dtype: Any) -> str:
    name = str(dtype).removeprefix("torch.")
    return {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}.get(name, name)


def peak_key(device: str, dtype: Any, threads: int | None = None) -> str:
    """The cache key of one measured peak: host, device name, dtype, CPU threads, torch version."""
    import torch

    kind = str(device).split(":", 1)[0]
    threads = torch.get_num_threads() if threads is None else threads
    parts = [socket.gethostname(), device_name(device), _dtype_name(dtype), torch.__version__]
    if kind == "cpu":
        parts.append(f"threads={threads}")
    return " | ".join(parts)


def load_peaks() -> dict[str, dict[str, Any]]:
    """Every cached measured peak (``{key: {"flops": ..., "measured_at": ..., ...}}``); {} if none."""
    path = peaks_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def measure_peaks(device: str = "cpu", dtypes: tuple[str, ...] = ("fp32", "bf16"),
                  threads: tuple[int, ...] | None = None, seconds: float = 1.0) -> dict[str, dict[str, Any]]:
    """Measure the matmul peak of ``device`` per dtype (and per CPU thread count) and cache it.

    ``threads`` defaults to 1 and the current torch thread count on a CPU (runs pick one of the
    two: ``run.threads``); it is ignored on an accelerator. A peak is the best the machine does:
    each entry is the best of 3 timings, and a cached entry that is higher (measured when the
    machine was quieter) is kept rather than lowered. Each entry keeps the matmul size, the load
    average while it was measured and the time. Returns the entries as cached.
    """
    import torch

    from .flops import measured_matmul_peak

    kind = str(device).split(":", 1)[0]
    before = torch.get_num_threads()
    counts = sorted(set(threads or (1, before))) if kind == "cpu" else [before]
    n = {"cuda": 8192, "mps": 4096}.get(kind, 1024)
    new: dict[str, dict[str, Any]] = {}
    cached = load_peaks()
    try:
        for count in counts:
            torch.set_num_threads(count)
            for dtype in dtypes:
                flops = max(measured_matmul_peak(device, dtype, n=n, seconds=seconds / 3) for _ in range(3))
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                key = peak_key(device, dtype, count)
                if (old := cached.get(key)) and float(old.get("flops", 0)) >= flops:
                    new[key] = old
                    continue
                new[key] = {
                    "flops": flops, "device": device_name(device), "dtype": _dtype_name(dtype),
                    "threads": count if kind == "cpu" else None, "n": n, "load_avg_1m": load,
                    "cpu_count": os.cpu_count(), "measured_at": time.time()}
    finally:
        torch.set_num_threads(before)
    path = peaks_file()
    merged = {**cached, **new}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True))
    tmp.replace(path)
    return new


def cached_peak(device: str, dtype: Any, threads: int | None = None) -> float | None:
    """The cached measured peak (FLOP/s) of ``device`` / ``dtype`` / threads on this machine, or None."""
    entry = load_peaks().get(peak_key(device, dtype, threads))
    return float(entry["flops"]) if entry and entry.get("flops") else None


def device_peak(device: str, dtype: Any) -> tuple[float | None, str]:
    """One device's peak FLOP/s for MFU and where it comes from.

    The vendor table first (``"vendor peak"``); else this machine's cached measurement
    (``"measured peak"``); else ``(None, reason)`` naming ``lmbench env --peak``.
    """
    from .flops import peak_flops

    vendor = peak_flops(device, dtype)
    if vendor:
        return vendor, VENDOR
    measured = cached_peak(device, dtype)
    if measured:
        return measured, MEASURED
    return None, (f"no MFU: no vendor peak for {device} and no measured {_dtype_name(dtype)} peak for this machine "
                  "and thread count; run `lmbench env --peak` once (it caches one)")


def mfu_against_peak(device: str, dtype: Any, total_flops_per_s: float, world_size: int = 1
                     ) -> tuple[dict[str, Any], str | None]:
    """MFU result keys of a training phase and, where there is something to say, one line for the log.

    ``total_flops_per_s`` is the run's achieved FLOP/s summed over its ``world_size`` ranks; ``mfu``
    is per device against :func:`device_peak` and ``mfu_peak`` says which peak (vendor or measured).
    A device with both also gets ``mfu_measured``. Without any peak: ``({}, reason)``; with an MFU
    above 1 the line says the peak is too low (measured under load).
    """
    from .flops import per_device_mfu

    peak, source = device_peak(device, dtype)
    value = per_device_mfu(total_flops_per_s, peak, world_size)
    if value is None:
        return {}, source
    out: dict[str, Any] = {"mfu": value, "mfu_peak": source}
    note = None
    if value > 1.0:
        note = (f"mfu {value:.2f} > 1: the {source} is below what this run achieved (measured under load?); "
                "run `lmbench env --peak` again on a quiet machine (it keeps the best)")
    measured = cached_peak(device, dtype) if source == VENDOR else None
    if measured:
        out["mfu_measured"] = per_device_mfu(total_flops_per_s, measured, world_size)
    return out, note


def peaks_for_env() -> dict[str, dict[str, Any]]:
    """The cached peaks of this host, for the environment record (``measured_peaks``)."""
    host = socket.gethostname() + " | "
    return {k: v for k, v in load_peaks().items() if k.startswith(host)}
