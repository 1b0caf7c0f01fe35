"""chrF++ equals sacrebleu's command line on the same files; corpus vs per-poem mean."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lmbench_peft.metrics import ChrF, chrf_scores, flatten, to_files

HYPS = ["The moon is bright above the hill\nand rivers run", "A candle burns; the night is still.",
        "my heart is light", ""]
REFS = ["The moon was bright upon the hill\nthe river ran", "The candle burns, the night is long",
        "my road is long, my heart is light", "winter sings"]


def sacrebleu_cli(ref, hyp, *extra: str) -> float:
    out = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-m", "chrf", *extra, "-b"],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def test_chrf_pp_equals_sacrebleu_command_line(tmp_path):
    hyp, ref = to_files(HYPS, REFS, tmp_path)
    ours = chrf_scores(HYPS, REFS)
    # the exact command of the issue prints one decimal; -w 4 prints four
    assert round(ours["chrf_pp"], 1) == sacrebleu_cli(ref, hyp, "--chrf-word-order", "2")
    assert ours["chrf_pp"] == pytest.approx(sacrebleu_cli(ref, hyp, "--chrf-word-order", "2", "-w", "4"), abs=1e-4)
    assert ours["chrf"] == pytest.approx(sacrebleu_cli(ref, hyp, "-w", "4"), abs=1e-4)
    assert ours["chrf_pp"] != pytest.approx(ours["chrf"], abs=1e-6)  # word n-grams change the score


def test_chrf_pp_on_cyrillic_matches_cli(tmp_path):
    hyps = ["Я помню чудное мгновенье:\nПередо мной явилась ты", "Мороз и солнце; день чудесный!"]
    refs = ["Я помню чудное мгновенье:\nПередо мной явилась ты,\nКак мимолетное виденье", "Мороз и солнце, день ясный"]
    hyp, ref = to_files(hyps, refs, tmp_path)
    assert chrf_scores(hyps, refs)["chrf_pp"] == pytest.approx(
        sacrebleu_cli(ref, hyp, "--chrf-word-order", "2", "-w", "4"), abs=1e-4)


def test_identical_is_100_and_mean_differs_from_corpus():
    assert chrf_scores(["a poem here"], ["a poem here"])["chrf_pp"] == pytest.approx(100.0)
    scores = ChrF().compute(HYPS, REFS)
    assert set(scores) == {"chrf_pp", "chrf", "chrf_pp_mean", "chrf_mean"}
    assert scores["chrf_pp_mean"] != pytest.approx(scores["chrf_pp"], abs=1e-3)
    assert 0 <= scores["chrf_pp_mean"] <= 100


def test_flatten_and_length_mismatch():
    assert flatten(" a \n\n b\n") == "a b"
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        chrf_scores(["a", "b"], ["a"])


def test_the_ceiling_is_a_reference_prefix_scored_against_the_whole_reference():
    """A perfect generator of N tokens scores the reference's first N tokens: 100 when N covers the poem,
    less when it stops short, and exactly the chrF++ of that prefix."""
    from lmbench_peft.metrics import chrf_scores, prefix_ceiling

    refs = ["The woods are lovely, dark and deep,\nBut I have promises to keep,\nAnd miles to go before I sleep.",
            "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate."]
    encode, decode = str.split, " ".join
    assert prefix_ceiling(refs, encode, decode, 1000) == pytest.approx(100.0)
    short = prefix_ceiling(refs, encode, decode, 6)
    assert 0 < short < 60
    assert short == pytest.approx(chrf_scores([" ".join(r.split()[:6]) for r in refs], refs)["chrf_pp"])


def test_the_search_space_holds_seed_003s_best_configuration():
    """Seed 003's best: top_k 10, top_p 0.95, repetition_penalty 0.9, temperature 14.4."""
    from lmbench_peft.search import SearchConfig

    c = SearchConfig()
    best = {"top_k": 10, "top_p": 0.95, "repetition_penalty": 0.9, "temperature": 14.4, "no_repeat_ngram_size": 3}
    for name, value in best.items():
        low, high = getattr(c, name)
        assert low <= value <= high, name


def test_training_flops_per_token_split_the_6n_rule_by_what_is_trained():
    """Full fine-tuning is the 6N rule (+ 12·L·T·d); an adapter trains few weights, so its weights cost
    about 4N: forward and backward through the activations touch every weight, weight gradients only
    the trained ones."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from lmbench_peft.flops import train_flops_per_token

    config = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    body = sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel()
    attention = 12 * 2 * 16 * 32
    assert train_flops_per_token(model, 16) == 6 * body + attention  # everything trained
    for p in model.parameters():
        p.requires_grad_(False)
    model.model.layers[0].self_attn.q_proj.weight.requires_grad_(True)  # an adapter-sized trained share
    trained = model.model.layers[0].self_attn.q_proj.weight.numel()
    assert train_flops_per_token(model, 16) == 4 * body + 2 * trained + attention

