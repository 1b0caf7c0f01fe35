"""The markdown reporter (``core.md``): ``report.md`` with tables, plots (PNG and SVG beside it),
environment, resolved spec and the command of every run.

Labels, run names and generated text come from users and models: ``<`` and ``>`` are
written as HTML entities everywhere outside code blocks (a label ``<script>`` shows as text, it
does not run in a viewer), and a code block's fence is longer than any backtick run inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..files import write_text
from ..store import RunRecord, Store
from .document import Code, Document, Heading, Image, Table, Text, build_document


@dataclass
class MarkdownConfig:
    """Options of the markdown reporter."""

    title: str = ""
    plots: bool = True
    filename: str = "report.md"


def html_escape(text: object) -> str:
    """``<`` and ``>`` as entities: markdown viewers render raw HTML, and user text must not be any.

    (A bare ``&`` cannot start a tag, and markdown shows it as it is.)"""
    return str(text).replace("<", "&lt;").replace(">", "&gt;")


def md_escape(text: str) -> str:
    """Escape a table cell: HTML, and pipes and newlines that would break the row."""
    return html_escape(text).replace("|", "\\|").replace("\n", " ")


def code_block(text: str, lang: str = "") -> str:
    """A fenced block whose fence no backtick run in ``text`` can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def render_table(block: Table) -> str:
    """A GitHub-flavoured markdown table; bold cells wrapped in ``**``."""
    lines = ["| " + " | ".join(md_escape(h) for h in block.headers) + " |",
             "|" + "|".join("---" for _ in block.headers) + "|"]
    for row in block.rows:
        cells = [md_escape(c.render("md")) for c in row]
        cells = [f"**{t}**" if c.bold and t not in ("", "–") else t for c, t in zip(row, cells)]
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines)
    return out + (f"\n\n_{html_escape(block.caption)}_" if block.caption else "")


def render_markdown(doc: Document, out_dir: Path) -> str:
    """The whole document as markdown; image links are relative to ``out_dir``."""
    parts = [f"# {html_escape(doc.title)}"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + html_escape(block.text))
        elif isinstance(block, Text):
            parts.append(html_escape(block.text))
        elif isinstance(block, Table):
            parts.append(render_table(block))
        elif isinstance(block, Image):
            fig = block.figure
            png, svg = _rel(fig.png, out_dir), _rel(fig.svg, out_dir)
            title = html_escape(fig.title)
            text = f"![{title}]({png})\n\n_{title}_ ([SVG]({svg}))"
            parts.append(text + (f" {html_escape(fig.caption)}" if fig.caption else ""))
        elif isinstance(block, Code):
            parts.append(code_block(block.text, block.lang))
    return "\n\n".join(parts) + "\n"


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


class MarkdownReporter:
    """Writes ``report.md`` (and its figures) for a set of runs."""

    Config = MarkdownConfig

    def __init__(self, config: MarkdownConfig | None = None):
        self.config = config or MarkdownConfig()

    def write(self, runs: list[RunRecord], out_dir: Path, store: Store) -> list[Path]:
        """Build the document, save figures and ``report.md`` in ``out_dir``; return the paths."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        doc = build_document(store, runs, out_dir, title=self.config.title, plots=self.config.plots)
        path = out_dir / self.config.filename
        write_text(path, render_markdown(doc, out_dir), "report")
        return [path] + [p for f in doc.figures for p in (f.png, f.svg)]
