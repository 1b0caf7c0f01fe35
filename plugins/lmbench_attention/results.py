"""The results the attention lab's recipes and metrics return and log, declared for reports.

Cost results of training (``train_seconds``, ``train_tokens_per_s``, ``step_time_ms``, ``params``,
``stopped_by`` ...) are the core's shared vocabulary (:func:`lmbench.training.cost_results`); old
stored names such as ``train_time_s`` are read through the core's aliases. ``attention.scaling`` returns one family of keys per kernel
(``lsh_time_slope``, ``lsh_crossover_fwd`` ...), declared here as patterns.
"""

from __future__ import annotations

from lmbench import ResultSpec, hookimpl

RESULTS = (
    ResultSpec("f1_macro", "higher", "quality", "", "F1 macro", headline=True, description="test macro-F1"),
    ResultSpec("accuracy", "higher", "quality", "", "accuracy", headline=True, description="test accuracy"),
    ResultSpec("val_f1_macro", "higher", "quality", "", "val F1 macro",
               description="best validation macro-F1 (the checkpoint kept)"),
    ResultSpec("val_accuracy", "higher", "quality", "", "val accuracy", description="per-epoch validation accuracy"),
    ResultSpec("val_loss", "lower", "quality", "nats/token", "val MLM loss", headline=True,
               description="masked-LM loss on held-out text"),
    ResultSpec("val_ppl", "lower", "quality", "", "val MLM ppl", description="masked-LM perplexity"),
    ResultSpec("train_loss", "lower", "quality", "", "train loss", description="per-step log: training loss"),
    ResultSpec("*_time_slope", "lower", "cost", "", "time slope *", headline=True,
               description="log-log slope of forward+backward time against sequence length (2 = quadratic)"),
    ResultSpec("*_memory_slope", "lower", "cost", "", "memory slope *", headline=True,
               description="log-log slope of peak memory against sequence length"),
    ResultSpec("*_fwd_time_slope", "lower", "cost", "", "fwd slope *",
               description="log-log slope of forward time against sequence length"),
    ResultSpec("*_crossover_fwd", kind="info", header="crossover fwd *",
               description="sequence length from which the kernel's forward beats the baseline"),
    ResultSpec("*_crossover_fwd_bwd", kind="info", header="crossover fwd+bwd *",
               description="sequence length from which the kernel's forward+backward beats the baseline"),
    ResultSpec("sdpa_bare_ms", "lower", "cost", "ms", "bare SDPA (ms)", description="a bare SDPA call"),
    ResultSpec("sdpa_layer_ms", "lower", "cost", "ms", "SDPA layer (ms)", description="the attention.sdpa layer"),
    ResultSpec("sdpa_layer_overhead_ratio", "lower", "cost", "", "SDPA layer overhead",
               description="time of the attention.sdpa layer over a bare SDPA call"),
    ResultSpec("sdpa_overhead_shape", kind="info", header="overhead shape", description="shape of that timing"),
    ResultSpec("sdpa_backend", kind="info", header="SDPA backend", description="SDPA backend(s) used"),
    ResultSpec("memory_kind", kind="info", header="memory kind", description="which memory the scaling rows measure"),
    ResultSpec("baseline", kind="info", header="baseline", description="kernel the crossovers are measured against"),
    ResultSpec("best_epoch", kind="info", header="best epoch", description="epoch of the best validation F1"),
    ResultSpec("test_examples", kind="info", header="test examples", description="examples in the test split"),
    ResultSpec("attention", kind="info", header="kernel", description="attention kernel of the encoder"),
    ResultSpec("epoch", kind="info", header="epoch", description="per-step log: epoch number"),
    ResultSpec("seq_len", kind="info", header="seq len", description="per-step log: the MLM stage's sequence length"),
    ResultSpec("n_classes", kind="info", header="classes", description="classes of the data set"),
    ResultSpec("data_source", kind="info", header="data source", description="what was read: hub id or local path"),
    ResultSpec("recipe_seconds", "lower", "cost", "s", "recipe (s)",
               description="wall-clock seconds of the whole fine-tune: data, tokenizer, training, final evaluation"),
    ResultSpec("kernel_fwd_ms", "lower", "cost", "ms", "kernel fwd (ms)",
               description="the attention kernel alone at the training batch shape: median forward"),
    ResultSpec("kernel_fwd_bwd_ms", "lower", "cost", "ms", "kernel fwd+bwd (ms)",
               description="the attention kernel alone at the training batch shape: median forward+backward"),
    ResultSpec("kernel_peak_memory_bytes", "lower", "cost", "bytes", "kernel mem",
               description="peak memory of the kernel alone (which memory: kernel_memory_kind)"),
    ResultSpec("kernel_error", "lower", "quality", "", "kernel error",
               description="relative error of the kernel against exact attention on random inputs"),
    ResultSpec("kernel_shape", kind="info", header="kernel shape", description="B x H x N x head_dim measured"),
    ResultSpec("kernel_memory_kind", kind="info", header="kernel memory kind", description="which memory"),
    ResultSpec("kernel_status", kind="info", header="kernel status", description="oom when the kernel did not fit"),
)


@hookimpl
def lmbench_register_results(registry):
    """Declare the attention lab's quality and info results."""
    registry.add_all(RESULTS)
