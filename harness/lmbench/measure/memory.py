"""Peak memory over a block of code, from every source that is available, each named.

``with MemoryTracker("cuda") as mem: ...; mem.result()`` gives a dict with the keys that could
be measured (never a made-up value):

* ``torch_peak_allocated_bytes``: on CUDA, ``torch.cuda.max_memory_allocated`` after a reset at
  entry (tensors' memory); on MPS the largest ``torch.mps.current_allocated_memory`` sampled.
* ``torch_peak_reserved_bytes``: on CUDA, ``torch.cuda.max_memory_reserved`` (the caching
  allocator's segments); on MPS the largest ``torch.mps.driver_allocated_memory`` sampled.
* ``nvml_peak_used_bytes``: the device's used memory as NVML reports it (all processes and the
  CUDA context included), sampled in a thread through ``pynvml`` (package ``nvidia-ml-py``);
  omitted when pynvml is absent or fails.
* ``rss_peak_bytes``: this process's resident set size (psutil), sampled in a thread, including
  the values at entry and exit.

plus ``device``. Sampling misses peaks shorter than ``interval``; the torch CUDA peaks do not.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["MemoryTracker"]

log = logging.getLogger("lmbench")


class _PeakSampler:
    """A daemon thread that calls each probe every ``interval`` seconds and keeps the maxima."""

    def __init__(self, probes: dict[str, Callable[[], int]], interval: float):
        self.probes = dict(probes)
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lmbench-memory", daemon=True)

    def sample(self) -> None:
        """Read every probe once; a probe that fails is dropped (its key is then omitted if unread)."""
        for key, probe in list(self.probes.items()):
            try:
                value = int(probe())
            except Exception as exc:  # noqa: BLE001 - a failing probe must never break the measured code
                log.debug("memory probe %s failed: %s", key, exc)
                del self.probes[key]
                continue
            if value > self.peaks.get(key, -1):
                self.peaks[key] = value

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.sample()
        if self.probes:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=max(1.0, 5 * self.interval))
        self.sample()


def _nvml_probe(device: str) -> tuple[Callable[[], int], Callable[[], None]] | None:
    """A probe of NVML used memory for the torch CUDA device, and its shutdown; None if unavailable."""
    try:
        import pynvml
    except Exception:  # noqa: BLE001 - absent or broken nvidia-ml-py: NVML is simply not measured
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001
        log.debug("NVML unavailable: %s", exc)
        return None
    try:
        handle = _nvml_handle(pynvml, device)
        pynvml.nvmlDeviceGetMemoryInfo(handle)
    except Exception as exc:  # noqa: BLE001
        log.debug("NVML handle for %s unavailable: %s", device, exc)
        _quiet(pynvml.nvmlShutdown)
        return None
    return (lambda: pynvml.nvmlDeviceGetMemoryInfo(handle).used), (lambda: _quiet(pynvml.nvmlShutdown))


def _nvml_handle(pynvml: Any, device: str) -> Any:
    """NVML handle of torch's device: by UUID (respects CUDA_VISIBLE_DEVICES), else by index."""
    import torch

    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    uuid = str(getattr(torch.cuda.get_device_properties(index), "uuid", "") or "")
    if uuid:
        try:
            return pynvml.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}")
        except Exception:  # noqa: BLE001 - fall back to the index
            pass
    return pynvml.nvmlDeviceGetHandleByIndex(index)


def _quiet(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001
        pass


class MemoryTracker:
    """Context manager measuring peak memory of a block on ``device`` (see the module docstring).

    ``nvml`` and ``rss`` switch the sampled sources on or off; ``interval`` is the sampling
    period in seconds. The sampling thread stops on exit, also when the block raises.
    """

    def __init__(self, device: Any = "cpu", *, nvml: bool = True, rss: bool = True, interval: float = 0.01):
        self.device = str(device)
        self.kind = self.device.split(":", 1)[0]
        self.nvml = nvml
        self.rss = rss
        self.interval = float(interval)
        self._sampler: _PeakSampler | None = None
        self._cleanup: list[Callable[[], None]] = []
        self._torch_peaks: dict[str, int] = {}
        self._running = False

    def __enter__(self) -> "MemoryTracker":
        probes: dict[str, Callable[[], int]] = {}
        self._torch_peaks = {}
        if self.rss:
            try:
                import psutil
                proc = psutil.Process()
                probes["rss_peak_bytes"] = lambda: proc.memory_info().rss
            except Exception as exc:  # noqa: BLE001
                log.debug("psutil unavailable: %s", exc)
        if self.kind == "cuda":
            import torch
            if torch.cuda.is_available():
                torch.cuda.synchronize(self.device)
                torch.cuda.reset_peak_memory_stats(self.device)
                if self.nvml:
                    found = _nvml_probe(self.device)
                    if found is not None:
                        probes["nvml_peak_used_bytes"], shutdown = found
                        self._cleanup.append(shutdown)
        elif self.kind == "mps":
            import torch
            if torch.backends.mps.is_available():
                probes["torch_peak_allocated_bytes"] = torch.mps.current_allocated_memory
                probes["torch_peak_reserved_bytes"] = torch.mps.driver_allocated_memory
        self._sampler = _PeakSampler(probes, self.interval)
        self._sampler.start()
        self._running = True
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.kind == "cuda":
                self._torch_peaks = self._cuda_peaks(sync=True)
            elif self.kind == "mps":
                _quiet(lambda: sys.modules["torch"].mps.synchronize())
        finally:
            if self._sampler is not None:
                self._sampler.stop()
            for fn in self._cleanup:
                fn()
            self._cleanup = []
            self._running = False

    def _cuda_peaks(self, sync: bool = False) -> dict[str, int]:
        """torch's CUDA peak allocated / reserved bytes since entry ({} without CUDA)."""
        import torch

        if not torch.cuda.is_available():
            return {}
        if sync:
            _quiet(lambda: torch.cuda.synchronize(self.device))
        return {"torch_peak_allocated_bytes": int(torch.cuda.max_memory_allocated(self.device)),
                "torch_peak_reserved_bytes": int(torch.cuda.max_memory_reserved(self.device))}

    def result(self) -> dict[str, Any]:
        """The peaks measured so far (bytes), by source, plus ``device``; final after the block."""
        out: dict[str, Any] = {}
        if self._sampler is not None:
            out.update(self._sampler.peaks)
        if self.kind == "cuda" and self._running:
            out.update(self._cuda_peaks())
        out.update(self._torch_peaks)
        out["device"] = self.device
        return out
