"""Fixtures of the PEFT lab tests: the SmolLM2 tokenizer (cached), a tiny random Llama, poem files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from peft_helpers import poem_rows, write_jsonl

torch.set_num_threads(1)


@pytest.fixture
def smollm2_weights():
    """The SmolLM2 GGUF file; the test is skipped, with the command that fetches it, where it is absent."""
    from lmbench_peft.assets import smollm2_gguf, smollm2_missing_reason

    if smollm2_missing_reason():
        pytest.skip(smollm2_missing_reason())
    return smollm2_gguf()


@pytest.fixture(scope="session")
def smol_tokenizer():
    """The SmolLM2 tokenizer (converted from the GGUF once, then read from the cache)."""
    from lmbench_peft.assets import smollm2_missing_reason

    if smollm2_missing_reason():
        pytest.skip(smollm2_missing_reason())
    from lmbench_peft.base_models import load_tokenizer

    return load_tokenizer("smollm2")


@pytest.fixture
def poems_file(tmp_path: Path) -> Path:
    """24 good short poems in a .jsonl.gz file."""
    return write_jsonl(tmp_path / "poems.jsonl.gz", poem_rows())


@pytest.fixture
def tiny_ia3(smol_tokenizer):
    """IA3 on a randomly initialised 2-layer Llama (hidden 64) with the SmolLM2 tokenizer."""
    from lmbench_peft.methods import IA3Model

    return IA3Model(IA3Model.Config(base="random:tiny"))
