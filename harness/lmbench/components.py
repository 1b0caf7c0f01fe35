"""Types that belong to the contract between plugins (no torch here).

An attention kernel registered by one plugin is used by models of another (the LM lab's
Transformer runs the attention lab's kernels), so what a kernel declares it can do is part of the
shared contract, not of either plugin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
                dtype: str | None = None) -> list[str]:
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
        return lacks

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for records and listings."""
        return {"causal": self.causal, "padding_mask": self.padding_mask, "backward": self.backward,
                "dtypes": list(self.dtypes), "memory": self.memory, "exact": self.exact, "decode": self.decode}
