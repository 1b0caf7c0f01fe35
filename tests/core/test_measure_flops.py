"""FLOPs by formula and by torch's counter, the peak table, the measured peak, MFU."""

import json

import pytest

from lmbench.errors import LmbenchError
from lmbench.measure import (PEAK_TFLOPS, count_flops, measured_matmul_peak, mfu, peak_flops,
                             transformer_flops_per_token)

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def test_count_flops_of_a_matmul_is_2mnk():
    m, k, n = 8, 16, 32
    a, b = torch.randn(m, k), torch.randn(k, n)
    assert count_flops(torch.mm, a, b) == 2 * m * n * k


def test_count_flops_of_a_linear_forward():
    layer = torch.nn.Linear(12, 5)
    x = torch.randn(3, 12)  # (B, in)
    with torch.no_grad():
        assert count_flops(layer, x) == 2 * 3 * 12 * 5  # bias adds are not counted


def test_transformer_formula_on_a_hand_computed_example():
    # N = 1e6 non-embedding params, L = 2, T = 128, d = 64
    assert transformer_flops_per_token(1_000_000, 2, 128, 64) == 6_000_000 + 12 * 2 * 128 * 64 == 6_196_608
    assert transformer_flops_per_token(1_000_000, 2, 128, 64, training=False) == 2_065_536
    with pytest.raises(LmbenchError):
        transformer_flops_per_token(-1, 2, 128, 64)


@pytest.mark.parametrize("name,dtype,tflops", [
    ("NVIDIA H100 80GB HBM3", "bf16", 989.4),
    ("NVIDIA H100 PCIe", "fp32", 51.2),
    ("NVIDIA H100 NVL", "bf16", 835.5),
    ("NVIDIA H200", "tf32", 494.7),
    ("NVIDIA A100-SXM4-80GB", "bf16", 312.0),
    ("NVIDIA A100-PCIE-40GB", "tf32", 156.0),
    ("NVIDIA L4", "bf16", 121.0),
    ("NVIDIA L40S", "bf16", 362.05),
    ("NVIDIA A40", "fp32", 37.4),
    ("NVIDIA GeForce RTX 4090", "bf16", 165.2),
    ("Tesla V100-SXM2-16GB", "fp16", 125.0),
    ("Tesla V100-PCIE-32GB", "fp32", 14.0),
    ("Tesla T4", "fp16", 65.0),
])
def test_peak_table_matches_device_names(name, dtype, tflops):
    assert peak_flops(name, dtype) == pytest.approx(tflops * 1e12)


def test_peak_is_none_where_unknown_and_bad_dtype_raises():
    assert peak_flops("cpu") is None
    assert peak_flops("mps", "fp32") is None
    assert peak_flops("NVIDIA GeForce GTX 1080", "fp32") is None
    assert peak_flops("NVIDIA L40", "bf16") is None  # not L4, not L40S
    assert peak_flops("Tesla T4", "bf16") is None  # no bf16 tensor cores
    with pytest.raises(LmbenchError):
        peak_flops("NVIDIA H100 80GB HBM3", "int3")


def test_torch_float32_counts_as_tf32_when_tf32_is_on():
    old = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")
        assert peak_flops("NVIDIA A100-SXM4-80GB", torch.float32) == pytest.approx(19.5e12)
        torch.set_float32_matmul_precision("high")
        assert peak_flops("NVIDIA A100-SXM4-80GB", torch.float32) == pytest.approx(156e12)
        assert peak_flops("NVIDIA A100-SXM4-80GB", "fp32") == pytest.approx(19.5e12)
    finally:
        torch.set_float32_matmul_precision(old)


def test_table_is_dense_positive_and_known_dtypes():
    for gpu, row in PEAK_TFLOPS.items():
        assert row and set(row) <= {"bf16", "fp16", "tf32", "fp32"}, gpu
        assert all(v > 0 for v in row.values()), gpu


def test_measured_matmul_peak_on_cpu_is_plausible():
    flops = measured_matmul_peak("cpu", seconds=0.1)
    assert 1e8 <= flops <= 1e13


def test_mfu():
    assert mfu(5e12, 1e13) == pytest.approx(0.5)
    assert mfu(5e12, None) is None and mfu(None, 1e13) is None and mfu(1.0, 0.0) is None


def test_per_device_mfu_divides_the_run_throughput_by_world_size():
    from lmbench.measure import per_device_mfu

    assert per_device_mfu(8e12, 1e13, 1) == pytest.approx(0.8)
    assert per_device_mfu(8e12, 1e13, 4) == pytest.approx(0.2)  # four devices, each at 2e12 of 1e13
    assert per_device_mfu(None, 1e13, 2) is None and per_device_mfu(1e12, None, 2) is None
    with pytest.raises(LmbenchError):
        per_device_mfu(1e12, 1e13, 0)


def _sdpa_case(device="cpu", dtype=torch.float32, b=2, h=4, n=64, d=16):
    q, k, v = (torch.randn(b, h, n, d, device=device, dtype=dtype, requires_grad=True) for _ in range(3))
    forward = 2 * (2 * b * h * n * n * d)  # QK^T and AV
    return q, k, v, forward


@pytest.mark.parametrize("causal", [False, True])
def test_count_flops_counts_sdpa_on_cpu(causal):
    import torch.nn.functional as F

    q, k, v, forward = _sdpa_case()
    with torch.no_grad():
        assert count_flops(F.scaled_dot_product_attention, q, k, v, is_causal=causal) == forward
    step = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal).sum().backward()  # noqa: E731
    assert count_flops(step) == 3 * forward  # model FLOPs: backward = 2 x forward
    assert count_flops(step, recompute=True) == 3 * forward + forward // 2  # torch's: plus the recomputed QK^T


def test_register_attention_flops_is_idempotent():
    from lmbench.measure import register_attention_flops

    register_attention_flops()
    assert register_attention_flops() == []


def test_env_peak_measures_once_and_the_environment_record_carries_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lmbench.cli import cli
    from lmbench.measure.env import capture_environment

    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path))
    assert capture_environment(device="cpu")["measured_peaks"] == {}
    monkeypatch.setattr("lmbench.measure.flops.measured_matmul_peak", lambda device, dtype, n=None, seconds=0.3: 3e10)
    result = CliRunner().invoke(cli, ["env", "--peak", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "measured peak 30.0 GFLOP/s" in result.output
    peaks = capture_environment(device="cpu")["measured_peaks"]
    assert {e["dtype"] for e in peaks.values()} == {"fp32", "bf16"} and {e["threads"] for e in peaks.values()} >= {1}
    assert json.loads((tmp_path / "peaks.json").read_text()) == peaks

