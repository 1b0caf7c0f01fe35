"""The HTML reporter (``core.html``): one self-contained page, figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

from ..store import RunRecord, Store
from .document import Code, Document, Heading, Image, Table, Text, build_document

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:right;vertical-align:top}
th{border-bottom:2px solid #444}
td:first-child,th:first-child{text-align:left}
caption{caption-side:bottom;font-style:italic;font-size:.85em;text-align:left;color:#555}
pre{background:#f6f8fa;padding:.7em;overflow-x:auto;font-size:.85em}
img{max-width:100%}
figcaption{font-style:italic;font-size:.85em;color:#555}
"""


@dataclass
class HtmlConfig:
    """Options of the HTML reporter."""

    title: str = ""
    plots: bool = True
    filename: str = "report.html"


def render_table(block: Table) -> str:
    """An HTML table; bold cells in ``<strong>``."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
    rows = []
    for row in block.rows:
        cells = []
        for cell in row:
            text = html.escape(cell.render("md"))
            cells.append(f"<td><strong>{text}</strong></td>" if cell.bold else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"<caption>{html.escape(block.caption)}</caption>" if block.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(doc: Document) -> str:
    """The whole document as one HTML page with no external resources."""
    parts = [f"<h1>{html.escape(doc.title)}</h1>"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            level = min(block.level, 6)
            parts.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Text):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            parts.append(render_table(block))
        elif isinstance(block, Image):
            fig = block.figure
            data = base64.b64encode(Path(fig.png).read_bytes()).decode("ascii")
            caption = html.escape(fig.title + (f". {fig.caption}" if fig.caption else ""))
            parts.append(f'<figure><img alt="{html.escape(fig.title)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{caption}</figcaption></figure>")
        elif isinstance(block, Code):
            parts.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


class HtmlReporter:
    """Writes ``report.html``: the markdown report's tables and plots in one file."""

    Config = HtmlConfig

    def __init__(self, config: HtmlConfig | None = None):
        self.config = config or HtmlConfig()

    def write(self, runs: list[RunRecord], out_dir: Path, store: Store) -> list[Path]:
        """Build the document and write one self-contained page; return its path."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        doc = build_document(store, runs, out_dir, title=self.config.title, plots=self.config.plots)
        path = out_dir / self.config.filename
        path.write_text(render_html(doc), encoding="utf-8")
        return [path]
