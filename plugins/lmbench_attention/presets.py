"""Presets of the attention lab: plain dicts (no imports), registered as ``attention.<name>``.

``attention.sdpa|favor|lsh|naive``: fine-tune a small encoder on IMDB (CPU-sized: minutes),
with that attention kernel. The IMDB folder comes from ``--set dataset.path=DIR`` or
``$LMBENCH_DATA/imdb``. ``--dataset arxiv|hyperpartisan|bbc|jsonl`` swaps the data set. The
fine-tuning ``time_limit`` (14 minutes) covers the whole recipe: data, tokenizer, training and the
final evaluation, for which training stops with an explicit reserve left (30 s plus the estimated
validation and test passes, see ``attention.finetune``), so
``lmbench run --plugin attention.lsh --dataset arxiv`` ends within 15 minutes on a 2-core CPU.
``recipe.budget`` (the training phase alone, as in every lab) can cap training further.
Grid presets hold ``variants`` (one run each); ``attention.scaling`` is the kernel benchmark.
"""

from __future__ import annotations

import copy
import itertools

#: The CPU-sized encoder: 2 layers, 128 hidden, 4 heads of 32, mean pooling (BERT-small is the model default).
CPU_MODEL = {"name": "attention.encoder", "d_model": 128, "n_layers": 2, "n_heads": 4, "d_ff": 512, "max_len": 256,
             "positions": "learned", "pooling": "mean", "pooler": "none", "dropout": 0.1, "embed_dropout": 0.1,
             "classifier_dropout": 0.1}

FINETUNE = {
    "dataset": {"name": "attention.imdb", "max_train_examples": 12000, "max_test_examples": 4000},
    "tokenizer": {"name": "attention.wordpiece", "vocab_size": 8000},
    "model": CPU_MODEL,
    "attention": {"name": "attention.sdpa"},
    "recipe": {"name": "attention.finetune", "max_seq_len": 256, "tokens_per_batch": 8192, "epochs": 2, "lr": 1e-3,
               "warmup": 0.06, "min_lr": 1e-4, "weight_decay": 0.01, "time_limit": "14m"},
    "metrics": {"name": ["attention.f1_macro", "attention.accuracy"]},
    "run": {"seed": 0},
}

KERNELS = {
    "sdpa": {"name": "attention.sdpa"},
    "naive": {"name": "attention.naive"},
    "favor": {"name": "attention.favor", "n_features": 1.0, "feature_map": "exp", "redraw_interval": 0},
    "lsh": {"name": "attention.lsh", "n_hashes": 2, "chunk_size": 64},
}


def _with(base: dict, **tables) -> dict:
    spec = copy.deepcopy(base)
    for table, value in tables.items():
        spec[table] = value
    return spec


PRESETS: dict[str, dict] = {}

for _kernel, _table in KERNELS.items():
    PRESETS[_kernel] = _with(FINETUNE, attention=dict(_table), description=(
        f"fine-tune a 2-layer encoder with {_table['name']} attention on IMDB (CPU, minutes; "
        f"F1-macro/accuracy on a seeded 4,000-review test subsample)"))

PRESETS["compare"] = _with(FINETUNE, description="the four kernels side by side on IMDB fine-tuning",
                           variants=[{"label": k, "set": {f"attention.{o}": v for o, v in t.items()}}
                                     for k, t in KERNELS.items()])

PRESETS["grid_finetune"] = _with(FINETUNE, description=(
    "fine-tuning grid: freeze {0,1,2} x classifier dropout {0.1,0.2} x pooling {cls,mean} "
    "(set recipe.init_from=RUN_DIR of an attention.pretrain/tapt run so freezing keeps pretrained layers)"),
    variants=[{"label": f"freeze{f}-drop{d}-{p}",
               "set": {"recipe.freeze_layers": f, "model.classifier_dropout": d, "model.pooling": p}}
              for f, d, p in itertools.product((0, 1, 2), (0.1, 0.2), ("cls", "mean"))])

PRESETS["grid_lsh"] = _with(FINETUNE, attention=dict(KERNELS["lsh"]),
                            description="LSH grid on IMDB: n_hashes {2,4} x chunk_size {64,128}",
                            variants=[{"label": f"lsh-h{h}-c{c}", "set": {"attention.n_hashes": h,
                                                                         "attention.chunk_size": c}}
                                      for h, c in itertools.product((2, 4), (64, 128))])

PRESETS["grid_favor"] = _with(FINETUNE, attention=dict(KERNELS["favor"]),
                              description="FAVOR+ grid on IMDB: n_features {0.125,0.25,0.5,1.0} x head_dim",
                              variants=[{"label": f"favor-m{m}", "set": {"attention.n_features": m}}
                                        for m in (0.125, 0.25, 0.5, 1.0)])

PRESETS["pretrain"] = {
    "description": "MLM pretraining of the CPU-sized encoder on IMDB's unlabelled reviews (75% steps at 128, 25% at 256)",
    "dataset": {"name": "attention.imdb"},
    "tokenizer": {"name": "attention.wordpiece", "vocab_size": 8000, "max_train_texts": 30000},
    "model": CPU_MODEL,
    "attention": {"name": "attention.sdpa"},
    "recipe": {"name": "attention.mlm", "max_steps": 600, "seq_lens": [128, 256], "seq_len_fractions": [0.75, 0.25],
               "tokens_per_batch": 8192, "max_texts": 40000, "budget": "15m"},
    "run": {"seed": 0},
}

PRESETS["tapt"] = _with(PRESETS["pretrain"], description=(
    "task-adaptive MLM on the target set's text; set recipe.init_from=RUN_DIR of an attention.pretrain run"),
    recipe={"name": "attention.tapt", "max_steps": 300, "seq_lens": [256], "seq_len_fractions": [1.0],
            "tokens_per_batch": 8192, "budget": "10m"})

#: Seed lab 001's experiment 3: AutoTinyBERT-S1 (Yin et al. 2021's searched sub-model: 5 layers, hidden 564,
#: FFN 1054, 8 heads whose query/key/value width is 512 = 8 x 64, not the hidden size), BERT's post-LN
#: layout, 512 learned positions, CLS pooling through BERT's pooler, a 30,522-token WordPiece vocabulary.
AUTOTINYBERT_S1 = {"name": "attention.encoder", "d_model": 564, "n_layers": 5, "n_heads": 8, "head_dim": 64,
                   "d_ff": 1054, "max_len": 512, "positions": "learned", "prenorm": False, "pooling": "cls",
                   "pooler": "bert", "dropout": 0.1, "embed_dropout": 0.1, "classifier_dropout": 0.1}

PRESETS["autotinybert_s1"] = _with(
    FINETUNE, model=dict(AUTOTINYBERT_S1),
    tokenizer={"name": "attention.wordpiece", "vocab_size": 30522},
    recipe={**FINETUNE["recipe"], "max_seq_len": 512, "lr": 1e-4, "min_lr": 1e-5},
    description=("seed 001's experiment 3: AutoTinyBERT-S1 (5 x 564, FFN 1054, 8 heads of 64: attention width "
                 "512; 29.6M parameters) fine-tuned on IMDB with SDPA, FAVOR+ and LSH attention (GPU-sized; "
                 "--dataset arxiv|hyperpartisan swaps the task)"),
    variants=[{"label": k, "set": {f"attention.{o}": v for o, v in KERNELS[k].items()}}
              for k in ("sdpa", "favor", "lsh")])

PRESETS["scaling"] = {
    "description": "kernel scaling: time/memory/TFLOP/s/error of naive, sdpa, favor, lsh for N = 512..16384",
    "recipe": {"name": "attention.scaling", "seq_lens": [512, 1024, 2048, 4096, 8192, 16384], "batch_size": 1,
               "n_heads": 1, "head_dim": 64,
               "kernel_options": {"attention.favor": {"n_features": 1.0}, "attention.lsh": {"chunk_size": 64,
                                                                                               "n_hashes": 2}}},
    "run": {"seed": 0},
}
