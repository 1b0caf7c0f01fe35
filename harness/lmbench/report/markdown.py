"""The markdown reporter (``core.md``): ``report.md`` with tables, plots (PNG and SVG beside it),
environment, resolved spec and the command of every run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..store import RunRecord, Store
from .document import Code, Document, Heading, Image, Table, Text, build_document


@dataclass
class MarkdownConfig:
    """Options of the markdown reporter."""

    title: str = ""
    plots: bool = True
    filename: str = "report.md"


def md_escape(text: str) -> str:
    """Escape a table cell: pipes and newlines would break the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_table(block: Table) -> str:
    """A GitHub-flavoured markdown table; bold cells wrapped in ``**``."""
    lines = ["| " + " | ".join(md_escape(h) for h in block.headers) + " |",
             "|" + "|".join("---" for _ in block.headers) + "|"]
    for row in block.rows:
        cells = [md_escape(c.render("md")) for c in row]
        cells = [f"**{t}**" if c.bold and t not in ("", "–") else t for c, t in zip(row, cells)]
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines)
    return out + (f"\n\n_{block.caption}_" if block.caption else "")


def render_markdown(doc: Document, out_dir: Path) -> str:
    """The whole document as markdown; image links are relative to ``out_dir``."""
    parts = [f"# {doc.title}"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Text):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.append(render_table(block))
        elif isinstance(block, Image):
            fig = block.figure
            png, svg = _rel(fig.png, out_dir), _rel(fig.svg, out_dir)
            text = f"![{fig.title}]({png})\n\n_{fig.title}_ ([SVG]({svg}))"
            parts.append(text + (f" {fig.caption}" if fig.caption else ""))
        elif isinstance(block, Code):
            parts.append(f"```{block.lang}\n{block.text.rstrip()}\n```")
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
        path.write_text(render_markdown(doc, out_dir))
        return [path] + [p for f in doc.figures for p in (f.png, f.svg)]
