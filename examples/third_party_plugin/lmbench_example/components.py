"""The plugin's components. Each factory takes its validated Config first (lmbench's contract).

Each one implements a protocol of ``lmbench.components`` (see docs/plugins.md of lmbench):
``BigramLM`` and ``GRULanguageModel`` are ``CausalLM``s (the GRU also an ``IncrementalDecoder``
and a ``FlopsCounter``), so both train under the LM lab's ``lm.train``; ``TopOneAccuracy`` and
``TopKAccuracy`` are ``next_token`` metrics, so ``lm.train`` computes them when a spec names them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from lmbench import NEXT_TOKEN, CausalLM, Needs, Requires
from torch import nn


def _split(model: nn.Module, embedding: nn.Module, head: nn.Module | None) -> dict[str, int]:
    """Parameter counts: total, embedding, body, head (CausalLM.parameter_split)."""
    total = sum(p.numel() for p in model.parameters())
    emb = sum(p.numel() for p in embedding.parameters())
    out = sum(p.numel() for p in head.parameters()) if head is not None else 0
    return {"total": total, "embedding": emb, "body": total - emb - out, "head": out}


@dataclass
class BigramConfig:
    """Options of example.bigram."""

    vocab_size: int = 256


class BigramLM(nn.Module):
    """logits[t] = table[token[t]]: the smallest language model there is."""

    Config = BigramConfig

    def __init__(self, config: BigramConfig, vocab_size: int | None = None):
        super().__init__()
        self.vocab_size = vocab_size or config.vocab_size
        self.table = nn.Embedding(self.vocab_size, self.vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table(tokens)  # (B, T) -> (B, T, V)

    def parameter_split(self) -> dict[str, int]:
        """The table is the embedding; there is no body or separate head."""
        return _split(self, self.table, None)


@dataclass
class GRUConfig:
    """Options of example.gru."""

    emb_dim: int = 32
    hidden_size: int = 64
    num_layers: int = 1


class GRULanguageModel(nn.Module):
    """A GRU language model: embedding -> GRU -> linear head; ``step`` carries the hidden state."""

    Config = GRUConfig

    def __init__(self, config: GRUConfig, *, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.emb_dim)
        self.gru = nn.GRU(config.emb_dim, config.hidden_size, config.num_layers, batch_first=True)
        self.head = nn.Linear(config.hidden_size, vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for ids (B, T), from a zero state."""
        return self.step(idx, None)[0]

    def new_state(self) -> None:
        """The empty state (the GRU starts from zeros)."""
        return None

    def step(self, idx: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) of ids (B, T) continuing from ``state`` (L, B, H); the new state."""
        out, state = self.gru(self.embedding(idx), state)  # (B, T, H), (L, B, H)
        return self.head(out), state

    def parameter_split(self) -> dict[str, int]:
        """Embedding / GRU layers / output projection."""
        return _split(self, self.embedding, self.head)

    def flops_per_token(self, context: int) -> float:
        """6 FLOPs per weight per trained token (forward + backward) outside the embedding lookup."""
        split = self.parameter_split()
        return 6.0 * (split["body"] + split["head"])


class TopOneAccuracy:
    """Fraction of positions where the most likely next token is the true one."""

    input = NEXT_TOKEN
    produces = ("top1",)

    def __init__(self, config: None = None):
        pass

    def compute(self, predictions: torch.Tensor, references: torch.Tensor) -> dict[str, float]:
        """predictions (N, V) logits, references (N,) ids -> the mean top-1 hit rate."""
        return {"top1": float((predictions.argmax(-1) == references).float().mean())}


@dataclass
class TopKConfig:
    """Options of example.topk (a spec sets them in ``[metrics."example.topk"]``)."""

    k: int = 5

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")


class TopKAccuracy:
    """Fraction of positions whose true next token is among the k most likely (``top<k>_accuracy``)."""

    Config = TopKConfig
    input = NEXT_TOKEN

    def __init__(self, config: TopKConfig | None = None):
        self.k = (config or TopKConfig()).k
        self.produces = (f"top{self.k}_accuracy",)

    def compute(self, predictions: torch.Tensor, references: torch.Tensor) -> dict[str, float]:
        """predictions (N, V) logits, references (N,) ids -> the mean top-k hit rate (a per-item mean)."""
        k = min(self.k, predictions.shape[-1])
        hits = (predictions.topk(k, dim=-1).indices == references[:, None]).any(-1)  # (N,)
        return {self.produces[0]: float(hits.float().mean())}


@dataclass
class FitConfig:
    """Options of example.fit."""

    text: str = "the quick brown fox jumps over the lazy dog. " * 8
    steps: int = 60
    lr: float = 0.1


class FitRecipe:
    """Fit the spec's model to `text` (bytes as tokens) and report loss and the spec's metrics."""

    Config = FitConfig
    requires = Requires(tables={"model": Needs(CausalLM, deps=("vocab_size",))}, feeds=(NEXT_TOKEN,))

    def __init__(self, config: FitConfig):
        self.config = config

    def run(self, run) -> dict[str, float]:
        data = torch.tensor(list(self.config.text.encode()), dtype=torch.long)[None]  # (1, T)
        inputs, targets = data[:, :-1], data[:, 1:]
        model = run.build("model", vocab_size=256)
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.config.lr)
        for step in range(self.config.steps):
            loss = nn.functional.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.log(step, train_loss=run.check_finite("train_loss", loss, step))
        run.add_results(train_loss=float(loss))
        with torch.no_grad():
            logits = model(inputs)  # (1, T, V)
        feed = run.metric_feed(NEXT_TOKEN)
        feed.update(logits.flatten(0, 1), targets.flatten())  # (N, V), (N,)
        return {"train_loss": float(loss), **feed.result()}
