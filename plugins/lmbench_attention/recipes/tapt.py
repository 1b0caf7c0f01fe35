"""``attention.tapt``: task-adaptive pretraining (Gururangan et al. 2020) = continued MLM on the target set.

The same procedure as ``attention.mlm`` but on the target data set's own text (its unlabelled pool
and training texts), usually starting from a pretraining run (``init_from = RUN_DIR``) at the
fine-tuning sequence length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .mlm import MLMConfig, MLMPretrain


@dataclass
class TAPTConfig(MLMConfig):
    """Options of ``attention.tapt`` (one sequence-length stage by default)."""

    max_steps: int = 500
    seq_lens: list[int] = field(default_factory=lambda: [256])
    seq_len_fractions: list[float] = field(default_factory=lambda: [1.0])
    lr: float = 2e-4
    min_lr: float = 2e-5


class TaskAdaptivePretrain(MLMPretrain):
    """Continued MLM on the target set's unlabelled and training texts."""

    Config = TAPTConfig

    def texts(self, data) -> list[str]:
        return data.unlabeled()
