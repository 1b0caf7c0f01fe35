"""The cost results every training recipe reports, under the same keys in every lab."""

from __future__ import annotations

from typing import Any


class EnergyMeter:
    """Joules used by a GPU over a block, from NVML's total-energy counter (Volta and newer).

    ``joules`` is None on the CPU, without ``nvidia-ml-py``, or on a GPU without the counter: the
    result is then absent rather than guessed.
    """

    def __init__(self, device: str = "cpu"):
        self.device = str(device)
        self.joules: float | None = None
        self._handle: Any = None
        self._start: int | None = None

    def __enter__(self) -> "EnergyMeter":
        if not self.device.startswith("cuda"):
            return self
        try:
            import pynvml
            import torch

            pynvml.nvmlInit()
            index = torch.device(self.device).index
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device() if index is None else index)
            self._start = pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)  # millijoules
        except Exception:  # no NVML, no counter on this GPU: no energy result
            self._handle = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._handle is None or self._start is None:
            return
        try:
            import pynvml

            self.joules = (pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) - self._start) / 1e3
        except Exception:
            self.joules = None


def cost_results(*, seconds: float, tokens: int, tokens_kind: str, steps: int, stopped_by: str, model: Any = None,
                 clock: Any = None, memory: dict[str, Any] | None = None, energy_j: float | None = None,
                 world_size: int = 1, compiled: bool = False) -> dict[str, Any]:
    """The shared cost keys of a training phase (declared in :mod:`lmbench.plugin.results`).

    ``seconds`` is the training phase's wall-clock time (:attr:`StopRule.elapsed`); ``tokens``
    the tokens trained on by all ranks and ``tokens_kind`` which ones (``"target tokens"``,
    ``"input tokens incl. padding"``); ``clock`` a :class:`StepClock` (median step time);
    ``memory`` a :class:`lmbench.measure.MemoryTracker` result (the torch peak on accelerators,
    the process RSS peak on the CPU, named in ``peak_memory_kind``); ``compiled``: the model was
    compiled (``recipe.compile``), so ``compile_seconds`` (the first step's overhead) is reported
    beside the median step time, which it does not enter.
    """
    out: dict[str, Any] = {"train_seconds": seconds, "train_tokens": tokens, "steps": steps,
                           "train_tokens_per_s": tokens / seconds if seconds > 0 else None,
                           "train_tokens_kind": tokens_kind, "stopped_by": stopped_by}
    stats = clock.stats() if clock is not None else None
    if stats is not None:
        out.update({"step_time_ms": stats.median * 1e3, "step_time_p10_ms": stats.p10 * 1e3,
                    "step_time_p90_ms": stats.p90 * 1e3})
    if compiled:
        from .compiling import compile_seconds

        out["compile_seconds"] = compile_seconds(clock)
    if model is not None:
        params = {id(p): p for p in model.parameters()}.values()
        out["params"] = sum(p.numel() for p in params)
        out["trainable_params"] = sum(p.numel() for p in params if p.requires_grad)
    if memory:
        for key, kind in (("torch_peak_allocated_bytes", "torch_allocated"), ("nvml_peak_used_bytes", "nvml_device"),
                          ("rss_peak_bytes", "process_rss")):
            if memory.get(key):
                out["peak_memory_bytes"], out["peak_memory_kind"] = memory[key], kind
                break
    if energy_j is not None:
        out["energy_j"] = energy_j
        out["joules_per_token"] = energy_j / tokens if tokens else None
    out["world_size"] = world_size
    return {k: v for k, v in out.items() if v is not None}
