"""Presets of the PEFT lab (spec dicts), CPU-sized: a short budget, short poems, few samples.

The default poem set is ``$LMBENCH_DATA/poetry/english_pd.jsonl.gz`` (English public-domain poems,
the language of SmolLM2), authors with at least 20 poems, poems of at most 200 tokens, 160 of them
split 112 train / 24 validation / 24 test by poem (seed 0). ``--set dataset.corpus=pushkin`` is the
lab's original Russian set; ``--set dataset.path=FILE`` any file of the same shape. For a GPU, raise
``recipe.budget``, ``dataset.max_tokens`` (600), ``dataset.max_poems`` (0 = all),
``recipe.eval_poems`` (0 = all) and ``recipe.sampling.max_new_tokens`` (400).
"""

from __future__ import annotations

import copy

#: English poems of authors with >= 20 poems, <= 200 tokens; 160 of them: 112 train / 24 val / 24 test.
_DATASET = {"name": "peft.poetry", "corpus": "english", "min_author_poems": 20, "max_tokens": 200,
            "max_poems": 160}
#: 8 optimizer steps of 4 poems (32 poems, ~5k tokens) or 10 minutes of training (its evaluations included),
#: whichever comes first.
_TRAIN = {"name": "peft.train", "max_steps": 8, "budget": "10m", "grad_accum": 4, "warmup": 2,
          "schedule": "constant", "eval_poems": 12, "samples": 2, "sampling": {"max_new_tokens": 48}}

IA3 = {
    "description": "SmolLM2-135M-Instruct + IA3 (k, v, down_proj) on English poems, 8 steps x 4 poems on CPU: "
                   "val loss before/after",
    "dataset": dict(_DATASET),
    "model": {"name": "peft.ia3", "base": "smollm2"},
    "recipe": {**copy.deepcopy(_TRAIN), "lr": 3e-3},
    "run": {"seed": 0, "threads": 1},
}

LORA = {
    "description": "SmolLM2-135M-Instruct + LoRA r=8 (q, k, v, o) on English poems, 8 steps x 4 poems on CPU: "
                   "val loss before/after",
    "dataset": dict(_DATASET),
    "model": {"name": "peft.lora", "base": "smollm2", "r": 8, "alpha": 16.0, "dropout": 0.05},
    "recipe": {**copy.deepcopy(_TRAIN), "lr": 1e-3},
    "run": {"seed": 0, "threads": 1},
}

FULL = {
    "description": "SmolLM2-135M-Instruct, full fine-tuning baseline on English poems, 8 steps x 4 poems on CPU",
    "dataset": dict(_DATASET),
    "model": {"name": "peft.full", "base": "smollm2"},
    "recipe": {**copy.deepcopy(_TRAIN), "lr": 5e-5, "save": False},
    "run": {"seed": 0, "threads": 1},
}

COMPARE = {
    "description": "IA3 vs LoRA vs full fine-tuning of SmolLM2-135M on English poems, same budget (8 steps x 4 poems)",
    "dataset": dict(_DATASET),
    "model": {"name": "peft.ia3", "base": "smollm2"},
    "recipe": copy.deepcopy(_TRAIN),
    "run": {"seed": 0, "threads": 1},
    "variants": [
        {"label": "ia3", "set": {"model.name": "peft.ia3", "recipe.lr": 3e-3}},
        {"label": "lora", "set": {"model.name": "peft.lora", "recipe.lr": 1e-3}},
        {"label": "full", "set": {"model.name": "peft.full", "recipe.lr": 5e-5, "recipe.save": False}},
    ],
}

SEARCH = {
    "description": "Optuna TPE over sampling parameters of SmolLM2-135M-Instruct (no fine-tuning): chosen by chrF++ "
                   "on 3 validation poems x 6 trials, scored on 12 held-out test poems, 32 tokens each (ceiling "
                   "reported beside the score), on CPU",
    "dataset": dict(_DATASET),
    "model": {"name": "peft.base", "base": "smollm2"},
    "recipe": {"name": "peft.search", "n_trials": 6, "n_prompts": 3, "n_test_prompts": 12, "max_new_tokens": 32},
    "run": {"seed": 0, "threads": 1},
}

#: Seed 003's search on a GPU: 15 configurations of 10 prompts each, poems generated up to 400 tokens
#: (the CPU preset generates 32), top_k / top_p / repetition_penalty / temperature / no_repeat_ngram_size.
SEARCH_GPU = {
    "description": "seed 003's sampling search on a GPU: 15 trials x 10 validation poems, up to 400 new tokens, "
                   "scored on the whole test split with its chrF++ ceiling at that length",
    "dataset": {**_DATASET, "max_tokens": 600, "max_poems": 0},
    "model": {"name": "peft.base", "base": "smollm2"},
    "recipe": {"name": "peft.search", "n_trials": 15, "n_prompts": 10, "n_test_prompts": 0, "max_new_tokens": 400},
    "run": {"seed": 0},
}
