"""The training toolkit every lab's loop uses: small functions, not a Trainer.

Each lab keeps its own loop (an LM, an encoder fine-tune, an adapter and a looped transformer train
differently), but the parts whose meaning must be the same everywhere live here, once:

- :class:`TrainingConfig`: the shared config keys (``max_steps``, ``budget``, ``lr``, ``min_lr``,
  ``warmup``, ``schedule``, ``grad_clip``, ``weight_decay``, ``batch_size``, ``grad_accum``,
  ``eval_every``) that a lab's ``Config`` inherits;
- :class:`StopRule`: when training ends and why (``stopped_by``), agreed across ranks;
- :func:`lr_at`: the learning-rate schedule;
- :func:`adamw`: AdamW with parameter groups (no decay on biases, norms, embeddings);
- :func:`clip_and_step` and :func:`accumulation`: one optimizer step with clipping and gradient
  accumulation;
- :class:`StepClock`: per-step wall-clock times, summarised by :class:`lmbench.measure.TimingStats`;
- :func:`save_training_state` / :func:`restore_training_state`: checkpoints of model, optimizer,
  scheduler, RNG and data position, so every recipe resumes where it was killed;
- :func:`cost_results`: the shared cost result keys;
- :func:`compile_in_place` / :func:`compile_errors`: ``recipe.compile`` (:mod:`.compiling`).

torch is imported inside the functions that need it. May import: the ground, ``lmbench.measure``
(step timing) and ``lmbench.spec`` (config validation).
"""

from .checkpointing import restore_training_state, rng_state, save_training_state, set_rng_state
from .compiling import compile_errors, compile_in_place, compile_refusal
from .config import TrainingConfig
from .cost import EnergyMeter, cost_results
from .optim import accumulation, adamw, clip_and_step, param_groups
from .schedule import lr_at
from .stop import StepClock, StopRule

__all__ = ["TrainingConfig", "StopRule", "StepClock", "lr_at", "adamw", "param_groups", "clip_and_step",
           "accumulation", "save_training_state", "restore_training_state", "rng_state", "set_rng_state",
           "cost_results", "EnergyMeter", "compile_in_place", "compile_errors", "compile_refusal"]
