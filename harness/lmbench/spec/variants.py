"""Variants added from the command line: ``--variant LABEL:table.key=value,...`` on ``run`` and ``sweep``.

A preset's variants are the rows of its comparison (``lm.compare``: ``lstm``, ``transformer``, ...).
``--variant`` adds one more row without editing the preset: its label, then ``table.key=value``
assignments separated by commas (values read as TOML, as ``--set``'s are; commas inside brackets
and quotes belong to the value). A variant that picks another component (``model.name=gru.gru``)
starts that component from its own defaults: the preset's options for the table it replaces (the
old model's ``n_layers``) are not carried over (the variant's ``replace`` list says which tables).
A preset without variants keeps its own experiment as the variant ``base`` beside the new one
(:func:`lmbench.spec.config.build_spec` adds the parsed rows after the files, before the flags).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .config import parse_assignment

__all__ = ["split_top", "parse_variant"]


def split_top(text: str) -> list[str]:
    """Split on commas outside brackets and quotes: ``1,[2,3],"a,b"`` -> three items."""
    items, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    items.append("".join(current).strip())
    return items


def parse_variant(text: str) -> dict[str, Any]:
    """``gru:model.name=gru.gru,model.hidden_size=256`` -> a variant table (label, set, replace)."""
    label, sep, body = text.partition(":")
    label = label.strip()
    if not sep or not label or not body.strip():
        raise ConfigError(f"bad --variant '{text}'; expected LABEL:table.key=value[,table.key=value], "
                          "e.g. --variant gru:model.name=gru.gru,model.hidden_size=256")
    assignments: dict[str, Any] = {}
    for item in split_top(body):
        path, value = parse_assignment(item)
        assignments[".".join(path)] = value
    replace = sorted(key.split(".", 1)[0] for key in assignments if key.count(".") == 1 and key.endswith(".name"))
    return {"label": label, "set": assignments, **({"replace": replace} if replace else {})}
