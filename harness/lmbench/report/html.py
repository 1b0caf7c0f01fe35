"""The HTML reporter (``core.html``): one self-contained page, figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store import RunRecord, Store
from .document import Code, Document, Heading, Image, Table, Text, build_document

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
.table{max-width:100%;overflow-x:auto;margin:.6em 0}
table{border-collapse:collapse;font-size:.9em;max-width:100%}
th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{border-bottom:2px solid #444;vertical-align:bottom}
th.num,td.num{text-align:right}
td.num{white-space:nowrap}
td.text{white-space:pre-wrap;min-width:16em}
caption{caption-side:bottom;font-style:italic;font-size:.85em;text-align:left;color:#555}
pre{background:#f6f8fa;padding:.7em;font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere}
figure{margin:1em 0}
figure img{display:block;width:100%;max-width:800px;height:auto}
figcaption{font-style:italic;font-size:.85em;color:#555}
"""

#: A cell that reads as a number: ``1,234.5``, ``-3e-05``, ``1.41 ± 0.01``, ``12%``, ``2.3x``, or a dash.
_NUMBER = re.compile(r"^(?:[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:e[-+]?\d+)?(?: ± [\d.,e+-]+)?\s?(?:%|x|ms|s|[kMGTB])?"
                     r"|[-–—]|nan|inf|-inf|)$", re.IGNORECASE)


@dataclass
class HtmlConfig:
    """Options of the HTML reporter."""

    title: str = ""
    plots: bool = True
    filename: str = "report.html"


def _header(text: str) -> str:
    """A header that may break after ``_`` and ``.`` (``best_val_loss``), so wide tables fit the page."""
    return re.sub(r"([_.])", r"\1<wbr>", html.escape(text))


def column_kinds(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Per column: ``num`` (every cell reads as a number: right-aligned), ``text`` (prose such as
    generated samples: left-aligned, wrapped) or ``""`` (labels: left-aligned)."""
    kinds = []
    for i, _ in enumerate(headers):
        cells = [row[i].strip() for row in rows if i < len(row)]
        if cells and any(cells) and all(_NUMBER.match(c) for c in cells):
            kinds.append("num")
        elif any(len(c) > 40 or "\n" in c for c in cells):
            kinds.append("text")
        else:
            kinds.append("")
    return kinds


#: Width a table may take before its columns are split over several tables (px, text width ~1200).
TABLE_BUDGET_PX = 1100
_CHAR_PX, _CELL_PAD_PX = 8.5, 20


def _column_px(header: str, cells: list[str]) -> float:
    """A column's narrowest comfortable width: its longest unbreakable header part or its longest cell."""
    header_part = max((len(w) for w in re.split(r"[\s_.]+", header) if w), default=1)
    return max([header_part, *(min(len(c), 40) for c in cells)]) * _CHAR_PX + _CELL_PAD_PX


def column_groups(headers: list[str], rows: list[list[str]], budget: float = TABLE_BUDGET_PX) -> list[list[int]]:
    """Split a table too wide for the page into groups of columns, each repeating the first
    (label) column; a table that fits is one group."""
    widths = [_column_px(h, [row[i] for row in rows if i < len(row)]) for i, h in enumerate(headers)]
    if len(headers) < 3 or sum(widths) <= budget:
        return [list(range(len(headers)))]
    groups, current, used = [], [], widths[0]
    for i in range(1, len(headers)):
        if current and used + widths[i] > budget:
            groups.append([0, *current])
            current, used = [], widths[0]
        current.append(i)
        used += widths[i]
    groups.append([0, *current])
    return groups


def render_table(block: Table) -> str:
    """An HTML table in a wrapper that keeps it within the page; bold cells in ``<strong>``; numeric
    columns right-aligned, text columns left-aligned. A table too wide for the page is shown as
    several tables of its columns, each starting with the first (label) column."""
    headers = list(block.headers)
    texts = [[cell.render("md") for cell in row] for row in block.rows]
    kinds = column_kinds(headers, texts)

    def cls(i: int) -> str:
        return f' class="{kinds[i]}"' if i < len(kinds) and kinds[i] else ""

    groups = column_groups(headers, texts)
    tables = []
    for n, group in enumerate(groups):
        head = "".join(f"<th{cls(i)}>{_header(headers[i])}</th>" for i in group)
        rows = []
        for row, row_texts in zip(block.rows, texts):
            cells = []
            for i in group:
                if i >= len(row):
                    continue
                text = html.escape(row_texts[i])
                cells.append(f"<td{cls(i)}><strong>{text}</strong></td>" if row[i].bold else f"<td{cls(i)}>{text}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        last = n == len(groups) - 1
        caption = f"<caption>{html.escape(block.caption)}</caption>" if block.caption and last else ""
        tables.append(f'<div class="table"><table>{caption}<thead><tr>{head}</tr></thead>'
                      f'<tbody>{"".join(rows)}</tbody></table></div>')
    return "".join(tables)


def render_figure(fig: Any) -> str:
    """A figure scaled to the text width: the SVG (sharp at any size) with the PNG as fallback."""
    png = base64.b64encode(Path(fig.png).read_bytes()).decode("ascii")
    caption = html.escape(fig.title + (f". {fig.caption}" if fig.caption else ""))
    svg = Path(fig.svg) if getattr(fig, "svg", None) else None
    source = ""
    if svg is not None and svg.is_file():
        source = f'<source type="image/svg+xml" srcset="data:image/svg+xml;base64,' \
                 f'{base64.b64encode(svg.read_bytes()).decode("ascii")}">'
    return (f'<figure><picture>{source}<img alt="{html.escape(fig.title)}" src="data:image/png;base64,{png}">'
            f"</picture><figcaption>{caption}</figcaption></figure>")


def render_blocks(blocks: Any) -> str:
    """A document's blocks as HTML (every text escaped): the body of ``report.html`` and of the
    report sections ``lmbench ui`` shows, so both show the same tables."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(block.level, 6)
            parts.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Text):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            parts.append(render_table(block))
        elif isinstance(block, Image):
            fig = block.figure
            parts.append(render_figure(fig))
        elif isinstance(block, Code):
            parts.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
    return "\n".join(parts)


def render_html(doc: Document) -> str:
    """The whole document as one HTML page with no external resources."""
    body = f"<h1>{html.escape(doc.title)}</h1>\n" + render_blocks(doc.blocks)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
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
