"""``peft.chrf``: chrF++ and chrF from sacrebleu, corpus-level and per-poem mean.

chrF++ is ``sacrebleu.metrics.CHRF(word_order=2)`` (character 6-grams plus word 1- and 2-grams),
chrF is ``CHRF()``; corpus scores equal ``sacrebleu REF -i HYP -m chrf --chrf-word-order 2 -b``
on the same lines. Poems are multi-line: sacrebleu's files hold one segment a line, so
:func:`flatten` joins a poem's lines with spaces the same way for both (``to_files`` writes them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def flatten(text: str) -> str:
    """One line per poem: line breaks become single spaces (what a sacrebleu file line holds)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def chrf_scores(predictions: list[str], references: list[str]) -> dict[str, float]:
    """``chrf_pp``, ``chrf`` (corpus) and ``chrf_pp_mean``, ``chrf_mean`` (mean of per-poem scores)."""
    from sacrebleu.metrics import CHRF

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return {"chrf_pp": 0.0, "chrf": 0.0, "chrf_pp_mean": 0.0, "chrf_mean": 0.0}
    hyps = [flatten(p) for p in predictions]
    refs = [flatten(r) for r in references]
    plus, plain = CHRF(word_order=2), CHRF()
    out = {"chrf_pp": plus.corpus_score(hyps, [refs]).score, "chrf": plain.corpus_score(hyps, [refs]).score}
    out["chrf_pp_mean"] = sum(plus.sentence_score(h, [r]).score for h, r in zip(hyps, refs)) / len(hyps)
    out["chrf_mean"] = sum(plain.sentence_score(h, [r]).score for h, r in zip(hyps, refs)) / len(hyps)
    return out


def prefix_ceiling(references: list[str], encode: Any, decode: Any, max_new_tokens: int) -> float:
    """The corpus chrF++ of each reference's own first ``max_new_tokens`` tokens against the whole reference.

    A poem generated to that length cannot recover what it never reaches: this is the score a perfect
    generator of ``max_new_tokens`` tokens would get, the ceiling to read a chrF++ against (with 32
    tokens about 29; seed 003 generated up to 400). ``encode(text) -> ids``, ``decode(ids) -> text``.
    """
    prefixes = [decode(list(encode(r))[:max_new_tokens]) for r in references]
    return chrf_scores(prefixes, references)["chrf_pp"]


def per_poem_chrf_pp(prediction: str, reference: str) -> float:
    """chrF++ of one poem against its reference."""
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=2).sentence_score(flatten(prediction), [flatten(reference)]).score


def to_files(predictions: list[str], references: list[str], folder: Path) -> tuple[Path, Path]:
    """Write ``hyp.txt`` and ``ref.txt`` (one flattened poem a line) for the sacrebleu command line."""
    folder.mkdir(parents=True, exist_ok=True)
    hyp, ref = folder / "hyp.txt", folder / "ref.txt"
    hyp.write_text("".join(flatten(p) + "\n" for p in predictions), encoding="utf-8")
    ref.write_text("".join(flatten(r) + "\n" for r in references), encoding="utf-8")
    return hyp, ref


class ChrF:
    """``peft.chrf``: chrF++ and chrF (sacrebleu), corpus-level and per-poem mean."""

    Config = None
    input = "text"
    produces = ("chrf_pp", "chrf", "chrf_pp_mean", "chrf_mean")

    def __init__(self, config: Any = None, **_: Any):
        self.config = config

    def compute(self, predictions: list[str], references: list[str]) -> dict[str, float]:
        """Scores on the 0-100 scale; see :func:`chrf_scores`."""
        return chrf_scores(list(predictions), list(references))
