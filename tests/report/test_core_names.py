"""The core names no lab's results or measurements: what it knows of them comes from declarations."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lmbench.results import vocabulary

ROOT = Path(__file__).resolve().parents[2]
#: Ordinary words a lab also happens to use as a name; the core uses them in their ordinary sense
#: (spec tables, the timing statistics' ``samples``, seed-pooled ``points``, ``batch_size`` as a
#: shared config key of lmbench.training, ``seq_len`` as an argument of the core's FLOPs formula,
#: ``generation`` as a lease's fencing generation, not the lm lab's text-generation measurement,
#: ``vocab_size`` as the keyword lmbench.CausalLM is built with, which the probe passes on).
ORDINARY = {"dataset", "attention", "samples", "points", "epochs", "epoch", "baseline", "method", "dims", "params",
            "batch_size", "seq_len", "generation", "vocab_size"}
LABS = ("lm", "attention", "peft", "looped")


def lab_names() -> set[str]:
    """Result names the labs declare (not the core's shared vocabulary) and measurement names they record."""
    vocab = vocabulary()
    core = set(vocab.names("core"))
    names = {s.name for s in vocab if s.plugin in LABS and "*" not in s.name} - core
    for path in (ROOT / "plugins").rglob("*.py"):
        names |= set(re.findall(r"run\.record\(\s*[\"']([A-Za-z0-9_]+)[\"']", path.read_text()))
    return names - ORDINARY


def code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are code, not documentation (docstrings left out)."""
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_the_labs_declare_what_the_core_used_to_hardcode():
    names = lab_names()
    assert {"val_ppl", "error_at_2d", "chrf_pp", "f1_macro", "scaling", "error_vs_prompt_length"} <= names


def test_no_lab_result_or_measurement_name_in_harness_code():
    names = lab_names()
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True))
                         + r")(?![A-Za-z0-9_])")
    found = [f"{path.relative_to(ROOT)}:{line}: {match.group(1)}"
             for path in sorted((ROOT / "harness").rglob("*.py"))
             for line, text in code_strings(path) for match in [pattern.search(text)] if match]
    assert not found, "lab names in the core (declare them in the lab instead):\n" + "\n".join(found)


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_declares_its_results_in_its_own_module(lab):
    vocab = vocabulary()
    assert vocab.names(lab), f"plugin '{lab}' declares no results"
    assert not set(vocab.names(lab)) & set(vocab.names("core")), "labs must not declare the core's cost vocabulary again"
