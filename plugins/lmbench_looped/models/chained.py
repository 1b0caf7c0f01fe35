"""`looped.chained`: the "A->B" variant, two different looped blocks, each looped.

Seed lab 004's A->B alternates its two blocks (``order = "alternate"``, the default): loop t runs
block A (``n_block_layers`` layers) when t is even and block B (as many layers, its own weights) when
it is odd, A, B, A, B, ... With ``order = "sequential"`` (ours, kept as a named variant) A runs the
first ``loops_a`` loops and B the remaining ``b - loops_a``, starting from A's last state. Every loop
of either block gets the input injection ``h_t = f_t(h_{t-1} + e)``, and the read-out (shared) can
follow any loop. It is compared with one looped block run for the same ``b`` loops
(``looped.looped``): same depth, twice the block parameters.

Everything else is the looped transformer's (window of the last ``T`` loops in the loss, truncated
backprop, loop curriculum, ``loop_norm``, ``ema_alpha``, ``last_n``). Sequentially, the loop
curriculum grows B's share (A always runs ``loops_a`` loops), the window must reach into A
(``T > b - loops_a``) or A would never receive a gradient (checked before training), and at
inference ``loops = L`` runs A for ``min(L, loops_a)`` loops and B for the rest, so
``error_vs_loops`` extrapolates B. Alternating, any window of two loops or more trains both.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from lmbench import ConfigError

from .backbone import Block, init_weights
from .looped import LoopedConfig, LoopedTransformer


@dataclass
class ChainedConfig(LoopedConfig):
    """Options of `looped.chained`: those of `looped.looped` plus ``loops_a``."""

    loops_a: int = 6  # sequential order: loops of block A; block B runs the other b - loops_a
    order: str = "alternate"  # "alternate": A, B, A, B, ... (seed 004); "sequential": A loops_a times, then B

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.order not in ("alternate", "sequential"):
            raise ConfigError(f"order must be alternate (A, B, A, B: seed 004) or sequential, got {self.order!r}")
        if self.order == "alternate":
            if (self.grad_loops or self.loops) < 2:
                raise ConfigError("alternating A and B needs grad_loops (T) >= 2, or one block never receives "
                                  "a gradient")
            return
        if not 1 <= self.loops_a < self.loops:
            raise ConfigError(f"loops_a must be in [1, loops - 1] (b={self.loops}): block B needs at least one "
                              f"loop, got {self.loops_a}")
        window = self.grad_loops or self.loops
        if window <= self.loops - self.loops_a:
            raise ConfigError(f"grad_loops (T={window}) must exceed B's {self.loops - self.loops_a} loops "
                              f"(b - loops_a) or block A never receives a gradient; raise grad_loops or loops_a")
        if self.loops_start and self.loops_start <= self.loops_a:
            raise ConfigError(f"loops_start ({self.loops_start}) must exceed loops_a ({self.loops_a}): the loop "
                              "curriculum grows block B's loops")


class ChainedLooped(LoopedTransformer):
    """Block A looped ``loops_a`` times, then block B looped ``b - loops_a`` times; (B, 2n, d) -> (B, 2n)."""

    Config = ChainedConfig  # type: ignore[assignment]

    def __init__(self, config: ChainedConfig | None = None, *, n_dims: int | None = None,
                 n_points: int | None = None):
        config = config or ChainedConfig()
        super().__init__(config, n_dims=n_dims, n_points=n_points)  # read-in/out, positions, block A
        self.blocks_b = nn.ModuleList(Block(config.d_model, config.n_heads, mixer=config.mixer,
                                            ssm_state=config.ssm_state, dropout=config.dropout)
                                      for _ in range(config.n_block_layers))
        init_weights(self.blocks_b)
        self.loops_a = config.loops_a
        self.alternate = config.order == "alternate"

    def blocks_for_loop(self, t: int) -> nn.ModuleList:
        """Alternating: block A on even loops, B on odd ones; sequential: A for ``loops_a`` loops, then B."""
        if self.alternate:
            return self.blocks if t % 2 == 0 else self.blocks_b
        return self.blocks if t < self.loops_a else self.blocks_b
