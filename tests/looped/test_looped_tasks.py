"""Task sampling, curriculum and prompt encoding of the looped lab."""

import pytest
import torch

from lmbench.errors import ConfigError
from lmbench_looped.encoding import encode, predictions
from lmbench_looped.tasks import (Curriculum, DecisionTreeRegression, LinRegConfig, RegressionTask,
                                  ReluNetRegression, SparseLinReg)

torch.set_num_threads(1)


def test_batches_are_a_function_of_seed_and_step():
    task = RegressionTask(LinRegConfig(n_dims=5, n_points=7, curriculum=False))
    a, b = task.batch(8, step=3, seed=1), task.batch(8, step=3, seed=1)
    assert torch.equal(a.xs, b.xs) and torch.equal(a.ys, b.ys)
    assert not torch.equal(a.xs, task.batch(8, step=4, seed=1).xs)
    assert not torch.equal(a.xs, task.batch(8, step=3, seed=2).xs)
    assert a.xs.shape == (8, 7, 5) and a.ys.shape == (8, 7)


def test_linear_targets_are_linear_in_x():
    task = RegressionTask(LinRegConfig(n_dims=4, n_points=10, curriculum=False))
    batch = task.batch(16, seed=0)
    # every prompt's ys are exactly explained by one w: least squares residual ~ 0
    w = torch.linalg.lstsq(batch.xs.double(), batch.ys.double().unsqueeze(-1)).solution
    assert torch.allclose((batch.xs.double() @ w).squeeze(-1), batch.ys.double(), atol=1e-5)


def test_noise_is_added():
    clean = RegressionTask(LinRegConfig(n_dims=4, n_points=10, curriculum=False)).batch(16, seed=0)
    noisy = RegressionTask(LinRegConfig(n_dims=4, n_points=10, curriculum=False, noise_std=0.5)).batch(16, seed=0)
    w = torch.linalg.lstsq(noisy.xs.double(), noisy.ys.double().unsqueeze(-1)).solution
    resid = (noisy.xs.double() @ w).squeeze(-1) - noisy.ys.double()
    assert torch.equal(clean.xs, noisy.xs) and resid.abs().max() > 0.05


def test_curriculum_grows_dims_and_points_every_k_steps():
    cfg = LinRegConfig(n_dims=8, n_points=17, dims_start=3, dims_step=1, points_start=5, points_step=2,
                       curriculum_every=10)
    task = RegressionTask(cfg)
    assert task.schedule(0) == (3, 5) and task.schedule(9) == (3, 5)
    assert task.schedule(10) == (4, 7) and task.schedule(25) == (5, 9)
    assert task.schedule(10_000) == (8, 17)
    batch = task.batch(4, step=10)
    assert batch.xs.shape == (4, 7, 8) and batch.dims == 4
    assert torch.all(batch.xs[:, :, 4:] == 0) and torch.all(batch.xs[:, :, :4] != 0)
    assert Curriculum(3, 8, 1, 10).done_at() == 50
    off = RegressionTask(LinRegConfig(n_dims=8, n_points=17, dims_start=3, curriculum=False))
    assert off.schedule(0) == (8, 17)


def test_eval_set_is_full_size_and_fixed():
    task = RegressionTask(LinRegConfig(n_dims=6, n_points=9, dims_start=2, points_start=3))
    a, b = task.eval_set(32, seed=5), task.eval_set(32, seed=5)
    assert a.xs.shape == (32, 9, 6) and torch.equal(a.ys, b.ys)


@pytest.mark.parametrize("cls,normaliser", [(SparseLinReg, 3.0), (ReluNetRegression, 4.0),
                                            (DecisionTreeRegression, 1.0)])
def test_other_function_classes(cls, normaliser):
    task = cls(cls.Config(n_dims=4, n_points=8, curriculum=False))
    batch = task.batch(512, seed=0)
    assert batch.ys.shape == (512, 8) and torch.isfinite(batch.ys).all()
    assert task.normaliser == normaliser
    # E[y^2] is close to the stated normaliser
    assert 0.6 * normaliser < batch.ys.square().mean() < 1.5 * normaliser


def test_sparse_weights_touch_only_s_coordinates():
    task = SparseLinReg(SparseLinReg.Config(n_dims=6, n_points=12, sparsity=2, curriculum=False))
    batch = task.batch(8, seed=0)
    w = torch.linalg.lstsq(batch.xs.double(), batch.ys.double().unsqueeze(-1)).solution.squeeze(-1)
    assert ((w.abs() > 1e-6).sum(1) <= 2).all()


@pytest.mark.parametrize("kwargs", [dict(n_points=0), dict(n_dims=0), dict(dims_start=9, n_dims=4),
                                    dict(points_start=20, n_points=10), dict(noise_std=-1.0),
                                    dict(function="sparse_linear", sparsity=7, n_dims=4)])
def test_invalid_task_options_are_rejected(kwargs):
    with pytest.raises(ConfigError):
        LinRegConfig(**kwargs)


def test_encoding_layout():
    xs = torch.arange(2 * 3 * 2, dtype=torch.float32).view(2, 3, 2) + 1
    ys = torch.tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    zs = encode(xs, ys, input_dim=4)
    assert zs.shape == (2, 6, 4)
    assert torch.equal(zs[:, 0::2, :2], xs) and torch.all(zs[:, 0::2, 2:] == 0)
    assert torch.equal(zs[:, 1::2, 0], ys) and torch.all(zs[:, 1::2, 1:] == 0)
    out = torch.arange(12.0).view(2, 6)
    assert torch.equal(predictions(out), out[:, 0::2])
    with pytest.raises(ConfigError, match="larger than the model's input"):
        encode(xs, ys, input_dim=1)
