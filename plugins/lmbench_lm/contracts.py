"""What the LM lab's recipes need beyond the core protocols, declared (no torch here).

``lm.train`` reads a :class:`lmbench.components.TextCorpus`, an :class:`LMTokenizer` and a
:class:`lmbench.components.CausalLM`; see docs/plugins.md and this lab's README.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lmbench import NEXT_TOKEN, AttentionKernel, CausalLM, Needs, Requires, TextCorpus, Tokenizer


@runtime_checkable
class LMTokenizer(Tokenizer, Protocol):
    """The tokenizer ``lm.train`` needs: a :class:`lmbench.components.Tokenizer` plus ``eos_id``
    (ends every document; also the padding id), ``fingerprint`` (a string that changes whenever
    text -> ids would; it keys the token cache) and ``encode_batch(list[str]) -> list[list[int]]``.
    Built as ``factory(config, texts=<iterable of training documents>, texts_fingerprint=<str>)``.
    """

    eos_id: int
    fingerprint: str

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of several texts."""
        ...


#: ``lm.train``: a text corpus, an LM tokenizer, a causal LM (``vocab_size=`` always, ``attention=``
#: when the spec has an [attention] table), an optional causal, trainable kernel; next-token metrics.
TRAIN_REQUIRES = Requires(
    tables={
        "dataset": Needs(TextCorpus),
        "tokenizer": Needs(LMTokenizer, deps=("texts", "texts_fingerprint")),
        "model": Needs(CausalLM, deps=("vocab_size",), optional_deps=("attention",)),
        "attention": Needs(AttentionKernel, required=False, capabilities={"causal": True, "backward": True}),
    },
    feeds=(NEXT_TOKEN,),
)

#: ``lm.generate``: reads an earlier ``lm.train`` run (``from_run``), no components of its own.
GENERATE_REQUIRES = Requires(tables={}, feeds=())
