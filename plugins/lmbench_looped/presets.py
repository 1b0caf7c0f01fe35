"""Presets of the looped lab (spec dicts; see README.md for budgets and measured numbers)."""

from __future__ import annotations

#: d = 4 on a CPU: vanilla GPT-2 vs Universal Transformer vs looped transformer, same width.
COMPARE = {
    "description": "in-context linear regression at d=4 on CPU: gpt2 (4 layers) vs universal (1 block x 8, "
                   "Yang et al.'s form; universal-plain: ours) vs looped (1 layer, b=8, T=6, LayerNorm in the loop "
                   "as Yang et al.; looped-ln-outside: ours), width 64, 4000 steps each",
    "dataset": {"name": "looped.linreg", "n_dims": 4, "n_points": 12, "dims_start": 2, "points_start": 5,
                "dims_step": 1, "points_step": 2, "curriculum_every": 150},
    "model": {"name": "looped.gpt2", "n_layers": 4, "d_model": 64, "n_heads": 4},
    "recipe": {"name": "looped.train", "max_steps": 4000, "batch_size": 64, "lr": 1e-3, "min_lr": 1e-4, "warmup": 100,
               "schedule": "cosine", "eval_prompts": 1280, "log_every": 50, "eval_every": 500},
    "run": {"seed": 0},
    "variants": [
        {"label": "gpt2", "set": {"model.name": "looped.gpt2", "model.n_layers": 4, "model.d_model": 64,
                                  "model.n_heads": 4}},
        # Yang et al.'s baseline: the backbone looped, positions re-added and LayerNorm on every application
        {"label": "universal", "set": {"model.name": "looped.universal", "model.n_layers": 8, "model.d_model": 64,
                                       "model.n_heads": 4}},
        # ours: the positions added once and LayerNorm once, before the read-out (the plain weight-shared stack)
        {"label": "universal-plain", "set": {"model.name": "looped.universal", "model.n_layers": 8,
                                             "model.d_model": 64, "model.n_heads": 4,
                                             "model.positions_each_loop": False, "model.loop_norm": False}},
        # Yang et al.: the final LayerNorm inside the loop (their backbone, ln_f included, is the looped function)
        {"label": "looped", "set": {"model.name": "looped.looped", "model.n_block_layers": 1, "model.loops": 8,
                                    "model.grad_loops": 6, "model.d_model": 64, "model.n_heads": 4,
                                    "model.loop_norm": True}},
        # ours: the final LayerNorm once, before the read-out
        {"label": "looped-ln-outside", "set": {"model.name": "looped.looped", "model.n_block_layers": 1,
                                               "model.loops": 8, "model.grad_loops": 6, "model.d_model": 64,
                                               "model.n_heads": 4, "model.loop_norm": False}},
    ],
}

#: d = 4 on CPU: the loop curriculum and the A->B chain against one looped block at fixed b.
LOOPS = {
    "description": "in-context linear regression at d=4 on CPU: one looped block (1 layer, b=8, T=5) trained "
                   "at b=8 throughout, with the loop curriculum 5 -> 8 (+2 every 150 steps), and A->B (blocks A and B "
                   "alternating as seed 004; a_then_b: A 4 loops then B 4), LayerNorm in each loop, width 64, "
                   "1500 steps each",
    "dataset": {"name": "looped.linreg", "n_dims": 4, "n_points": 12, "dims_start": 2, "points_start": 5,
                "dims_step": 1, "points_step": 2, "curriculum_every": 150},
    "model": {"name": "looped.looped", "n_block_layers": 1, "loops": 8, "grad_loops": 5, "d_model": 64,
              "n_heads": 4, "loop_norm": True},  # Yang et al.: the final LayerNorm inside the loop
    "recipe": {"name": "looped.train", "max_steps": 1500, "batch_size": 64, "lr": 1e-3, "min_lr": 1e-4, "warmup": 100,
               "schedule": "cosine", "eval_prompts": 1280, "log_every": 50, "eval_every": 500},
    "run": {"seed": 0},
    "variants": [
        {"label": "fixed", "set": {"model.name": "looped.looped", "model.loops": 8, "model.grad_loops": 5,
                                   "model.loops_start": 0}},
        {"label": "loop_curriculum", "set": {"model.name": "looped.looped", "model.loops": 8, "model.grad_loops": 5,
                                             "model.loops_start": 5, "model.loops_step": 2,
                                             "model.loops_every": 150}},
        {"label": "a_to_b", "set": {"model.name": "looped.chained", "model.n_block_layers": 1, "model.loops": 8,
                                    "model.grad_loops": 5, "model.loops_a": 4, "model.d_model": 64,
                                    "model.n_heads": 4, "model.loop_norm": True,
                                    "model.order": "alternate"}},  # A, B, A, B: seed 004
        {"label": "a_then_b", "set": {"model.name": "looped.chained", "model.n_block_layers": 1, "model.loops": 8,
                                      "model.grad_loops": 5, "model.loops_a": 4, "model.d_model": 64,
                                      "model.n_heads": 4, "model.loop_norm": True,
                                      "model.order": "sequential"}},  # ours: A 4 loops, then B
    ],
}

#: The setting of Yang et al. 2023 for linear regression (GPU sized), from their released training script:
#: d = 20, n = 41, b = 30, T = 15, loop curriculum T -> b (+2 loops every 500 steps), LayerNorm in each loop.
PAPER = {
    "description": "Yang et al. 2023 linear regression on GPU: d=20, n=41 with curriculum; looped (1 layer, b=30, "
                   "T=15, loops 15 -> 30 by +2 every 500 steps, final LayerNorm inside each loop: the b, T and "
                   "loop schedule of the authors' released linear-regression script) vs gpt2 (12 layers); width "
                   "256, 8 heads, batch 64, lr 1e-4, 50k steps (their 500k, so the d/n curriculum steps every "
                   "2000 steps instead of 5000)",
    "dataset": {"name": "looped.linreg", "n_dims": 20, "n_points": 41, "dims_start": 5, "points_start": 11,
                "dims_step": 1, "points_step": 2, "curriculum_every": 2000},
    "model": {"name": "looped.looped", "n_block_layers": 1, "loops": 30, "grad_loops": 15, "d_model": 256,
              "n_heads": 8, "loops_start": 15, "loops_step": 2, "loops_every": 500, "loop_norm": True},
    "recipe": {"name": "looped.train", "max_steps": 50000, "batch_size": 64, "lr": 1e-4, "min_lr": 1e-5, "warmup": 500,
               "schedule": "constant", "eval_prompts": 1280, "log_every": 100, "eval_every": 2000},
    "run": {"seed": 0},
    "variants": [
        {"label": "looped", "set": {"model.name": "looped.looped", "model.n_block_layers": 1, "model.loops": 30,
                                    "model.grad_loops": 15, "model.d_model": 256, "model.n_heads": 8}},
        {"label": "gpt2", "set": {"model.name": "looped.gpt2", "model.n_layers": 12, "model.d_model": 256,
                                  "model.n_heads": 8}},
    ],
}
