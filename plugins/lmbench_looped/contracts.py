"""What ``looped.train`` needs of its task and model, declared (no torch here).

Both are lab-specific: an in-context regression task (:class:`RegressionTaskLike`) and a model that
reads (x, y) token sequences (:class:`PromptRegressor`). The spec's ``regression`` metrics get the
model's predictions on the evaluation prompts. See docs/plugins.md and this lab's README.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from lmbench import REGRESSION, Needs, Requires


@runtime_checkable
class RegressionTaskLike(Protocol):
    """A ``[dataset]`` for ``looped.train``: ``batch(batch_size, step=, seed=)`` draws training
    prompts (xs (B, n, d), ys (B, n)), ``eval_set(n_prompts, seed=)`` the fixed evaluation prompts;
    ``n_dims`` (d), ``n_points`` (n) and ``normaliser`` (E[f(x)^2], dividing the squared error).
    Optional: ``schedule(step) -> (dims, points)``, the curriculum, checked on resume."""

    n_dims: int
    n_points: int
    normaliser: float

    def batch(self, *args: Any, **kwargs: Any) -> Any:
        """A training batch of prompts."""
        ...

    def eval_set(self, *args: Any, **kwargs: Any) -> Any:
        """The evaluation prompts."""
        ...


@runtime_checkable
class PromptRegressor(Protocol):
    """A ``[model]`` for ``looped.train``, built as ``factory(config, n_dims=d, n_points=n)``:
    ``model(zs) -> predictions`` on encoded prompts zs (B, 2n, d); ``train_outputs(zs)`` the list
    of outputs the loss averages (one per loop for looped models); ``n_dims``."""

    n_dims: int

    def __call__(self, zs: Any) -> Any:
        """Predictions at the x positions."""
        ...

    def train_outputs(self, zs: Any) -> list[Any]:
        """Outputs the training loss averages."""
        ...


TRAIN_REQUIRES = Requires(
    tables={"dataset": Needs(RegressionTaskLike), "model": Needs(PromptRegressor, deps=("n_dims", "n_points"))},
    feeds=(REGRESSION,),
)
