"""Wall-clock and device timing with warm-up, minimum iterations and minimum seconds.

:func:`time_fn` calls ``fn()`` ``warmup`` times (not recorded: compilation, autotuning and cache
warm-up happen there), then repeats it until it has at least ``min_iters`` samples *and* the
samples add up to at least ``min_seconds`` (or ``max_iters`` is reached). Each sample is one call:

* ``cpu``: :func:`time.perf_counter` around the call;
* ``cuda`` / ``cuda:N``: a pair of CUDA events around the call, recorded on the current stream *of
  that device* (not of whichever device is current), read after ``end.synchronize()`` (GPU time
  of the queued work, not the CPU's launch time);
* ``mps``: ``torch.mps.synchronize()`` before and after the call, timed with perf_counter.

Statistics are never a single sample: :class:`TimingStats` gives median, p10, p90, mean, std,
CV, min and max. torch is imported only for a non-CPU device, so plain-Python functions can be
timed without it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import LmbenchError

__all__ = ["TimingStats", "time_fn", "cuda_event_clock"]

_MS_KEYS = ("median", "p10", "p90", "mean", "std", "min", "max")


@dataclass(frozen=True)
class TimingStats:
    """Statistics of repeated timings, all in seconds.

    ``std`` is the sample standard deviation (``ddof=1``; 0 for a single sample) and
    ``cv = std / mean`` (the coefficient of variation, 0 when the mean is 0). Percentiles use
    numpy's default (linear) interpolation.
    """

    samples: tuple[float, ...] = field(repr=False)
    n: int
    median: float
    p10: float
    p90: float
    mean: float
    std: float
    cv: float
    min: float
    max: float

    @classmethod
    def from_samples(cls, samples: Sequence[float]) -> "TimingStats":
        """Compute the statistics of ``samples`` (seconds); at least one sample is needed."""
        import numpy as np

        values = np.asarray([float(s) for s in samples], dtype=np.float64)
        if values.size == 0:
            raise LmbenchError("no timing samples: call the timed function at least once (min_iters >= 1)")
        if not np.all(np.isfinite(values)):
            raise LmbenchError("a timing sample is NaN or infinite; check the timed function and the device clock")
        p10, median, p90 = (float(x) for x in np.percentile(values, [10, 50, 90]))
        mean = float(values.mean())
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        cv = std / mean if mean > 0 else 0.0
        return cls(samples=tuple(float(v) for v in values), n=int(values.size), median=median, p10=p10,
                   p90=p90, mean=mean, std=std, cv=cv, min=float(values.min()), max=float(values.max()))

    @property
    def total(self) -> float:
        """Sum of the samples (seconds)."""
        return math.fsum(self.samples)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: the statistics in seconds, ``*_ms`` copies in milliseconds, the samples."""
        out: dict[str, Any] = {"n": self.n, "median": self.median, "p10": self.p10, "p90": self.p90,
                               "mean": self.mean, "std": self.std, "cv": self.cv, "min": self.min,
                               "max": self.max, "total": self.total}
        out.update({f"{k}_ms": getattr(self, k) * 1e3 for k in _MS_KEYS})
        out["samples"] = list(self.samples)
        return out


def cuda_event_clock(cuda: Any, device: Any) -> Callable[[Callable[[], Any]], float]:
    """``clock(fn) -> seconds`` from two events recorded on ``device``'s current stream.

    ``cuda`` is ``torch.cuda`` (a parameter so the choice of stream can be checked without a GPU).
    ``Event.record()`` without a stream would use the *current device's* stream, which for
    ``cuda:1`` while device 0 is current times the wrong queue; the events are created on the
    device of the stream they are first recorded on.
    """
    def clock(fn: Callable[[], Any]) -> float:
        stream = cuda.current_stream(device)
        start = cuda.Event(enable_timing=True)
        end = cuda.Event(enable_timing=True)
        start.record(stream)
        fn()
        end.record(stream)
        end.synchronize()
        return start.elapsed_time(end) / 1e3  # ms -> s
    return clock


def _make_clock(device: str) -> Callable[[Callable[[], Any]], float]:
    """Return ``clock(fn) -> seconds`` that runs ``fn`` once and times it on ``device``."""
    kind = device.split(":", 1)[0]
    if kind == "cpu":
        def clock(fn: Callable[[], Any]) -> float:
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
        return clock

    import torch

    if kind == "cuda":
        if not torch.cuda.is_available():
            raise LmbenchError(f"cannot time on {device!r}: CUDA is not available; use device='cpu'")
        dev = torch.device(device)
        torch.cuda.synchronize(dev)
        return cuda_event_clock(torch.cuda, dev)
    if kind == "mps":
        if not torch.backends.mps.is_available():
            raise LmbenchError(f"cannot time on {device!r}: MPS is not available; use device='cpu'")

        def clock(fn: Callable[[], Any]) -> float:
            torch.mps.synchronize()
            t0 = time.perf_counter()
            fn()
            torch.mps.synchronize()
            return time.perf_counter() - t0
        return clock
    raise LmbenchError(f"unknown device {device!r} for timing; use 'cpu', 'cuda', 'cuda:N' or 'mps'")


def _sync(device: str) -> None:
    """Wait for queued device work (after warm-up) so it does not leak into the first sample."""
    kind = device.split(":", 1)[0]
    if kind == "cuda":
        import torch
        torch.cuda.synchronize(torch.device(device))
    elif kind == "mps":
        import torch
        torch.mps.synchronize()


def time_fn(fn: Callable[[], Any], *, warmup: int = 3, min_iters: int = 10, min_seconds: float = 0.5,
            max_iters: int = 10_000, device: Any = "cpu") -> TimingStats:
    """Time ``fn()``: ``warmup`` calls excluded, then until ``min_iters`` and ``min_seconds`` are met.

    ``max_iters`` caps the timed calls (it wins over ``min_seconds``; it is raised to
    ``min_iters`` if smaller). ``device`` is ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a
    ``torch.device``. Returns :class:`TimingStats` in seconds.
    """
    if warmup < 0 or min_iters < 1 or min_seconds < 0:
        raise LmbenchError(f"bad timer settings (warmup={warmup}, min_iters={min_iters}, "
                           f"min_seconds={min_seconds}): need warmup >= 0, min_iters >= 1, min_seconds >= 0")
    device = str(device)
    clock = _make_clock(device)
    for _ in range(warmup):
        fn()
    _sync(device)
    max_iters = max(int(max_iters), int(min_iters))
    samples: list[float] = []
    total = 0.0
    while len(samples) < max_iters and (len(samples) < min_iters or total < min_seconds):
        sample = clock(fn)
        samples.append(sample)
        total += sample
    return TimingStats.from_samples(samples)
