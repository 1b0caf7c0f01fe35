"""Entry point of the `peft` plugin: registers its components (lazily, without importing torch)."""

from lmbench import hookimpl

from .assets import lmbench_register_assets  # noqa: F401  (the SmolLM2 GGUF for `lmbench fetch`)
from .results import lmbench_register_results  # noqa: F401  (the lab's declared results)


@hookimpl
def lmbench_register_datasets(registry):
    """Poem sets (author, title, text) as prompt -> poem examples."""
    registry.add("poetry", "lmbench_peft.data:PoetryDataset",
                 summary="jsonl poems (author/title/text; English PD set by default), author choice, length "
                         "filter, seeded 70/15/15 train/val/test split by poem, loss on poem tokens")


@hookimpl
def lmbench_register_models(registry):
    """A pretrained causal LM, bare or wrapped by an adaptation method."""
    registry.add("base", "lmbench_peft.methods:BaseModel",
                 summary="the pretrained model, frozen, no new adapter (evaluation and sampling search only)")
    registry.add("smollm2", "lmbench_peft.methods:BaseModel",
                 summary="pretrained base (SmolLM2-135M-Instruct GGUF by default; hf:<name>, folder, .gguf), no adapter")
    registry.add("ia3", "lmbench_peft.methods:IA3Model",
                 summary="IA3 scaling vectors on k_proj, v_proj and down_proj (feed-forward) of the base")
    registry.add("lora", "lmbench_peft.methods:LoRAModel", summary="LoRA (r, alpha, dropout, target_modules) on the base")
    registry.add("full", "lmbench_peft.methods:FullModel", summary="full fine-tuning baseline (all weights trainable)")


@hookimpl
def lmbench_register_recipes(registry):
    """Fine-tuning and the sampling-parameter search."""
    registry.add("train", "lmbench_peft.train:Train",
                 summary="AdamW + warm-up, grad accumulation, val loss before/after, best adapter, chrF++ samples")
    registry.add("search", "lmbench_peft.search:Search",
                 summary="Optuna TPE over top_k/top_p/temperature/penalties: chosen by validation chrF++, "
                         "scored on the test split (resumable study)")


@hookimpl
def lmbench_register_metrics(registry):
    """chrF++ / chrF (sacrebleu)."""
    registry.add("chrf", "lmbench_peft.metrics:ChrF", summary="chrF++ and chrF (sacrebleu), corpus and per-poem mean")


@hookimpl
def lmbench_register_presets(registry):
    """CPU-sized experiments."""
    registry.add("ia3", "lmbench_peft.presets:IA3", summary="SmolLM2 + IA3 on English poems, 8 steps on CPU")
    registry.add("lora", "lmbench_peft.presets:LORA", summary="SmolLM2 + LoRA on English poems, 8 steps on CPU")
    registry.add("full", "lmbench_peft.presets:FULL", summary="SmolLM2 full fine-tuning on English poems, 8 steps on CPU")
    registry.add("compare", "lmbench_peft.presets:COMPARE", summary="IA3 vs LoRA vs full, same budget")
    registry.add("search", "lmbench_peft.presets:SEARCH", summary="sampling search on validation, chrF++ on test poems")
    registry.add("search_gpu", "lmbench_peft.presets:SEARCH_GPU",
                 summary="seed 003's search on a GPU: 15 trials x 10 poems, up to 400 tokens, with the chrF++ ceiling")
