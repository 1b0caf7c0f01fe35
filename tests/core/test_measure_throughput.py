"""Throughput states which tokens it counts."""

import pytest

from lmbench.errors import LmbenchError
from lmbench.measure import Throughput, TimingStats


def test_throughput_names_its_tokens():
    tp = Throughput(4096, 0.5, "trained")
    assert tp.per_s == 8192.0
    assert tp.to_dict() == {"trained_tokens": 4096, "trained_seconds": 0.5, "trained_tokens_per_s": 8192.0}
    assert "generated_tokens_per_s" in Throughput(10, 1.0, "generated").to_dict()


def test_from_stats_uses_the_median():
    stats = TimingStats.from_samples([0.1, 0.2, 0.4])
    assert Throughput.from_stats(100, stats, "input").per_s == pytest.approx(500.0)


@pytest.mark.parametrize("tokens,seconds,which", [(1, 1.0, "tokens"), (1, 0.0, "trained"), (-1, 1.0, "input")])
def test_bad_throughput_raises(tokens, seconds, which):
    with pytest.raises(LmbenchError):
        Throughput(tokens, seconds, which)
