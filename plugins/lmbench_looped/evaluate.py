"""Evaluation: normalised squared error against the number of in-context examples, and
against the number of loops at inference; the comparison plot.

The normalised error of a prediction of ``y_k`` is ``(yhat_k - y_k)^2 / normaliser`` (``d`` for
linear regression, so the zero predictor scores 1), averaged over a fixed, seeded evaluation set
of prompts at the full dimension. ``error_p10`` / ``error_p90`` are the 10th and 90th
percentiles of the bootstrap distribution of that mean (resampling prompts), the uncertainty
band shown in the plot (Garg et al. 2022 show a bootstrap band the same way).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from lmbench import NonFiniteError

from .encoding import encode, predictions


@dataclass
class ErrorCurve:
    """Mean normalised error per number of in-context examples k = 0..n-1, with a bootstrap band."""

    mean: torch.Tensor  # (n,)
    p10: torch.Tensor  # (n,)
    p90: torch.Tensor  # (n,)

    def at(self, k: int) -> float:
        """The mean error with ``k`` in-context examples (clamped to the longest prompt)."""
        return float(self.mean[min(k, len(self.mean) - 1)])

    def rows(self, model: str) -> list[dict[str, float | int | str]]:
        """Table rows for ``run.record``."""
        return [{"model": model, "n_examples": k, "error": float(self.mean[k]), "error_p10": float(self.p10[k]),
                 "error_p90": float(self.p90[k])} for k in range(len(self.mean))]


def error_curve(preds: torch.Tensor, ys: torch.Tensor, normaliser: float, *, n_boot: int = 500,
                seed: int = 0) -> ErrorCurve:
    """Normalised squared error of predictions (P, n) against targets (P, n), per k."""
    errs = (preds.double().cpu() - ys.double().cpu()).square() / normaliser  # (P, n)
    p = errs.shape[0]
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, p, (n_boot, p), generator=gen)
    counts = torch.zeros(n_boot, p, dtype=torch.float64).scatter_add_(1, idx, torch.ones(n_boot, p, dtype=torch.float64))
    boot = counts @ errs / p  # (n_boot, n): bootstrap means
    return ErrorCurve(errs.mean(0), boot.quantile(0.1, dim=0), boot.quantile(0.9, dim=0))


@torch.no_grad()
def model_predictions(model: torch.nn.Module, xs: torch.Tensor, ys: torch.Tensor, *, input_dim: int,
                      device: str = "cpu", loops: int | None = None, chunk: int = 256,
                      what: str = "eval_prediction", step: int | None = None) -> torch.Tensor:
    """The model's y-predictions (P, n) on prompts ``xs`` (P, n, d), ``ys`` (P, n), in float64 on CPU.

    Raises :class:`NonFiniteError` if any prediction is NaN/inf.
    """
    was_training = model.training
    model.eval()
    out = []
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if str(device).startswith("cuda") else nullcontext()
    try:
        for i in range(0, xs.shape[0], chunk):
            zs = encode(xs[i:i + chunk], ys[i:i + chunk], input_dim).to(device)  # (b, 2n, D)
            with amp:
                outputs = model(zs, loops=loops) if loops is not None else model(zs)  # (b, 2n)
            out.append(predictions(outputs).double().cpu())
    finally:
        model.train(was_training)
    preds = torch.cat(out)
    if not torch.isfinite(preds).all():
        bad = float(preds[~torch.isfinite(preds)][0])
        raise NonFiniteError(what + (f" (loops={loops})" if loops is not None else ""), step, bad)
    return preds


def default_loop_grid(train_loops: int) -> list[int]:
    """Loop counts for the error-vs-loops curve: 1..b and beyond, up to 3b (about 12 points)."""
    top = 3 * train_loops
    stride = max(1, top // 12)
    grid = sorted({*range(1, top + 1, stride), train_loops, 2 * train_loops, top})
    return grid


def plot_error_curves(curves: dict[str, ErrorCurve], path: Path, *, title: str, n_dims: int) -> Path | None:
    """Write error vs in-context examples for every model and baseline (PNG); None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the looped extra
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for name, curve in curves.items():
        ks = list(range(len(curve.mean)))
        style = "-" if name not in ("least_squares", "ridge", "knn", "averaging", "zero") else "--"
        (line,) = ax.plot(ks, curve.mean.numpy(), style, label=name, lw=2 if style == "-" else 1.2)
        ax.fill_between(ks, curve.p10.numpy(), curve.p90.numpy(), color=line.get_color(), alpha=0.15)
    ax.axvline(n_dims, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("in-context examples")
    ax.set_ylabel("squared error / d")
    ax.set_ylim(-0.05, 1.6)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
