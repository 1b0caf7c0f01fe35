"""The config keys every training recipe shares, with one meaning each."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..spec.validate import Count, Seconds

#: Old key -> new key. Old keys keep working for one release, with a warning (see ``aliases``).
LEGACY_KEYS: dict[str, str] = {
    "steps": "max_steps",
    "max_grad_norm": "grad_clip",
    "warmup_steps": "warmup",
    "warmup_ratio": "warmup",
}

SCHEDULES = ("cosine", "linear", "constant")


@dataclass
class TrainingConfig:
    """Options a lab's training ``Config`` inherits (``class Config(TrainingConfig): ...``).

    - ``max_steps``: optimizer steps; 0 = no step limit (then a budget must be set).
    - ``budget_tokens``: trained tokens of all ranks together (``"2M"``), the tokens the lab's
      ``train_tokens`` result counts; ``budget_flops``: training FLOPs (``"5e13"``), those tokens times
      the model's training FLOPs per token (the count behind the lab's MFU). Both stop training at
      the same point on any machine and at any world size; the first limit reached stops it.
    - ``budget``: wall-clock seconds of the training phase (``"10m"``): from the first step to the
      end of the loop, *including* periodic evaluations and checkpoint saves, *excluding* setup
      (data, tokenizer, model build) and the final evaluation. Checked before every step, so the
      phase overruns by at most one step plus one periodic evaluation. The same on every rank.
    - ``lr`` / ``min_lr``: peak and floor learning rate; ``schedule`` ``cosine``, ``linear`` or
      ``constant`` decays from one to the other over training progress (steps or budget).
    - ``warmup``: linear warm-up, in steps when >= 1, as a fraction of training when < 1.
    - ``grad_clip``: max global gradient norm (0 = no clipping); ``weight_decay``: AdamW decay on
      weight matrices (not biases, norms or embeddings).
    - ``batch_size``: sequences (examples) per optimizer step on one rank, before accumulation;
      ``grad_accum``: micro-batches per optimizer step.
    - ``eval_every``: steps between periodic evaluations (0 = only at the end).
    """

    max_steps: int = 0
    budget: Seconds | None = None
    budget_tokens: Count | None = None
    budget_flops: Count | None = None
    lr: float = 1e-3
    min_lr: float = 0.0
    warmup: float = 0.0
    schedule: str = "cosine"
    grad_clip: float = 1.0
    weight_decay: float = 0.01
    batch_size: int = 16
    grad_accum: int = 1
    eval_every: int = 0

    #: For the config validator: old names that still load (with a warning) as the new ones.
    aliases = LEGACY_KEYS

    def __post_init__(self) -> None:
        self.check_training()

    def check_training(self) -> None:
        """One clear line for a value that makes no sense, before any work starts."""
        if self.max_steps < 0:
            raise ConfigError(f"recipe.max_steps must be >= 0 (got {self.max_steps})")
        if self.budget is not None and not self.budget > 0:
            raise ConfigError(f"recipe.budget must be a positive duration like '90s' or '2h' (got {self.budget})")
        for key in ("budget_tokens", "budget_flops"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise ConfigError(f"recipe.{key} must be a positive count like '2M' or '5e13' (got {value})")
        if not (self.max_steps or self.budget or self.budget_tokens or self.budget_flops):
            raise ConfigError("set recipe.max_steps or recipe.budget, or a machine-independent recipe.budget_tokens "
                              "or recipe.budget_flops (how long to train)")
        if not self.lr > 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ConfigError(f"need 0 <= recipe.min_lr <= recipe.lr and lr > 0 (got lr={self.lr}, min_lr={self.min_lr})")
        if self.warmup < 0:
            raise ConfigError(f"recipe.warmup must be >= 0: steps when >= 1, a fraction of training when < 1 "
                              f"(got {self.warmup})")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"recipe.schedule must be one of {', '.join(SCHEDULES)} (got {self.schedule!r})")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ConfigError("recipe.grad_clip and recipe.weight_decay must be >= 0")
        if self.batch_size < 1 or self.grad_accum < 1 or self.eval_every < 0:
            raise ConfigError(f"recipe.batch_size and recipe.grad_accum must be >= 1 and recipe.eval_every >= 0 "
                              f"(got {self.batch_size}, {self.grad_accum}, {self.eval_every})")
