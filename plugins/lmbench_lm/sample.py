"""The ``lm.generate`` recipe: sample from a model trained by an earlier ``lm.train`` run.

``from_run`` names a run in the same store (its id or a unique prefix); the recipe rebuilds that
run's dataset, tokenizer and model from its stored spec, loads its ``best`` checkpoint (else
``last``), and writes a table of samples (prompt x temperature) plus generation timing
(TTFT, per-token latency, tokens/s at batch 1 and ``gen_batch_size``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lmbench.checkpoint import load_checked
from lmbench.config import resolve
from lmbench.errors import ConfigError, LmbenchError

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

    def __init__(self, config: GenerateConfig):
        self.config = config

    def _source(self, run: Any) -> tuple[dict[str, Any], Path]:
        if run.store is None:
            raise LmbenchError("lm.generate needs the results store (run it on rank 0)")
        matches = [r for r in run.store.runs() if r.id.startswith(self.config.from_run)]
        if len(matches) != 1:
            raise ConfigError(f"recipe.from_run='{self.config.from_run}' matches {len(matches)} runs in this store; "
                              "give the full run id of an lm.train run")
        record = matches[0]
        if record.spec.get("recipe", {}).get("name") != "lm.train":
            raise ConfigError(f"run {record.id} is not an lm.train run; give one that trained a model")
        return record.spec, Path(record.run_dir)

    def run(self, run: Any) -> dict[str, Any]:
        """Rebuild the source run's components, load its weights, sample and time generation."""
        c = self.config
        spec, run_dir = self._source(run)
        resolved = resolve({k: v for k, v in spec.items() if k != "preset"}, run.host.registries)
        dataset = resolved.components["dataset"].build()
        key = dataset.key() if hasattr(dataset, "key") else str(spec.get("dataset"))
        tokenizer = resolved.components["tokenizer"].build(texts=dataset.documents("train"), texts_fingerprint=key)
        attention = resolved.components["attention"].build() if "attention" in resolved.components else None
        model = resolved.components["model"].build(vocab_size=tokenizer.vocab_size, attention=attention)
        path = next((p for p in (run_dir / "checkpoints" / "best.pt", run_dir / "checkpoints" / "last.pt")
                     if p.exists()), None)
        if path is None:
            raise LmbenchError(f"run {run_dir.name} has no checkpoint under {run_dir / 'checkpoints'}; train it first")
        model.load_state_dict(load_checked(path)["model"])
        model.to(run.device)
        bf16 = c.dtype == "bf16" or (c.dtype == "auto" and run.device.startswith("cuda"))
        autocast = torch.autocast(run.device.split(":")[0], dtype=torch.bfloat16) if bf16 else None
        rows = sample_rows(model, tokenizer, c, run.device, run.seed, autocast)
        run.record("samples", {"rows": rows})
        results: dict[str, Any] = {"samples": len(rows), "source_run": run_dir.name, "checkpoint": path.stem}
        if c.gen_tokens > 0:
            gen = generation_report(model, tokenizer, c, run.device, autocast)
            run.record("generation", {"rows": gen})
            results.update({"gen_tokens_per_s": gen[0]["gen_tokens_per_s"], "ttft_ms": gen[0]["ttft_ms"],
                            "per_token_ms": gen[0]["per_token_ms"], "decode_path": gen[0]["decode_path"]})
            if len(gen) > 1:
                results[f"gen_tokens_per_s_b{gen[1]['batch_size']}"] = gen[1]["gen_tokens_per_s"]
        return results
