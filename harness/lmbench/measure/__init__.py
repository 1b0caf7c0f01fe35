"""Measurement: timing, memory, throughput, FLOPs and MFU (and, in :mod:`.env`, the environment).

* :func:`time_fn` / :class:`TimingStats`: warm-up excluded, at least N iterations and T seconds,
  CUDA events on GPU; median, p10, p90, CV, never a single sample.
* :class:`MemoryTracker`: torch peak allocated/reserved, NVML device memory and process RSS peak,
  each under its own key.
* :class:`Throughput`: tokens/s that state which tokens (trained, input, generated).
* FLOPs by formula (:func:`transformer_flops_per_token`) and by ``torch.utils.flop_counter``
  (:func:`count_flops`); MFU (:func:`mfu`, :func:`per_device_mfu` under data parallelism) against a peak table (:func:`peak_flops`) or a
  measured matmul peak (:func:`measured_matmul_peak`); :func:`device_peak` picks the vendor peak, else the
  peak ``lmbench env --peak`` measured and cached on this machine (:mod:`.peak`).

Importing this package does not import torch; the functions import it when they need it.
May import: the ground only.
"""

from .flops import (PEAK_TFLOPS, count_flops, measured_matmul_peak, mfu, peak_flops, per_device_mfu,
                    register_attention_flops, transformer_flops_per_token)
from .memory import MemoryTracker
from .peak import device_peak, measure_peaks, mfu_against_peak
from .throughput import Throughput
from .timer import TimingStats, time_fn

__all__ = ["time_fn", "TimingStats", "MemoryTracker", "Throughput", "transformer_flops_per_token",
           "count_flops", "register_attention_flops", "peak_flops", "measured_matmul_peak", "mfu", "per_device_mfu",
           "PEAK_TFLOPS", "device_peak", "measure_peaks", "mfu_against_peak"]
