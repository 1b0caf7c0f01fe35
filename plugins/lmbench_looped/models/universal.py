"""`looped.universal`: one shared block applied ``n_layers`` times (Universal Transformer).

Without input injection, as the baseline of Yang et al. (2023) loops the whole GPT-2 backbone:
``h_0 = read_in(z)``, ``h_t = LN_f(block(h_{t-1} + p))`` with the learned positions ``p`` added and
the final LayerNorm applied on every application (``positions_each_loop``, ``loop_norm``; both
false give our earlier plain form ``h_0 = read_in(z) + p``, ``h_t = block(h_{t-1})``, LayerNorm only
before the read-out), back-propagated through every application; inference may run more or fewer
applications (``loops=``).
(Dehghani et al. 2019 also add a timestep embedding and adaptive halting; this is the plain
weight-shared stack that the looped-transformer papers compare against.)
"""

from __future__ import annotations

from dataclasses import dataclass

from lmbench import ConfigError

from .gpt2 import ModelShape
from .looped import LoopedConfig, LoopedTransformer


@dataclass
class UniversalConfig(ModelShape):
    """Options of `looped.universal`."""

    n_layers: int = 12  # applications of the shared block (training and, by default, inference)
    eval_loops: int = 0  # applications at inference; 0: n_layers
    loop_norm: bool = True  # the final LayerNorm after every application (Yang et al.'s baseline)
    positions_each_loop: bool = True  # the positions added before every application (Yang et al.'s baseline)

    def __post_init__(self) -> None:
        self.check_shape()
        if self.n_layers < 1 or self.eval_loops < 0:
            raise ConfigError(f"n_layers must be >= 1 and eval_loops >= 0, got {self.n_layers}, {self.eval_loops}")


class UniversalTransformer(LoopedTransformer):
    """One block, shared across ``n_layers`` applications, no input injection, full backprop."""

    Config = UniversalConfig  # type: ignore[assignment]

    def __init__(self, config: UniversalConfig | None = None, *, n_dims: int | None = None,
                 n_points: int | None = None):
        config = config or UniversalConfig()
        shape = {k: getattr(config, k) for k in ("d_model", "n_heads", "mixer", "ssm_state", "dropout", "n_dims",
                                                  "max_points")}
        inner = LoopedConfig(**shape, n_block_layers=1, loops=config.n_layers, grad_loops=config.n_layers,
                             eval_loops=config.eval_loops, loss_window="last", inject=False,
                             loop_norm=config.loop_norm)
        inner.positions_each_loop = config.positions_each_loop  # type: ignore[attr-defined]
        super().__init__(inner, n_dims=n_dims, n_points=n_points)
        self.config = inner
        self.universal_config = config
