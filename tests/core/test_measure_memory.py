"""MemoryTracker: RSS peak seen, only measured keys reported, threads stopped on exceptions."""

import threading
import time

import numpy as np
import psutil
import pytest

from lmbench.measure import MemoryTracker

MB = 1 << 20


def _sampler_threads():
    return [t for t in threading.enumerate() if t.name == "lmbench-memory" and t.is_alive()]


def test_rss_grows_with_a_200mb_array():
    before = psutil.Process().memory_info().rss
    with MemoryTracker("cpu") as mem:
        block = np.ones(200 * MB // 8)  # touched pages: resident
    result = mem.result()
    assert set(result) == {"rss_peak_bytes", "device"} and result["device"] == "cpu"
    assert result["rss_peak_bytes"] - before >= 180 * MB
    del block


def test_sampler_catches_a_peak_freed_inside_the_block():
    before = psutil.Process().memory_info().rss
    with MemoryTracker("cpu", interval=0.005) as mem:
        block = np.ones(200 * MB // 8)
        time.sleep(0.1)
        del block
    assert mem.result()["rss_peak_bytes"] - before >= 180 * MB


def test_rss_off_reports_only_the_device():
    with MemoryTracker("cpu", rss=False) as mem:
        pass
    assert mem.result() == {"device": "cpu"}


def test_thread_stops_and_exception_propagates():
    with pytest.raises(ValueError, match="boom"):
        with MemoryTracker("cpu", interval=0.005):
            assert _sampler_threads()
            raise ValueError("boom")
    assert not _sampler_threads()


def test_cuda_tracker_without_cuda_degrades_to_rss():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA present: covered by the gpu test")
    with MemoryTracker("cuda") as mem:
        pass
    assert set(mem.result()) == {"rss_peak_bytes", "device"}


@pytest.mark.gpu
def test_cuda_peaks_and_nvml():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    with MemoryTracker("cuda") as mem:
        x = torch.empty(256 * MB, dtype=torch.uint8, device="cuda")
        time.sleep(0.05)
        del x
    result = mem.result()
    assert result["torch_peak_allocated_bytes"] >= 256 * MB
    assert result["torch_peak_reserved_bytes"] >= result["torch_peak_allocated_bytes"]
    if "nvml_peak_used_bytes" in result:
        assert result["nvml_peak_used_bytes"] >= 256 * MB
