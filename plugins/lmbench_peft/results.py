"""The results the PEFT lab's recipes and metrics return and log, declared for reports.

Cost results (``train_tokens_per_s``, ``trainable_params``, ``gen_tokens_per_s``, ``ttft_ms``
...) are the core's shared vocabulary, computed by :func:`lmbench.training.cost_results`;
``train_tokens_per_s`` counts the input tokens of the batches trained on, padding excluded
(``train_tokens_kind`` says so), over ``train_seconds``, the training phase with its evaluations.
Old result names are read as the new ones (the core declares the aliases): ``train_steps`` as
``steps``, ``train_time_s`` as ``train_seconds`` and ``stopped`` as ``stopped_by``.
"""

from __future__ import annotations

from lmbench import ResultSpec, hookimpl

RESULTS = (
    ResultSpec("chrf_pp", "higher", "quality", "", "chrF++", headline=True,
               description="corpus chrF++ of generated poems against the references (sacrebleu)"),
    ResultSpec("val_loss", "lower", "quality", "nats/token", "val loss", headline=True,
               description="loss on poem tokens of the validation split"),
    ResultSpec("val_ppl", "lower", "quality", "", "val ppl", description="validation perplexity"),
    ResultSpec("val_loss_delta", "lower", "quality", "nats/token", "val loss Δ", headline=True,
               description="validation loss after training minus before"),
    ResultSpec("chrf", "higher", "quality", "", "chrF", description="corpus chrF (no word n-grams)"),
    ResultSpec("test_chrf_pp_ceiling", kind="info", header="chrF++ ceiling",
               description="chrF++ of each test reference's own first max_new_tokens tokens against the whole "
                           "reference: what a perfect generator of that length would score"),
    ResultSpec("base_chrf_pp", "higher", "quality", "", "base chrF++",
               description="chrF++ of the base model (adapter off) on the same prompts and sampling"),
    ResultSpec("best_vs_greedy_p", kind="info", header="p vs greedy",
               description="sacrebleu paired bootstrap p-value of the selected sampling against greedy decoding"),
    ResultSpec("chrf_pp_vs_base_p", kind="info", header="p vs base",
               description="sacrebleu paired bootstrap p-value of tuned against base chrF++ (same prompts)"),
    ResultSpec("chrf_pp_mean", "higher", "quality", "", "chrF++ mean", description="mean per-poem chrF++"),
    ResultSpec("chrf_mean", "higher", "quality", "", "chrF mean", description="mean per-poem chrF"),
    ResultSpec("greedy_chrf_pp", "higher", "quality", "", "greedy chrF++",
               description="chrF++ of greedy decoding, beside the searched sampling"),
    ResultSpec("best_val_loss", "lower", "quality", "nats/token", "best val loss",
               description="lowest validation loss seen during training"),
    ResultSpec("train_loss", "lower", "quality", "nats/token", "train loss", description="per-step log: training loss"),
    ResultSpec("val_loss_base", kind="info", unit="nats/token", header="val loss before",
               description="validation loss of the base model, before training"),
    ResultSpec("val_ppl_base", kind="info", header="val ppl before", description="base model's validation perplexity"),
    ResultSpec("trainable_percent", "none", "cost", "%", "trainable %", description="trainable share of parameters"),
    ResultSpec("method", kind="info", header="method", description="adaptation method (ia3, lora, full)"),
    ResultSpec("train_examples", kind="info", header="train examples", description="examples trained on"),
    ResultSpec("epoch_end", kind="info", header="epoch",
               description="per-step log: epochs done when the validation loss was measured"),
)


@hookimpl
def lmbench_register_results(registry):
    """Declare the PEFT lab's quality and info results."""
    registry.add_all(RESULTS)
