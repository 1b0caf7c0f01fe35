"""What the attention lab's recipes need of each component, declared (no torch here).

``attention.finetune`` reads a :class:`lmbench.components.LabelledSet`, an :class:`EncoderTokenizer`
and an :class:`lmbench.components.EncoderClassifier`, with any attention kernel that takes padding
masks and trains; ``attention.mlm`` / ``attention.tapt`` read the same data and tokenizer and an
:class:`EncoderMLM`; ``attention.scaling`` builds the kernels its ``recipe.kernels`` names. See
docs/plugins.md and this lab's README.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from lmbench import CLASS_LABEL, AttentionKernel, EncoderClassifier, LabelledSet, Needs, Requires


@runtime_checkable
class EncoderTokenizer(Protocol):
    """The tokenizer of the encoder recipes, built as ``factory(config, texts=<training texts>)``.

    ``batch(texts, max_len) -> list[list[int]]`` (special tokens added, truncated to ``max_len``),
    ``vocab_size``, ``pad_id``, ``save(folder)``; the MLM recipes also read ``hf`` (a
    ``transformers`` fast tokenizer with a mask token, for ``DataCollatorForLanguageModeling``).
    """

    vocab_size: int
    pad_id: int

    def batch(self, texts: list[str], max_len: int) -> list[list[int]]:
        """Token ids of each text, truncated to ``max_len``."""
        ...

    def save(self, folder: Any) -> None:
        """Write the tokenizer so a later recipe can load it (``init_from``)."""
        ...


@runtime_checkable
class EncoderMLM(Protocol):
    """The model of ``attention.mlm`` / ``attention.tapt`` (built with ``task="mlm"``):
    ``model(input_ids, attention_mask, labels) -> (loss or None, logits)``; ``encoder`` is the body."""

    encoder: Any

    def __call__(self, input_ids: Any, attention_mask: Any = None, labels: Any = None) -> Any:
        """(loss or None, logits)."""
        ...


_KERNEL = Needs(AttentionKernel, required=False, capabilities={"padding_mask": True, "backward": True})
_MODEL_DEPS = ("vocab_size", "attention", "task", "pad_id", "dtype")  # attention: a kernel or None

#: ``attention.finetune``: labelled set, tokenizer (unless ``init_from`` brings one), encoder
#: classifier, optional kernel; computes the spec's class-label metrics on the test split.
FINETUNE_REQUIRES = Requires(
    tables={"dataset": Needs(LabelledSet), "tokenizer": Needs(EncoderTokenizer, deps=("texts",), required=False),
            "model": Needs(EncoderClassifier, deps=(*_MODEL_DEPS, "n_classes")),
            "attention": _KERNEL},
    feeds=(CLASS_LABEL,),
)

#: ``attention.mlm`` / ``attention.tapt``: the set's unlabelled text (``dataset.unlabeled()``).
MLM_REQUIRES = Requires(
    tables={"dataset": Needs(LabelledSet), "tokenizer": Needs(EncoderTokenizer, deps=("texts",), required=False),
            "model": Needs(EncoderMLM, deps=_MODEL_DEPS), "attention": _KERNEL},
    feeds=(),
)

#: ``attention.scaling``: kernels come from ``recipe.kernels`` (any registered kernel), not the spec.
SCALING_REQUIRES = Requires(tables={}, feeds=())
