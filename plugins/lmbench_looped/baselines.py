"""Exact per-prompt-length baselines for in-context regression.

Each function maps a batch of prompts ``xs`` (B, n, d), ``ys`` (B, n) to predictions (B, n),
where prediction ``k`` uses only the first ``k`` examples ``(x_0..x_{k-1}, y_0..y_{k-1})`` to
predict ``y_k`` from ``x_k`` (so prediction 0 has seen nothing). All run batched in float64:

- ``least_squares``: minimum-norm least squares, ``w = pinv(X) y`` (= ``numpy.linalg.lstsq``)
- ``ridge``: ``w = (X^T X + alpha I)^-1 X^T y``
- ``knn``: mean ``y`` of the ``min(k, n_neighbors)`` nearest ``x`` (Euclidean; uniform weights)
- ``averaging``: ``w = mean_i(y_i x_i)``, the estimator that is unbiased for ``w`` when x ~ N(0, I)
- ``zero``: predicts 0
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lmbench import ConfigError


def _per_length(xs: torch.Tensor, ys: torch.Tensor,
                fit_predict: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    xs, ys = xs.double(), ys.double()
    preds = torch.zeros_like(ys)  # (B, n); k = 0 predicts 0
    for k in range(1, xs.shape[1]):
        preds[:, k] = fit_predict(xs[:, :k], ys[:, :k], xs[:, k])  # (B, k, d), (B, k), (B, d) -> (B,)
    return preds


def least_squares(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Minimum-norm least squares: ``w = pinv(X) y`` for every prefix of each prompt."""
    def fit(x, y, q):
        w = torch.linalg.pinv(x) @ y.unsqueeze(-1)  # (B, d, 1)
        return (q.unsqueeze(1) @ w).squeeze(-1).squeeze(-1)
    return _per_length(xs, ys, fit)


def ridge(xs: torch.Tensor, ys: torch.Tensor, alpha: float = 0.1) -> torch.Tensor:
    """Ridge regression in closed form, ``(X^T X + alpha I)^-1 X^T y``, per prefix."""
    if alpha <= 0:
        raise ConfigError(f"ridge alpha must be > 0 (use least_squares for alpha = 0), got {alpha}")

    def fit(x, y, q):
        d = x.shape[-1]
        gram = x.transpose(1, 2) @ x + alpha * torch.eye(d, dtype=x.dtype)  # (B, d, d)
        w = torch.linalg.solve(gram, x.transpose(1, 2) @ y.unsqueeze(-1))  # (B, d, 1)
        return (q.unsqueeze(1) @ w).squeeze(-1).squeeze(-1)
    return _per_length(xs, ys, fit)


def knn(xs: torch.Tensor, ys: torch.Tensor, n_neighbors: int = 3) -> torch.Tensor:
    """k-nearest neighbours regression (uniform weights) with ``min(k, n_neighbors)`` neighbours."""
    if n_neighbors < 1:
        raise ConfigError(f"knn n_neighbors must be >= 1, got {n_neighbors}")

    def fit(x, y, q):
        dist = (x - q.unsqueeze(1)).square().sum(-1)  # (B, k)
        nearest = dist.topk(min(n_neighbors, x.shape[1]), dim=1, largest=False).indices
        return y.gather(1, nearest).mean(1)
    return _per_length(xs, ys, fit)


def averaging(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """The averaging estimator ``w = mean_i(y_i x_i)``, per prefix."""
    def fit(x, y, q):
        w = (y.unsqueeze(-1) * x).mean(1)  # (B, d)
        return (w * q).sum(-1)
    return _per_length(xs, ys, fit)


def zero(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Always predicts 0 (normalised error 1 on the linear task)."""
    return torch.zeros_like(ys, dtype=torch.float64)


BASELINES: dict[str, Callable[..., torch.Tensor]] = {
    "least_squares": least_squares, "ridge": ridge, "knn": knn, "averaging": averaging, "zero": zero,
}


def all_baselines(xs: torch.Tensor, ys: torch.Tensor, *, ridge_alpha: float = 0.1,
                  knn_neighbors: int = 3) -> dict[str, torch.Tensor]:
    """Predictions (B, n) of every baseline on the same prompts."""
    xs, ys = xs.cpu(), ys.cpu()
    return {"least_squares": least_squares(xs, ys), "ridge": ridge(xs, ys, ridge_alpha),
            "knn": knn(xs, ys, knn_neighbors), "averaging": averaging(xs, ys), "zero": zero(xs, ys)}
