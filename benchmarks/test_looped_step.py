"""Benchmarks of the looped lab: one training step per model, inference vs loops, exact baselines.

``LMBENCH_BENCH_QUICK=1`` shrinks every size so the suite runs in seconds (CI).
"""

import os

import pytest
import torch

from lmbench_looped import baselines
from lmbench_looped.encoding import encode, predictions
from lmbench_looped.models.gpt2 import GPT2Config, GPT2Regressor
from lmbench_looped.models.looped import LoopedConfig, LoopedTransformer
from lmbench_looped.models.universal import UniversalConfig, UniversalTransformer
from lmbench_looped.tasks import LinRegConfig, RegressionTask

torch.set_num_threads(1)
QUICK = os.environ.get("LMBENCH_BENCH_QUICK") == "1"
D, N, B, WIDTH = (4, 8, 8, 32) if QUICK else (4, 12, 64, 64)
LAYERS, LOOPS, T = (2, 3, 2) if QUICK else (4, 8, 6)  # the looped.compare sizes


def make(kind: str, mixer: str = "attention") -> torch.nn.Module:
    shape = dict(d_model=WIDTH, n_heads=4, mixer=mixer)
    if kind == "gpt2":
        return GPT2Regressor(GPT2Config(n_layers=LAYERS, **shape), n_dims=D, n_points=N)
    if kind == "universal":
        return UniversalTransformer(UniversalConfig(n_layers=LOOPS, **shape), n_dims=D, n_points=N)
    return LoopedTransformer(LoopedConfig(loops=LOOPS, grad_loops=T, **shape), n_dims=D, n_points=N)


@pytest.fixture(scope="module")
def batch():
    task = RegressionTask(LinRegConfig(n_dims=D, n_points=N, curriculum=False))
    return task.batch(B, seed=0)


@pytest.mark.parametrize("kind,mixer", [("gpt2", "attention"), ("universal", "attention"),
                                        ("looped", "attention"), ("looped", "ssm")])
def test_train_step(benchmark, batch, kind, mixer):
    """Forward + backward + AdamW step on one batch of prompts (2n tokens each)."""
    torch.manual_seed(0)
    model = make(kind, mixer)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    zs = encode(batch.xs, batch.ys, D)

    def step():
        outs = model.train_outputs(zs)
        loss = sum(((predictions(o) - batch.ys) ** 2).mean() for o in outs) / len(outs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    loss = benchmark(step)
    assert loss == loss  # finite
    benchmark.extra_info["tokens_per_step"] = zs.shape[0] * zs.shape[1]
    benchmark.extra_info["params"] = sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("loops", [LOOPS, 3 * LOOPS])
def test_looped_inference(benchmark, batch, loops):
    """Inference cost grows with the loops run (no extra parameters)."""
    model = make("looped").eval()
    zs = encode(batch.xs, batch.ys, D)
    with torch.no_grad():
        out = benchmark(lambda: model(zs, loops=loops))
    assert out.shape == (B, 2 * N)


def test_baselines(benchmark, batch):
    """All five exact baselines at every prompt length."""
    preds = benchmark(lambda: baselines.all_baselines(batch.xs, batch.ys))
    assert set(preds) == {"least_squares", "ridge", "knn", "averaging", "zero"}
