"""FLOPs by formula and by counting, device peaks, and model FLOPs utilisation (MFU).

* :func:`transformer_flops_per_token`: the analytic count per token (6N + attention term).
* :func:`count_flops`: what ``torch.utils.flop_counter.FlopCounterMode`` counts for one call,
  with :func:`register_attention_flops` adding the attention kernels torch's table lacks (the CPU
  flash kernel that ``F.scaled_dot_product_attention`` dispatches to on CPU).
* :data:`PEAK_TFLOPS` / :func:`peak_flops`: the vendor's dense peak for the device and dtype.
* :func:`measured_matmul_peak`: the FLOP/s a large square matmul actually reaches here.
* :func:`mfu`: achieved FLOP/s over a peak (either of the two above); :func:`per_device_mfu`
  for a data-parallel run, whose throughput is summed over all its devices.

A FLOP here is one multiply or one add (a multiply-add is 2 FLOPs), as in torch's counter.
torch is imported inside the functions only.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from ..errors import LmbenchError

__all__ = ["PEAK_TFLOPS", "transformer_flops_per_token", "count_flops", "register_attention_flops", "peak_flops",
           "measured_matmul_peak", "mfu", "per_device_mfu"]


def transformer_flops_per_token(n_params: int, n_layers: int, seq_len: int, d_model: int,
                                training: bool = True) -> float:
    """Analytic FLOPs per token of a decoder transformer.

    ``n_params`` is N, the *non-embedding* parameter count; ``seq_len`` is the context T and
    ``d_model`` the attention width d (heads x head dim). Training (forward + backward):
    ``6N + 12·L·T·d`` (PaLM appendix B: 6N for the weights, 12·L·T·d for QKᵀ and AV,
    forward and backward, attention not discounted for causality). Inference forward:
    ``2N + 4·L·T·d`` (the forward third of the same count: QKᵀ and AV, 2·L·T·d each).
    """
    for name, value in (("n_params", n_params), ("n_layers", n_layers), ("seq_len", seq_len),
                        ("d_model", d_model)):
        if value < 0:
            raise LmbenchError(f"transformer_flops_per_token: {name}={value} must be >= 0")
    if training:
        return 6.0 * n_params + 12.0 * n_layers * seq_len * d_model
    return 2.0 * n_params + 4.0 * n_layers * seq_len * d_model


#: Attention ops that ``F.scaled_dot_product_attention`` can dispatch to but torch's flop table may
#: lack, by aten name: (forward op, backward op). Their arguments start like the CUDA kernels'
#: (query, key, value, ... for the forward; grad_out, query, key, value, ... for the backward).
_EXTRA_SDPA_OPS = (("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention_for_cpu_backward"),
                   ("_scaled_dot_product_fused_attention_overrideable",
                    "_scaled_dot_product_fused_attention_overrideable_backward"))


def register_attention_flops() -> list[str]:
    """Register torch's own SDPA formulas for the attention ops its flop table lacks; idempotent.

    Uses ``torch.utils.flop_counter.register_flop_formula`` with torch's ``sdpa_flop`` /
    ``sdpa_backward_flop`` (QKᵀ and AV, forward; the score recompute plus four matmuls, backward;
    causality not discounted, as for the CUDA kernels). Ops this torch build lacks, or already
    counts, are skipped. Returns the names registered by this call.
    """
    import torch
    from torch.utils import flop_counter

    added = []
    for fwd_name, bwd_name in _EXTRA_SDPA_OPS:
        for name, formula in ((fwd_name, flop_counter.sdpa_flop), (bwd_name, flop_counter.sdpa_backward_flop)):
            op = getattr(torch.ops.aten, name, None)
            if op is None or op in flop_counter.flop_registry:
                continue
            flop_counter.register_flop_formula(op, get_raw=True)(formula)  # formula is already shape-wrapped
            added.append(name)
    return added


#: Backward ops of fused attention whose arguments start (grad_out, query, key, value, ...).
_SDPA_BACKWARD_OPS = ("_scaled_dot_product_flash_attention_backward", "_scaled_dot_product_efficient_attention_backward",
                      "_scaled_dot_product_cudnn_attention_backward", *(bwd for _, bwd in _EXTRA_SDPA_OPS))


def _sdpa_backward_model_flops(grad_out_shape: Any, query_shape: Any, key_shape: Any, value_shape: Any, *args: Any,
                               out_shape: Any = None, **kwargs: Any) -> int:
    """Fused attention backward without the recomputed scores: 4 matmuls, twice the forward."""
    from torch.utils.flop_counter import sdpa_backward_flop_count

    b, h_q, s_q, d_q = query_shape
    s_k = key_shape[2]
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape) - 2 * b * h_q * s_q * s_k * d_q


def count_flops(fn: Callable[..., Any], *args: Any, recompute: bool = False, **kwargs: Any) -> int:
    """Run ``fn(*args, **kwargs)`` once under ``FlopCounterMode`` and return the FLOPs it counted.

    Counts matmuls, convolutions and attention kernels (a multiply-add is 2 FLOPs), the CPU
    attention kernels included (:func:`register_attention_flops`); elementwise ops are not
    counted. Include a ``.backward()`` in ``fn`` to count the backward pass too.

    By default these are *model* FLOPs, the numerator of MFU: a fused attention backward counts
    its four gradient matmuls, not the attention scores it recomputes, so a transformer's count
    matches :func:`transformer_flops_per_token` (PaLM's 6N + 12·L·T·d). ``recompute=True``
    keeps torch's own formulas (hardware FLOPs: one more QKᵀ per fused attention backward).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    register_attention_flops()
    mapping = {} if recompute else {op: _sdpa_backward_model_flops for op in
                                    (getattr(torch.ops.aten, name, None) for name in _SDPA_BACKWARD_OPS) if op is not None}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


#: Vendor dense peak TFLOP/s (no structured sparsity) by GPU and dtype. Tensor-core rates with
#: FP32 accumulation for bf16/fp16 (what torch matmuls use); "fp32" is the non-tensor FP32 rate,
#: "tf32" the tensor-core rate used when TF32 matmuls are allowed. Missing dtypes are unsupported
#: in hardware (bf16 on V100/T4). Sources: NVIDIA datasheets / architecture whitepapers.
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H100 SXM": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "H100 PCIe": {"bf16": 756.0, "fp16": 756.0, "tf32": 378.0, "fp32": 51.2},
    "H100 NVL": {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 60.0},
    "H200": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "H200 NVL": {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 60.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5},
    "A10": {"bf16": 125.0, "fp16": 125.0, "tf32": 62.5, "fp32": 31.2},
    "L4": {"bf16": 121.0, "fp16": 121.0, "tf32": 60.0, "fp32": 30.3},
    "L40S": {"bf16": 362.05, "fp16": 362.05, "tf32": 183.0, "fp32": 91.6},
    "A40": {"bf16": 149.7, "fp16": 149.7, "tf32": 74.8, "fp32": 37.4},
    "RTX 4090": {"bf16": 165.2, "fp16": 165.2, "tf32": 82.6, "fp32": 82.6},
    "V100 SXM2": {"fp16": 125.0, "fp32": 15.7},
    "V100 PCIe": {"fp16": 112.0, "fp32": 14.0},
    "T4": {"fp16": 65.0, "fp32": 8.1},
}

# torch.cuda.get_device_name() -> table key; first match wins, so specific patterns come first.
_NAME_PATTERNS: list[tuple[str, str]] = [
    (r"H200.*NVL", "H200 NVL"), (r"H200", "H200"),
    (r"H100.*NVL", "H100 NVL"), (r"H100.*PCI", "H100 PCIe"), (r"H100", "H100 SXM"),
    (r"A100", "A100"), (r"\bA10\b", "A10"), (r"L40S", "L40S"), (r"\bL4\b", "L4"),
    (r"\bA40\b", "A40"), (r"RTX 4090", "RTX 4090"),
    (r"V100.*PCI", "V100 PCIe"), (r"V100", "V100 SXM2"), (r"\bT4\b", "T4"),
]

_DTYPE_ALIASES = {"bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16",
                  "tf32": "tf32", "fp32": "fp32", "float32": "fp32", "float": "fp32"}


def _gpu_key(name: str) -> str | None:
    for pattern, key in _NAME_PATTERNS:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return key
    return None


def _dtype_key(dtype: Any) -> str:
    """Table column of ``dtype``: a string alias, or a torch dtype (float32 -> tf32 if TF32 is on)."""
    if isinstance(dtype, str):
        key = _DTYPE_ALIASES.get(dtype.lower().removeprefix("torch."))
        if key is None:
            raise LmbenchError(f"unknown dtype {dtype!r} for peak FLOPs; use one of bf16, fp16, tf32, fp32")
        return key
    name = str(dtype).removeprefix("torch.")
    key = _DTYPE_ALIASES.get(name)
    if key is None:
        raise LmbenchError(f"no peak FLOPs for dtype {dtype}; use bf16, fp16, tf32 or fp32")
    if key == "fp32" and "torch" in sys.modules and _tf32_on(sys.modules["torch"]):
        return "tf32"
    return key


def _tf32_on(torch: Any) -> bool:
    """Whether CUDA float32 matmuls may use TF32 (old flag, new fp32_precision, or precision level)."""
    matmul = torch.backends.cuda.matmul
    if getattr(matmul, "fp32_precision", None) == "tf32":
        return True
    return bool(matmul.allow_tf32) or torch.get_float32_matmul_precision() != "highest"


def peak_flops(device: Any, dtype: Any = "bf16") -> float | None:
    """The vendor dense peak in FLOP/s for ``device`` and ``dtype``, or None if unknown.

    ``device`` is ``"cuda"`` / ``"cuda:N"`` / a ``torch.device`` (its name comes from
    ``torch.cuda.get_device_name``) or a GPU name such as ``"NVIDIA H100 80GB HBM3"``. CPU, MPS,
    an unlisted GPU or a dtype the GPU lacks give None. ``dtype`` is ``"bf16"``, ``"fp16"``,
    ``"tf32"``, ``"fp32"`` or a torch dtype; ``torch.float32`` counts as TF32 when
    TF32 matmuls are enabled (``allow_tf32``, ``fp32_precision="tf32"`` or matmul precision
    "high"/"medium"); the string ``"fp32"`` always means the non-tensor FP32 rate.
    """
    text = str(device)
    kind = text.split(":", 1)[0]
    if kind in ("cpu", "mps", "meta"):
        return None
    if kind == "cuda":
        import torch
        if not torch.cuda.is_available():
            return None
        name = torch.cuda.get_device_name(torch.device(text))
    else:
        name = text
    key = _gpu_key(name)
    if key is None:
        return None
    tflops = PEAK_TFLOPS[key].get(_dtype_key(dtype))
    return None if tflops is None else tflops * 1e12


def measured_matmul_peak(device: Any = "cpu", dtype: Any = None, n: int | None = None,
                         seconds: float = 0.3) -> float:
    """FLOP/s of an ``n x n`` @ ``n x n`` matmul on ``device``: ``2·n³ / median time``.

    ``n`` defaults to 8192 on CUDA, 4096 on MPS and 1024 on CPU; ``dtype`` defaults to
    ``torch.float32`` (TF32 on CUDA follows the current torch setting). Timed with
    :func:`lmbench.measure.time_fn` for at least ``seconds`` after 2 warm-up calls.
    """
    import torch

    from .timer import time_fn

    if isinstance(dtype, str):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32,
                 "tf32": torch.float32}.get(_dtype_key(dtype))
    dtype = torch.float32 if dtype is None else dtype
    kind = str(device).split(":", 1)[0]
    if n is None:
        n = {"cuda": 8192, "mps": 4096}.get(kind, 1024)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    stats = time_fn(lambda: torch.mm(a, b, out=out), warmup=2, min_iters=5, min_seconds=seconds,
                    device=device)
    return 2.0 * n ** 3 / stats.median


def mfu(achieved_flops_per_s: float | None, peak: float | None) -> float | None:
    """Model FLOPs utilisation: ``achieved / peak`` (both FLOP/s); None if either is unknown."""
    if achieved_flops_per_s is None or peak is None or peak <= 0:
        return None
    return float(achieved_flops_per_s) / float(peak)


def per_device_mfu(total_flops_per_s: float | None, peak_per_device: float | None, world_size: int) -> float | None:
    """MFU of a data-parallel run: ``(total / world_size) / peak_per_device``.

    ``total_flops_per_s`` is the whole run's achieved FLOP/s (tokens/s summed over all ranks times
    FLOPs per token); ``peak_per_device`` is one device's peak. MFU is per-device achieved over
    per-device peak, so N devices at the same utilisation report the same MFU as one.
    """
    if world_size < 1:
        raise LmbenchError(f"per_device_mfu: world_size={world_size} must be >= 1")
    if total_flops_per_s is None:
        return None
    return mfu(float(total_flops_per_s) / world_size, peak_per_device)
