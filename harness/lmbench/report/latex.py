"""The LaTeX reporter (``core.tex``): ``report.tex``, a document that compiles as it is.

Tables use ``booktabs`` (``\\toprule``/``\\midrule``/``\\bottomrule``), numbers carry their spread
(mean ± 95% confidence interval over seeds; median [p10--p90] for timings), the best value per column is bold.
Figures are included as the PNG files saved beside the report. ``tables.tex`` holds the tables
alone, for ``\\input`` into a paper.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..store import RunRecord, Store
from .document import Code, Document, Heading, Image, Table, Text, build_document

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
_UNICODE = {"↑": r"$\uparrow$", "↓": r"$\downarrow$", "–": "--", "—": "---", "±": r"$\pm$", "…": r"\ldots{}", "×": r"$\times$", "→": r"$\to$",
            "≤": r"$\le$", "≥": r"$\ge$", "µ": r"$\mu$", "’": "'", "“": "``", "”": "''"}
_SECTIONS = {2: "section", 3: "subsection", 4: "subsubsection"}


@dataclass
class LatexConfig:
    """Options of the LaTeX reporter."""

    title: str = ""
    plots: bool = True
    filename: str = "report.tex"


def tex_escape(text: str) -> str:
    """Escape LaTeX specials; map common Unicode to LaTeX; drop other non-ASCII characters."""
    out = "".join(_SPECIAL.get(ch, ch) for ch in str(text))
    out = "".join(_UNICODE.get(ch, ch) for ch in out)
    return out.encode("ascii", "replace").decode("ascii")


def _verbatim_safe(text: str, width: int = 96) -> str:
    lines = []
    for line in text.splitlines():
        line = line.encode("ascii", "replace").decode("ascii").replace("\\end{verbatim}", "\\end {verbatim}")
        if len(line) <= width:
            lines.append(line)
        else:
            wrapped = textwrap.wrap(line, width - 2, break_long_words=True, break_on_hyphens=False)
            lines.extend(w + " \\" for w in wrapped[:-1])
            lines.append(wrapped[-1])
    return "\n".join(lines)


def render_cell(cell) -> str:
    """A cell in LaTeX: numbers with spread as math, text escaped, best in bold."""
    text = cell.render("tex") if cell.summary is not None else tex_escape(cell.render("tex"))
    if cell.bold and text not in ("", "--"):
        return r"\textbf{\boldmath " + text + "}"
    return text


def render_table(block: Table) -> str:
    """A booktabs ``table`` float; wide tables scaled to the line width."""
    ncols = len(block.headers)
    spec = "l" + "r" * (ncols - 1)
    lines = [r"\begin{table}[htbp]", r"\centering", r"\small"]
    wide = ncols > 6 or sum(len(h) for h in block.headers) > 80
    if wide:
        lines.append(r"\resizebox{\linewidth}{!}{%")
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
              " & ".join(tex_escape(h) for h in block.headers) + r" \\", r"\midrule"]
    for row in block.rows:
        lines.append(" & ".join(render_cell(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}" + ("}" if wide else "")]
    if block.caption:
        lines.append(rf"\caption{{{tex_escape(block.caption)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


def render_latex(doc: Document, out_dir: Path) -> tuple[str, str]:
    """(the whole document, the tables alone)."""
    body, tables = [], []
    for block in doc.blocks:
        if isinstance(block, Heading):
            cmd = _SECTIONS.get(block.level, "paragraph")
            body.append(rf"\{cmd}{{{tex_escape(block.text)}}}")
        elif isinstance(block, Text):
            body.append(tex_escape(block.text) + "\n")
        elif isinstance(block, Table):
            tex = render_table(block)
            body.append(tex)
            tables.append(tex)
        elif isinstance(block, Image):
            fig = block.figure
            try:
                rel = Path(fig.png).resolve().relative_to(Path(out_dir).resolve()).as_posix()
            except ValueError:
                rel = Path(fig.png).as_posix()
            caption = tex_escape(fig.title + (f". {fig.caption}" if fig.caption else ""))
            body.append("\n".join([r"\begin{figure}[htbp]", r"\centering",
                                   rf"\includegraphics[width=\linewidth,height=0.4\textheight,keepaspectratio]{{{rel}}}",
                                   rf"\caption{{{caption}}}", r"\end{figure}"]))
        elif isinstance(block, Code):
            body.append("{\\footnotesize\n\\begin{verbatim}\n" + _verbatim_safe(block.text) + "\n\\end{verbatim}\n}")
    preamble = "\n".join([
        r"\documentclass[10pt]{article}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\usepackage{booktabs}",
        r"\usepackage{graphicx}",
        r"\usepackage{float}",
        r"\title{" + tex_escape(doc.title) + "}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
    ])
    document = preamble + "\n\n" + "\n\n".join(body) + "\n\n\\end{document}\n"
    return _no_floats_overflow(document), "\n\n".join(tables) + "\n"


def _no_floats_overflow(text: str) -> str:
    """Insert ``\\clearpage`` every few floats so LaTeX's float queue never overflows."""
    count, out = 0, []
    for part in re.split(r"(?=\\begin\{(?:table|figure)\}\[htbp\])", text):
        if part.startswith("\\begin{table}") or part.startswith("\\begin{figure}"):
            count += 1
            if count % 12 == 0:
                out.append("\\clearpage\n")
        out.append(part)
    return "".join(out)


class LatexReporter:
    """Writes ``report.tex`` (a full document) and ``tables.tex`` (the tables, for a paper)."""

    Config = LatexConfig

    def __init__(self, config: LatexConfig | None = None):
        self.config = config or LatexConfig()

    def write(self, runs: list[RunRecord], out_dir: Path, store: Store) -> list[Path]:
        """Build the document and write ``report.tex`` and ``tables.tex``; return their paths."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        doc = build_document(store, runs, out_dir, title=self.config.title, plots=self.config.plots)
        document, tables = render_latex(doc, out_dir)
        path = out_dir / self.config.filename
        path.write_text(document)
        tables_path = out_dir / "tables.tex"
        tables_path.write_text(tables)
        return [path, tables_path] + [f.png for f in doc.figures]
