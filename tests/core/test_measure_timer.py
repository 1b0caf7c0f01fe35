"""The timer: warm-up excluded, minimum iterations and seconds, statistics like numpy's."""

import json
import time

import numpy as np
import pytest

from lmbench.errors import LmbenchError
from lmbench.measure import TimingStats, time_fn


def test_sleep_statistics_and_warmup_excluded():
    calls = []

    def nap():
        calls.append(1)
        time.sleep(0.01)

    stats = time_fn(nap, warmup=2, min_iters=5, min_seconds=0.1)
    assert len(calls) == 2 + stats.n  # warm-up calls ran but are not samples
    assert stats.n >= 5 and len(stats.samples) == stats.n
    assert stats.total >= 0.1
    assert 0.0095 <= stats.median <= 0.02  # sleep never returns early; a busy box may overshoot a little
    assert stats.p10 <= stats.median <= stats.p90
    assert stats.min <= stats.p10 and stats.p90 <= stats.max
    assert 0 <= stats.cv < 0.5


def test_min_iters_wins_when_calls_are_fast():
    stats = time_fn(lambda: None, warmup=0, min_iters=7, min_seconds=0.0)
    assert stats.n == 7


def test_min_seconds_wins_over_min_iters_and_max_iters_caps():
    stats = time_fn(lambda: time.sleep(0.002), warmup=0, min_iters=2, min_seconds=0.05)
    assert stats.n > 2 and stats.total >= 0.05
    capped = time_fn(lambda: time.sleep(0.001), warmup=0, min_iters=3, min_seconds=100.0, max_iters=12)
    assert capped.n == 12


def test_from_samples_matches_numpy():
    samples = [0.5, 0.1, 0.3, 0.9, 0.2, 0.7, 0.4]
    stats = TimingStats.from_samples(samples)
    arr = np.array(samples)
    assert stats.n == 7
    assert stats.median == pytest.approx(np.percentile(arr, 50))
    assert stats.p10 == pytest.approx(np.percentile(arr, 10))
    assert stats.p90 == pytest.approx(np.percentile(arr, 90))
    assert stats.mean == pytest.approx(arr.mean())
    assert stats.std == pytest.approx(arr.std(ddof=1))
    assert stats.cv == pytest.approx(arr.std(ddof=1) / arr.mean())
    assert (stats.min, stats.max) == (0.1, 0.9)


def test_constant_samples_have_zero_cv_and_single_sample_is_valid():
    stats = TimingStats.from_samples([0.25] * 5)
    assert stats.cv == 0.0 and stats.std == 0.0 and stats.p10 == stats.p90 == 0.25
    one = TimingStats.from_samples([0.125])
    assert one.n == 1 and one.std == 0.0 and one.median == 0.125


def test_to_dict_is_json_safe_with_ms_keys():
    d = TimingStats.from_samples([0.001, 0.002, 0.003]).to_dict()
    json.dumps(d)
    assert d["median_ms"] == pytest.approx(2.0) and d["p90_ms"] == pytest.approx(d["p90"] * 1e3)
    assert d["n"] == 3 and d["samples"] == [0.001, 0.002, 0.003]
    assert {"median", "p10", "p90", "mean", "std", "cv", "min", "max"} <= d.keys()


def test_bad_input_raises_lmbench_errors():
    with pytest.raises(LmbenchError):
        TimingStats.from_samples([])
    with pytest.raises(LmbenchError):
        TimingStats.from_samples([0.1, float("nan")])
    with pytest.raises(LmbenchError):
        time_fn(lambda: None, min_iters=0)
    with pytest.raises(LmbenchError):
        time_fn(lambda: None, device="tpu")


@pytest.mark.gpu
def test_cuda_events_time_gpu_work():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    a = torch.randn(2048, 2048, device="cuda")
    stats = time_fn(lambda: a @ a, warmup=2, min_iters=5, min_seconds=0.05, device="cuda")
    assert stats.n >= 5 and stats.median > 0 and stats.p10 <= stats.median <= stats.p90


class _FakeCuda:
    """Stands in for torch.cuda: records which device's stream the events are recorded on."""

    def __init__(self):
        self.asked, self.recorded = [], []
        fake = self

        class Event:
            def __init__(self, enable_timing=False):
                assert enable_timing

            def record(self, stream=None):
                fake.recorded.append(stream)

            def synchronize(self):
                pass

            def elapsed_time(self, other):
                return 2.5  # ms

        self.Event = Event

    def current_stream(self, device=None):
        self.asked.append(device)
        return f"stream of {device}"


def test_cuda_events_are_recorded_on_the_stream_of_the_device_asked_for():
    from lmbench.measure.timer import cuda_event_clock

    cuda = _FakeCuda()
    seconds = cuda_event_clock(cuda, "cuda:1")(lambda: None)
    assert seconds == pytest.approx(2.5e-3)
    assert cuda.asked == ["cuda:1"]
    assert cuda.recorded == ["stream of cuda:1", "stream of cuda:1"]  # not None: the current device's stream


@pytest.mark.gpu
def test_cuda_events_time_the_device_asked_for_not_the_current_one():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    last = torch.cuda.device_count() - 1
    a = torch.randn(2048, 2048, device=f"cuda:{last}")
    with torch.cuda.device(0):
        stats = time_fn(lambda: a @ a, warmup=1, min_iters=3, min_seconds=0.0, device=f"cuda:{last}")
    assert stats.n >= 3 and stats.median > 0
