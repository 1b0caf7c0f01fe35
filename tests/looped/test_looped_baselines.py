"""The exact baselines equal numpy / scikit-learn on the same prompts."""

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsRegressor

from lmbench.errors import ConfigError
from lmbench_looped import baselines
from lmbench_looped.tasks import LinRegConfig, RegressionTask

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def prompts():
    task = RegressionTask(LinRegConfig(n_dims=5, n_points=11, noise_std=0.1, curriculum=False))
    batch = task.batch(6, seed=3)
    return batch.xs, batch.ys


def test_least_squares_equals_numpy_lstsq(prompts):
    xs, ys = prompts
    preds = baselines.least_squares(xs, ys).numpy()
    X, Y = xs.double().numpy(), ys.double().numpy()
    for b in range(X.shape[0]):
        assert preds[b, 0] == 0
        for k in range(1, X.shape[1]):  # under- (k < d) and over-determined (k > d) prefixes
            w = np.linalg.lstsq(X[b, :k], Y[b, :k], rcond=None)[0]
            assert preds[b, k] == pytest.approx(X[b, k] @ w, abs=1e-8)


def test_ridge_equals_closed_form(prompts):
    xs, ys = prompts
    alpha = 0.3
    preds = baselines.ridge(xs, ys, alpha).numpy()
    X, Y = xs.double().numpy(), ys.double().numpy()
    for b in range(X.shape[0]):
        for k in range(1, X.shape[1]):
            A = X[b, :k]
            w = np.linalg.inv(A.T @ A + alpha * np.eye(A.shape[1])) @ A.T @ Y[b, :k]
            assert preds[b, k] == pytest.approx(X[b, k] @ w, abs=1e-8)


def test_knn_equals_sklearn(prompts):
    xs, ys = prompts
    preds = baselines.knn(xs, ys, n_neighbors=3).numpy()
    X, Y = xs.double().numpy(), ys.double().numpy()
    for b in range(X.shape[0]):
        for k in range(1, X.shape[1]):
            model = KNeighborsRegressor(n_neighbors=min(3, k)).fit(X[b, :k], Y[b, :k])
            assert preds[b, k] == pytest.approx(model.predict(X[b, k:k + 1])[0], abs=1e-10)


def test_averaging_and_zero(prompts):
    xs, ys = prompts
    preds = baselines.averaging(xs, ys).numpy()
    X, Y = xs.double().numpy(), ys.double().numpy()
    w = (Y[0, :4, None] * X[0, :4]).mean(0)
    assert preds[0, 4] == pytest.approx(X[0, 4] @ w)
    assert np.all(baselines.zero(xs, ys).numpy() == 0)


def test_least_squares_is_exact_once_determined():
    task = RegressionTask(LinRegConfig(n_dims=4, n_points=9, curriculum=False))
    batch = task.batch(32, seed=0)
    err = (baselines.least_squares(batch.xs, batch.ys) - batch.ys.double()).square()
    assert err[:, 4:].max() < 1e-9 and err[:, 1:4].mean() > 0.1


def test_bad_baseline_options():
    xs, ys = torch.zeros(1, 3, 2), torch.zeros(1, 3)
    with pytest.raises(ConfigError):
        baselines.ridge(xs, ys, alpha=0.0)
    with pytest.raises(ConfigError):
        baselines.knn(xs, ys, n_neighbors=0)
