"""What the PEFT lab's recipes need, declared (no torch here).

``peft.train`` and ``peft.search`` build the ``[model]`` first (a pretrained causal LM with its
adapter, :class:`AdaptedLM`) and hand its tokenizer to the ``[dataset]`` (:class:`PoemSet`). The
spec's ``text`` metrics get the generated texts and their references. See docs/plugins.md.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from lmbench import TEXT, Needs, Requires


@runtime_checkable
class AdaptedLM(Protocol):
    """A ``[model]`` of the PEFT lab, built as ``factory(config, device=..., seed=...)``: a
    Hugging Face causal LM (``model(input_ids, attention_mask, labels).loss``, ``generate``) with
    ``lmbench_tokenizer`` (its tokenizer) and ``lmbench_method`` (``"ia3"``, ``"lora"``, ...)."""

    lmbench_tokenizer: Any
    lmbench_method: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The Hugging Face forward."""
        ...


@runtime_checkable
class PoemSet(Protocol):
    """A ``[dataset]`` of the PEFT lab, built as ``factory(config, tokenizer=...)``: ``train`` and
    ``val`` lists of examples (``prompt_ids``, ``text``, ...), ``config.marker`` and ``summary()``."""

    train: list[Any]
    val: list[Any]

    def summary(self) -> dict[str, Any]:
        """Counts and lengths, recorded with the run."""
        ...


TRAIN_REQUIRES = Requires(
    tables={"model": Needs(AdaptedLM, deps=("device", "seed")), "dataset": Needs(PoemSet, deps=("tokenizer",))},
    feeds=(TEXT,),
)
#: ``peft.search`` scores chrF++ itself (its objective) and feeds no spec metrics.
SEARCH_REQUIRES = Requires(tables=TRAIN_REQUIRES.tables, feeds=())
