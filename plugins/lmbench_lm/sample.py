"""The ``lm.generate`` recipe: sample from a model trained by an earlier ``lm.train`` run.

``from_run`` names a run in the same store (its id or a unique prefix); the recipe rebuilds that
run's dataset, tokenizer and model from its stored spec, loads its ``best`` checkpoint (else
``last``), and writes a table of samples (prompt x temperature) plus generation timing
(TTFT, per-token latency, tokens/s at batch 1 and ``gen_batch_size``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from lmbench import ConfigError, Run

from .contracts import GENERATE_REQUIRES
from .decoding import decoder_for
from .report import generation_report, sample_rows


@dataclass
class GenerateConfig:
    """Options of ``lm.generate`` (the ``[recipe]`` table)."""

    from_run: str = ""
    sample_prompts: list[str] = field(default_factory=lambda: ["\n"])
    sample_temperatures: list[float] = field(default_factory=lambda: [0.0, 0.8, 1.0])
    sample_tokens: int = 200  # max new tokens per sample
    top_k: int = 0
    top_p: float = 1.0
    gen_tokens: int = 64  # 0 = skip the latency measurement
    gen_prompt_len: int = 16
    gen_batch_size: int = 8
    gen_repeats: int = 3
    dtype: str = "auto"  # auto (bf16 on CUDA) | bf16 | fp32

    def __post_init__(self) -> None:
        if not self.from_run:
            raise ValueError("set recipe.from_run=<id of an lm.train run in this store> (see `lmbench list runs`)")


class Generate:
    """Recipe ``lm.generate``: samples and generation latency of a trained ``lm.train`` run."""

    Config = GenerateConfig
    requires = GENERATE_REQUIRES

    def __init__(self, config: GenerateConfig):
        self.config = config

    def run(self, run: Run) -> dict[str, Any]:
        """Rebuild the source run's components, load its weights, sample and time generation."""
        c = self.config
        source = run.stored_run(c.from_run)
        if source.recipe != "lm.train":
            raise ConfigError(f"run {source.id} is not an lm.train run; give one that trained a model")
        dataset = source.build("dataset")
        key = dataset.key() if hasattr(dataset, "key") else str(source.spec.get("dataset"))
        tokenizer = source.build("tokenizer", texts=dataset.documents("train"), texts_fingerprint=key)
        kernel = {"attention": source.build("attention")} if source.has("attention") else {}
        model = source.build("model", vocab_size=tokenizer.vocab_size, **kernel)
        path = source.checkpoint_path("best", "last")
        model.load_state_dict(source.load_checkpoint(path.stem)["model"])
        model = decoder_for(model)  # a model without step() generates by recomputation
        model.to(run.device)
        bf16 = c.dtype == "bf16" or (c.dtype == "auto" and run.device.startswith("cuda"))
        autocast = torch.autocast(run.device.split(":")[0], dtype=torch.bfloat16) if bf16 else None
        rows = sample_rows(model, tokenizer, c, run.device, run.seed, autocast)
        run.record("samples", {"rows": rows})
        results: dict[str, Any] = {"samples": len(rows), "source_run": source.id, "checkpoint": path.stem}
        if c.gen_tokens > 0:
            gen = generation_report(model, tokenizer, c, run.device, autocast)
            run.record("generation", {"rows": gen})
            results.update({"gen_tokens_per_s": gen[0]["gen_tokens_per_s"], "ttft_ms": gen[0]["ttft_ms"],
                            "per_token_ms": gen[0]["per_token_ms"], "decode_path": gen[0]["decode_path"]})
            if len(gen) > 1:
                results[f"gen_tokens_per_s_b{gen[1]['batch_size']}"] = gen[1]["gen_tokens_per_s"]
        return results
