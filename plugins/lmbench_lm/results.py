"""The results the LM lab's recipes return and log, declared for reports and ``lmbench compare``.

Cost results (``train_tokens_per_s``, ``peak_memory_bytes``, ``params``, ``stopped_by``, ``mfu`` ...)
are the core's shared vocabulary (:func:`lmbench.training.cost_results`) and are not declared
again here. ``train_tokens_per_s`` counts the target tokens of every optimizer step on all ranks
(without padding in padded batching), as ``train_tokens_kind`` says.
"""

from __future__ import annotations

from lmbench import ResultSpec, hookimpl

RESULTS = (
    ResultSpec("val_loss", "lower", "quality", "nats/token", "val loss", headline=True,
               description="mean cross-entropy on the validation split"),
    ResultSpec("train_loss", "lower", "quality", "nats/token", "train loss", description="per-step log: training loss"),
    ResultSpec("val_ppl", "lower", "quality", "", "val ppl", headline=True, description="validation perplexity",
               same_as="val_loss", transform="exp"),
    ResultSpec("test_ppl", "lower", "quality", "", "test ppl", headline=True, description="test perplexity",
               same_as="test_loss", transform="exp"),
    ResultSpec("val_bits_per_byte", "lower", "quality", "bits/byte", "val bits/byte",
               description="validation loss per byte of text: comparable across tokenizers",
               same_as="val_loss", transform="linear"),
    ResultSpec("test_loss", "lower", "quality", "nats/token", "test loss", description="mean cross-entropy on test"),
    ResultSpec("test_bits_per_byte", "lower", "quality", "bits/byte", "test bits/byte",
               description="test loss per byte of text", same_as="test_loss", transform="linear"),
    ResultSpec("best_val_loss", "lower", "quality", "nats/token", "best val loss",
               description="lowest validation loss seen during training"),
    ResultSpec("best_step", kind="info", header="best step", description="step of the best validation loss"),
    ResultSpec("params_embedding", kind="info", header="embedding params", description="parameters in embeddings"),
    ResultSpec("params_body", kind="info", header="body params", description="parameters in the blocks"),
    ResultSpec("params_head", kind="info", header="head params", description="parameters in the output head"),
    ResultSpec("vocab_size", kind="info", header="vocab", description="tokenizer vocabulary size"),
    ResultSpec("hf_model", kind="info", header="HF export", description="folder of the transformers export"),
    ResultSpec("gen_tokens_per_s_b*", "higher", "cost", "tokens/s", "gen tok/s, batch *",
               description="generated tokens per second with a batch of * prompts"),
    ResultSpec("gen_tokens_per_s_p10", kind="info", unit="tokens/s", header="gen tok/s p10",
               description="10th percentile of generation throughput"),
    ResultSpec("gen_tokens_per_s_p90", kind="info", unit="tokens/s", header="gen tok/s p90",
               description="90th percentile of generation throughput"),
    ResultSpec("batch_size", kind="info", header="gen batch", description="batch size of the generation timing"),
    ResultSpec("prompt_len", kind="info", header="prompt len", description="prompt length of the generation timing"),
    ResultSpec("eval_s", "lower", "cost", "s", "eval (s)", description="per-step log: seconds of one evaluation"),
)


@hookimpl
def lmbench_register_results(registry):
    """Declare the LM lab's quality and info results."""
    registry.add_all(RESULTS)
