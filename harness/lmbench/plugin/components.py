"""The contract between plugins: one ``typing.Protocol`` per component kind (no torch here).

A model registered by one plugin trains under another plugin's recipe, and a kernel of one plugin
runs inside another's model, only because both sides read the same contract. The docstrings below
ARE that contract: what a recipe may call on a component, with shapes. Shapes use B (batch),
T (sequence length), V (vocabulary), H (heads), D (head dimension), C (classes), N (items).

A recipe declares what it needs of each spec table with :class:`Requires` (its class attribute
``requires``); ``lmbench.run.preflight`` checks every resolved component against that declaration
before any work starts, and :meth:`lmbench.run.context.Run.build` checks the built object again.
Optional parts of a protocol (incremental decoding, a FLOPs formula) are separate small protocols
a recipe uses when present and documents what it does otherwise.

Everything here is importable without torch: ``lmbench list`` and the pre-flight check stay fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AttentionCapabilities", "AttentionKernel", "CausalLM", "IncrementalDecoder", "FlopsCounter",
    "TextCorpus", "LabelledSet", "LabelledSplit", "Tokenizer", "EncoderClassifier", "Metric", "StreamingMetric",
    "Recipe", "Needs", "Requires", "INPUT_KINDS", "NEXT_TOKEN", "CLASS_LABEL", "REGRESSION", "TEXT",
    "protocol_members",
]


# -- attention ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttentionCapabilities:
    """What an attention kernel can do; a spec asking for more fails before training.

    ``memory`` is the activation-memory complexity in the sequence length N (``"O(N^2)"``,
    ``"O(N)"``, ``"O(N log N)"``); ``exact`` says whether the output equals softmax attention up
    to rounding; ``dtypes`` are torch dtype names (``"bfloat16"``); ``decode`` says whether the
    kernel takes a query shorter than its keys (incremental decoding against a KV cache: q of
    length 1..n, k and v of length T >= n, the query rows aligned to the last n key positions);
    a model using a kernel without it must take another, declared path for generation.
    """

    causal: bool = True
    padding_mask: bool = True
    backward: bool = True
    dtypes: tuple[str, ...] = ("float32", "bfloat16", "float16", "float64")
    memory: str = "O(N^2)"
    exact: bool = True
    decode: bool = True
    notes: str = ""

    def missing(self, *, causal: bool = False, padding_mask: bool = False, backward: bool = False,
                dtype: str | None = None, decode: bool = False) -> list[str]:
        """The asked-for capabilities this kernel lacks, as phrases for an error message."""
        lacks = []
        if causal and not self.causal:
            lacks.append("causal masking")
        if padding_mask and not self.padding_mask:
            lacks.append("padding masks")
        if backward and not self.backward:
            lacks.append("a backward pass (training)")
        if dtype is not None and dtype not in self.dtypes:
            lacks.append(f"dtype {dtype} (supports {', '.join(self.dtypes)})")
        if decode and not self.decode:
            lacks.append("incremental decoding (a query shorter than the cached keys)")
        return lacks

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for records and listings."""
        return {"causal": self.causal, "padding_mask": self.padding_mask, "backward": self.backward,
                "dtypes": list(self.dtypes), "memory": self.memory, "exact": self.exact, "decode": self.decode}


@runtime_checkable
class AttentionKernel(Protocol):
    """An attention kernel (spec table ``[attention]``), built as ``factory(config)``.

    ``kernel(q, k, v, *, causal=False, key_padding_mask=None) -> out``:

    - q, k, v: (B, H, T, D), one length T for all three (training and evaluation).
    - key_padding_mask: (B, T) bool, True = a real token, or None.
    - out: (B, H, T, D), the dtype of q.

    Decoding with a KV cache is a *method*, declared by a *capability*: a kernel with
    ``capabilities.decode = True`` has ``decode(q, k, v, *, key_padding_mask=None) -> out`` taking
    the n newest queries q (B, H, n, D) against all Tk >= n cached keys and values (B, H, Tk, D),
    causally, query row i sitting at position Tk - n + i; out is (B, H, n, D). A kernel that cannot
    (Reformer's LSH: buckets depend on the whole sequence) declares ``decode = False`` and models
    recompute the window for each generated token instead. The probe before training
    (:mod:`lmbench.run.probe`) refuses ``decode = True`` without a working ``decode`` method.

    ``capabilities`` (:class:`AttentionCapabilities`) says what it supports; a kernel may be an
    ``nn.Module`` (``.eval()``, ``.to()``), which models that hold it register as a submodule.
    """

    capabilities: AttentionCapabilities

    def __call__(self, q: Any, k: Any, v: Any, *, causal: bool = False, key_padding_mask: Any = None) -> Any:
        """Attention output (B, H, T, D) for q, k, v (B, H, T, D)."""
        ...


# -- data -----------------------------------------------------------------------------------------
@runtime_checkable
class TextCorpus(Protocol):
    """A text corpus (spec table ``[dataset]``) for language modelling, built as ``factory(config)``.

    ``documents(split)`` yields the documents of ``"train"``, ``"val"`` or ``"test"`` as strings,
    the same ones in the same order on every call (an empty split yields nothing). Optional:
    ``key() -> str``, a cheap fingerprint of the corpus and its split (it keys the token cache;
    without it the spec table is the key) and ``classmethod fingerprint(config) -> str`` (enters
    the run id).
    """

    def documents(self, split: str) -> Iterable[str]:
        """The documents of one split ("train", "val", "test") as strings."""
        ...


@runtime_checkable
class LabelledSplit(Protocol):
    """One split of a labelled set: ``texts`` (N strings) and ``labels`` (N ints in 0..C-1)."""

    texts: Sequence[str]
    labels: Sequence[int]

    def __len__(self) -> int:
        """N, the number of examples."""
        ...


@runtime_checkable
class LabelledSet(Protocol):
    """A labelled classification set (spec table ``[dataset]``), built as ``factory(config)``.

    ``splits()`` returns ``{"train", "validation", "test"}`` -> :class:`LabelledSplit` (validation
    may be empty: recipes then hold out part of train); ``n_classes`` is C. Optional:
    ``unlabeled() -> list[str]`` (extra in-domain text for pre-training, e.g. ``attention.tapt``).
    """

    n_classes: int

    def splits(self) -> Mapping[str, LabelledSplit]:
        """Splits by name: "train", "validation", "test"."""
        ...


@runtime_checkable
class Tokenizer(Protocol):
    """A tokenizer (spec table ``[tokenizer]``), built as ``factory(config, **deps)``.

    Recipes pass the training texts where a tokenizer learns its vocabulary (``lm.train`` passes
    ``texts=`` an iterable of documents and ``texts_fingerprint=`` a string; accept ``**_`` for
    what you do not use). ``encode(str) -> list[int]``, ``decode(list[int]) -> str``;
    ``vocab_size`` bounds every id. Language-model recipes also read ``eos_id`` (the id separating
    documents); classification recipes read ``pad_id``.
    """

    vocab_size: int

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids."""
        ...


# -- models ---------------------------------------------------------------------------------------
@runtime_checkable
class CausalLM(Protocol):
    """A causal language model (spec table ``[model]``), a ``torch.nn.Module``.

    Built as ``factory(config, vocab_size=V)``, plus ``attention=kernel`` only when the spec has an
    ``[attention]`` table (a factory without an ``attention`` parameter refuses such a spec before
    training). ``model(idx) -> logits``: idx (B, T) int64 ids in 0..V-1, logits (B, T, V) where
    logits[:, t] predicts idx[:, t + 1]; no position sees a later one.

    ``parameter_split() -> {"total", "embedding", "body", "head"}``: parameter counts (head counts
    only what is not tied to the embedding), so results compare models by non-embedding size.

    Optional: ``vocab_size`` (>= V; rows above V are never targets), ``max_seq_len`` (the longest
    T it takes; None = no limit), :class:`IncrementalDecoder` (fast generation; without it,
    generation recomputes the whole window per token) and :class:`FlopsCounter` (MFU).
    """

    def __call__(self, idx: Any) -> Any:
        """Logits (B, T, V) for ids (B, T)."""
        ...

    def parameter_split(self) -> dict[str, int]:
        """Counts: total, embedding, body, head."""
        ...


@runtime_checkable
class IncrementalDecoder(Protocol):
    """Optional part of :class:`CausalLM`: decoding with carried state (a KV cache, an RNN state).

    ``new_state()`` is the empty state; ``step(idx, state) -> (logits, state)`` takes the next ids
    (B, T) (the whole prompt first, then T = 1 per generated token), returns their logits (B, T, V)
    and the updated state. ``step`` of a whole sequence from ``new_state()`` equals ``model(idx)``
    (up to rounding, for exact attention kernels).
    """

    def new_state(self) -> Any:
        """The empty decoding state."""
        ...

    def step(self, idx: Any, state: Any) -> tuple[Any, Any]:
        """Logits (B, T, V) of ids (B, T) continuing from ``state``, and the new state."""
        ...


@runtime_checkable
class FlopsCounter(Protocol):
    """Optional part of a model: its training FLOPs per token at a context length (for MFU)."""

    def flops_per_token(self, context: int) -> float:
        """Forward + backward FLOPs per trained token at sequence length ``context``."""
        ...


@runtime_checkable
class EncoderClassifier(Protocol):
    """An encoder with a task head (spec table ``[model]`` of the attention lab), an ``nn.Module``.

    Built as ``factory(config, vocab_size=V, attention=kernel | None, task="classify" | "mlm",
    n_classes=C, pad_id=P, dtype=torch dtype)``. ``model(ids, mask) -> logits``: ids (B, T) int64,
    mask (B, T) bool (True = real token); classification logits (B, C), MLM logits (B, T, V).
    ``encoder`` is the transformer body (its ``state_dict`` moves between pre-training and
    fine-tuning); ``freeze_layers(n)`` freezes the embeddings and the first n blocks.
    """

    def __call__(self, ids: Any, mask: Any) -> Any:
        """Logits: (B, C) to classify, (B, T, V) for MLM."""
        ...

    def freeze_layers(self, n: int) -> None:
        """Freeze the embeddings and the first ``n`` encoder blocks."""
        ...


# -- metrics --------------------------------------------------------------------------------------
NEXT_TOKEN = "next_token"
CLASS_LABEL = "class_label"
REGRESSION = "regression"
TEXT = "text"

#: What a metric consumes, and what each kind's ``compute(predictions, references)`` receives.
INPUT_KINDS = {
    NEXT_TOKEN: "logits (N, V) float tensor of next-token predictions; references (N,) int64 target ids "
                "(ignored/padded targets already removed)",
    CLASS_LABEL: "predicted class ids (N ints); references: true class ids (N ints)",
    REGRESSION: "predictions (N, ...) float tensor; references: targets of the same shape",
    TEXT: "generated texts (N strings); references: reference texts (N strings)",
}


@runtime_checkable
class Metric(Protocol):
    """A metric (a name in the spec's ``[metrics]``), built as ``factory(config)``.

    ``input`` names what it consumes, one of :data:`INPUT_KINDS` (``"next_token"``,
    ``"class_label"``, ``"regression"``, ``"text"``); a recipe feeds a metric only kinds it
    declares (``Requires.feeds``), and the pre-flight check refuses the others.
    ``produces`` names the result keys ``compute`` returns. ``compute(predictions, references)
    -> {key: float}``. Options come from the spec as a table per metric
    (``[metrics.example.top5] k = 5``) validated into the factory's ``Config`` dataclass.

    Recipes evaluate in batches. A ``next_token`` or ``regression`` metric without the streaming
    methods (:class:`StreamingMetric`) must return per-item means: the recipe combines batches by
    the mean weighted by N. Other metrics (F1, chrF) receive all items in one call.
    """

    input: str
    produces: tuple[str, ...]

    def compute(self, predictions: Any, references: Any) -> dict[str, float]:
        """Results named by ``produces``."""
        ...


@runtime_checkable
class StreamingMetric(Protocol):
    """Optional part of :class:`Metric`: accumulate batches, then read the result once."""

    def update(self, predictions: Any, references: Any) -> None:
        """Add one batch (same shapes as ``compute``)."""
        ...

    def result(self) -> dict[str, float]:
        """Results over every batch given since the metric was built."""
        ...


# -- recipes --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Needs:
    """What a recipe needs of one spec table.

    ``protocol``: the Protocol its component must satisfy (methods are checked on the factory
    class before anything is built, every member on the built object). ``deps``: the keyword
    arguments the recipe always passes to the factory (the factory must accept them, or take
    ``**kwargs``); ``optional_deps``: ones it passes only in some specs (``attention`` when the spec
    has an ``[attention]`` table). ``required``: whether the spec must have the table.
    ``capabilities``: for ``[attention]``, the capabilities the recipe needs (keywords of
    :meth:`AttentionCapabilities.missing`).
    """

    protocol: type | None = None
    deps: tuple[str, ...] = ()
    optional_deps: tuple[str, ...] = ()
    required: bool = True
    capabilities: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Requires:
    """A recipe's declaration (class attribute ``requires``): what it needs of each table.

    ``tables`` maps a spec table (``dataset``, ``tokenizer``, ``model``, ``attention``) to its
    :class:`Needs`; a table not named is one the recipe does not read (the pre-flight check refuses
    a spec that sets it). ``feeds`` are the metric input kinds it can compute (:data:`INPUT_KINDS`);
    a metric of another kind in ``[metrics]`` fails before training. A table named with
    ``protocol=None`` is read but has no checkable protocol (a lab-specific object).
    """

    tables: Mapping[str, Needs] = field(default_factory=dict)
    feeds: tuple[str, ...] = ()


@runtime_checkable
class Recipe(Protocol):
    """A recipe (spec table ``[recipe]``), built as ``factory(config)``.

    ``run(run: lmbench.run.context.Run) -> {key: value}`` builds the other components through ``run``,
    trains and evaluates, records each result as soon as it has it (``run.add_results(...)``), and
    returns the final results. Its class declares ``requires`` (:class:`Requires`); a recipe
    without it is not checked before it starts.
    """

    def run(self, run: Any) -> dict[str, Any]:
        """Do the work; return the results."""
        ...


def protocol_members(protocol: type) -> tuple[list[str], list[str]]:
    """(methods, attributes) a Protocol names: the methods are checkable on a class, the rest
    only on a built object."""
    methods, attributes = [], []
    for klass in reversed(protocol.__mro__):
        if klass in (object, Protocol, Any) or not getattr(klass, "_is_protocol", False):
            continue
        for name in getattr(klass, "__annotations__", {}):
            if not name.startswith("_") and name not in attributes:
                attributes.append(name)
        for name, value in vars(klass).items():
            if callable(value) and (not name.startswith("_") or name == "__call__") and name not in methods:
                methods.append(name)
    return methods, [a for a in attributes if a not in methods]
