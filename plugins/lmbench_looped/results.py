"""The results the looped lab's recipe returns and logs, declared for reports.

Errors are squared errors normalised by the task's noise-free variance (1 = predicting zero).
Cost results (``train_tokens_per_s`` counting 2 prompt tokens per example, ``step_time_ms``,
``params`` ...) are the core's shared vocabulary.
"""

from __future__ import annotations

from lmbench import ResultSpec, hookimpl

RESULTS = (
    ResultSpec("error_at_2d", "lower", "quality", "", "error at 2d", headline=True,
               description="normalised error with 2d in-context examples"),
    ResultSpec("error_at_d", "lower", "quality", "", "error at d", headline=True,
               description="normalised error with d in-context examples"),
    ResultSpec("val_mse", "lower", "quality", "", "val MSE", description="normalised error averaged over prompt lengths"),
    ResultSpec("val_loss", "lower", "quality", "", "val loss", description="per-step log: normalised validation error"),
    ResultSpec("train_loss", "lower", "quality", "", "train loss", description="per-step log: training loss"),
    ResultSpec("error_at_2d_best_loops", "lower", "quality", "", "error at 2d, best loops",
               description="error at 2d with the best number of loops at inference"),
    ResultSpec("error_at_2d_max_loops", "lower", "quality", "", "error at 2d, most loops",
               description="error at 2d with the most loops tried (extrapolation)"),
    ResultSpec("least_squares_error_at_2d", kind="info", header="least squares at 2d",
               description="baseline: least squares error at 2d"),
    ResultSpec("knn_error_at_2d", kind="info", header="kNN at 2d", description="baseline: kNN error at 2d"),
    ResultSpec("averaging_error_at_2d", kind="info", header="averaging at 2d", description="baseline: averaging at 2d"),
    ResultSpec("beats_knn_and_averaging_from_d", kind="info", header="beats kNN+avg from d",
               description="1 when the model beats kNN and averaging at every prompt length from d"),
    ResultSpec("train_loops", kind="info", header="train loops", description="loops used in training"),
    ResultSpec("best_loops", kind="info", header="best loops", description="loops at inference with the lowest error"),
    ResultSpec("dims", kind="info", header="dims", description="per-step log: curriculum dimensions"),
    ResultSpec("points", kind="info", header="points", description="per-step log: curriculum prompt length"),
)


@hookimpl
def lmbench_register_results(registry):
    """Declare the looped lab's quality and info results."""
    registry.add_all(RESULTS)
