"""The plugin's components. Each factory takes its validated Config first (lmbench's contract)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class BigramConfig:
    """Options of example.bigram."""

    vocab_size: int = 256


class BigramLM(nn.Module):
    """logits[t] = table[token[t]]: the smallest language model there is."""

    Config = BigramConfig

    def __init__(self, config: BigramConfig, vocab_size: int | None = None):
        super().__init__()
        self.table = nn.Embedding(vocab_size or config.vocab_size, vocab_size or config.vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table(tokens)  # (B, T) -> (B, T, V)


class TopOneAccuracy:
    """Fraction of positions where the most likely next token is the true one."""

    def __init__(self, config: None = None):
        pass

    def compute(self, predictions: torch.Tensor, references: torch.Tensor) -> dict[str, float]:
        return {"top1": float((predictions.argmax(-1) == references).float().mean())}


@dataclass
class FitConfig:
    """Options of example.fit."""

    text: str = "the quick brown fox jumps over the lazy dog. " * 8
    steps: int = 60
    lr: float = 0.1


class FitRecipe:
    """Fit the spec's model to `text` (bytes as tokens) and report loss and the spec's metrics."""

    Config = FitConfig

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
        with torch.no_grad():
            logits = model(inputs)
        results = {"train_loss": float(loss)}
        for metric in run.build_metrics().values():
            results.update(metric.compute(logits, targets))
        return results
