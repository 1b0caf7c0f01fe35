"""Poem generation with transformers' ``generate`` (HF KV cache), timed token by token.

Strategies: ``sample`` (``top_k``, ``top_p``, ``temperature``, ``repetition_penalty``,
``no_repeat_ngram_size``), ``greedy`` and ``beam`` (``num_beams``). Generation stops at EOS,
at the poem marker (the model starting another poem), or after ``max_new_tokens`` (400). A
streamer timestamps every token, giving time to first token (prompt processing + first token),
per-token latency (mean gap between later tokens) and generated tokens/s. Beam search cannot
stream, so it reports total time only. A prompt that does not fit the context with
``max_new_tokens`` keeps its last tokens and logs a warning.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

log = logging.getLogger("lmbench.peft")


@dataclass
class SamplingConfig:
    """How poems are decoded; the fields ``peft.search`` tunes are the sampling ones."""

    strategy: Literal["sample", "greedy", "beam"] = "sample"
    temperature: float = 0.8
    top_k: int = 50  # 0 = off
    top_p: float = 0.95  # 1.0 = off
    repetition_penalty: float = 1.1  # 1.0 = off
    no_repeat_ngram_size: int = 0  # 0 = off
    max_new_tokens: int = 400
    num_beams: int = 4  # beam only

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0 (use strategy=greedy for argmax decoding)")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``model.generate``."""
        common: dict[str, Any] = {"max_new_tokens": self.max_new_tokens,
                                  "repetition_penalty": self.repetition_penalty,
                                  "no_repeat_ngram_size": self.no_repeat_ngram_size}
        if self.strategy == "greedy":
            return {**common, "do_sample": False, "num_beams": 1}
        if self.strategy == "beam":
            return {**common, "do_sample": False, "num_beams": self.num_beams, "early_stopping": True}
        return {**common, "do_sample": True, "temperature": self.temperature, "top_k": self.top_k,
                "top_p": self.top_p, "num_beams": 1}


@dataclass
class GenResult:
    """One generated poem and its timing (seconds; NaN where not measurable, e.g. beam search)."""

    text: str
    new_tokens: int
    total_s: float
    ttft_s: float = math.nan
    per_token_s: float = math.nan
    prompt_tokens: int = 0
    prompt_truncated: bool = False
    stopped_by: str = "length"  # eos | marker | length

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second over the whole call (prompt processing included)."""
        return self.new_tokens / self.total_s if self.total_s > 0 else math.nan


class _TimingStreamer:
    """Records the wall-clock time of each token ``generate`` emits (the first put is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._seen_prompt = False

    def put(self, value: Any) -> None:
        if not self._seen_prompt:
            self._seen_prompt = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def _stopping(tokenizer: Any, marker: str, prompt_len: int) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    window = len(tokenizer.encode(marker, add_special_tokens=False)) + 4

    class MarkerStop(StoppingCriteria):
        """Stop once the generated text contains the poem marker."""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            done = [marker in tokenizer.decode(row[max(prompt_len, row.shape[0] - window):])
                    for row in input_ids]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([MarkerStop()])


def fit_prompt(prompt_ids: list[int], context: int, max_new_tokens: int) -> tuple[list[int], int, bool]:
    """Trim ``prompt_ids`` from the left so prompt + new tokens fit ``context``.

    Returns ``(prompt_ids, max_new_tokens, truncated)``; new tokens are capped at half the context.
    """
    max_new = min(max_new_tokens, max(1, context // 2))
    room = context - max_new
    if len(prompt_ids) > room:
        return prompt_ids[-room:], max_new, True
    return prompt_ids, max_new, False


def generate_poem(model: Any, tokenizer: Any, prompt_ids: list[int], sampling: SamplingConfig, *,
                  marker: str = "", seed: int = 0, device: str = "cpu") -> GenResult:
    """Generate one poem after ``prompt_ids``; time the first token and the following ones."""
    import torch

    context = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
    ids, max_new, truncated = fit_prompt(list(prompt_ids), context, sampling.max_new_tokens)
    if truncated:
        log.warning("prompt of %d tokens does not fit the context of %d with %d new tokens: kept its last %d",
                    len(prompt_ids), context, max_new, len(ids))
    input_ids = torch.tensor([ids], dtype=torch.long, device=device)  # (1, T)
    kwargs = sampling.generate_kwargs()
    kwargs["max_new_tokens"] = max_new
    streamer = _TimingStreamer() if sampling.strategy != "beam" else None
    stopping = _stopping(tokenizer, marker, len(ids)) if marker else None
    torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                             streamer=streamer, stopping_criteria=stopping, **kwargs)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    if was_training:
        model.train()
    new = out[0, len(ids):].tolist()
    stopped_by = "length"
    if tokenizer.eos_token_id in new:
        new = new[: new.index(tokenizer.eos_token_id)]
        stopped_by = "eos"
    text = tokenizer.decode(new, skip_special_tokens=True)
    if marker and marker in text:
        text = text.split(marker, 1)[0]
        stopped_by = "marker"
    result = GenResult(text=text.strip(), new_tokens=len(out[0]) - len(ids), total_s=total,
                       prompt_tokens=len(ids), prompt_truncated=truncated, stopped_by=stopped_by)
    if streamer is not None and streamer.times:
        result.ttft_s = streamer.times[0] - start
        gaps = len(streamer.times) - 1
        if gaps > 0:
            result.per_token_s = (streamer.times[-1] - streamer.times[0]) / gaps
    return result


@dataclass
class GenSummary:
    """Generation over several prompts: texts and aggregate timing (medians, tokens/s over all)."""

    texts: list[str] = field(default_factory=list)
    results: list[GenResult] = field(default_factory=list)

    def timing(self) -> dict[str, float]:
        """``ttft_ms``, ``per_token_ms`` (medians), ``gen_tokens_per_s`` (all generated tokens / time)."""
        import statistics

        def median(values: list[float]) -> float:
            values = [v for v in values if not math.isnan(v)]
            return statistics.median(values) if values else math.nan

        tokens = sum(r.new_tokens for r in self.results)
        seconds = sum(r.total_s for r in self.results)
        return {"ttft_ms": 1e3 * median([r.ttft_s for r in self.results]),
                "per_token_ms": 1e3 * median([r.per_token_s for r in self.results]),
                "gen_tokens_per_s": tokens / seconds if seconds > 0 else math.nan,
                "gen_tokens": float(tokens)}


def generate_many(model: Any, tokenizer: Any, prompts: list[list[int]], sampling: SamplingConfig, *,
                  marker: str = "", seed: int = 0, device: str = "cpu") -> GenSummary:
    """Generate one poem per prompt (batch 1 each, seeds ``seed + i``)."""
    summary = GenSummary()
    for i, ids in enumerate(prompts):
        result = generate_poem(model, tokenizer, ids, sampling, marker=marker, seed=seed + i, device=device)
        summary.texts.append(result.text)
        summary.results.append(result)
    return summary


def sampling_dict(sampling: SamplingConfig) -> dict[str, Any]:
    """The sampling settings as a plain dict (for records)."""
    return asdict(sampling)
