"""Tokens per second that always say which tokens were counted.

``Throughput(tokens=4096, seconds=0.5, which="trained").to_dict()`` gives
``{"trained_tokens": 4096, "trained_seconds": 0.5, "trained_tokens_per_s": 8192.0}``: training
counts trained tokens, prefill counts input (prompt) tokens, decoding counts generated tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import LmbenchError

__all__ = ["Throughput", "WHICH"]

#: The kinds of tokens a throughput may count.
WHICH = ("trained", "input", "generated")


@dataclass(frozen=True)
class Throughput:
    """``tokens`` of kind ``which`` (trained / input / generated) processed in ``seconds``."""

    tokens: float
    seconds: float
    which: str

    def __post_init__(self) -> None:
        if self.which not in WHICH:
            raise LmbenchError(f"throughput of {self.which!r} tokens: say which tokens, one of {', '.join(WHICH)}")
        if not self.seconds > 0 or self.tokens < 0:
            raise LmbenchError(f"throughput needs seconds > 0 and tokens >= 0 (got {self.tokens} tokens "
                               f"in {self.seconds} s)")

    @classmethod
    def from_stats(cls, tokens_per_call: float, stats: Any, which: str) -> "Throughput":
        """Throughput of one timed call from :class:`~lmbench.measure.TimingStats` (its median)."""
        return cls(tokens_per_call, stats.median, which)

    @property
    def per_s(self) -> float:
        """Tokens per second."""
        return self.tokens / self.seconds

    def to_dict(self) -> dict[str, float]:
        """``{<which>_tokens, <which>_seconds, <which>_tokens_per_s}``."""
        return {f"{self.which}_tokens": self.tokens, f"{self.which}_seconds": self.seconds,
                f"{self.which}_tokens_per_s": self.per_s}
