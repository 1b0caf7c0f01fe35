"""Tables for the terminal: the headline table of a set of runs, and any table that must fit.

:func:`print_table` prints headers and rows with rich as one table when it fits the console's
width, and otherwise as one small two-column block per row (``header  value``), so a name is
never cut at any ``COLUMNS`` (40 or 200 alike): long words wrap, nothing is replaced by ``…``.
:func:`print_headline` is the terminal form of a report's first table: declared headline quality
and cost per point, mean ± 95% CI over seeds, numbers in the one format of every report.
rich is imported when a table is printed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..numbers import fmt_number
from ..store import RunRecord
from .tables import GUESSED_NOTE, Column, headline_columns, results_table

__all__ = ["print_table", "print_headline", "headline_rows", "fit_widths"]


def print_table(console: Any, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                left: Sequence[str] = ()) -> str:
    """Print ``rows`` under ``headers`` on ``console``; return ``"table"`` or ``"stacked"``.

    Columns named in ``left`` (and the first column) are left-aligned, the rest right-aligned.
    Cells may hold rich markup. The table is printed when each column can keep its longest word
    whole (headers and names wrap at spaces); otherwise each row is printed as its own block of
    ``header  value`` lines, titled by its first cell.
    """
    from rich.table import Table
    from rich.text import Text

    def plain(cell: Any) -> str:
        return Text.from_markup(str(cell)).plain

    columns = [[plain(h)] + [plain(row[i]) for row in rows if i < len(row)] for i, h in enumerate(headers)]
    natural = [max(len(c) for c in col) for col in columns]
    least = [max((len(w) for c in col for w in c.split()), default=1) for col in columns]
    room = console.width - 2 * len(headers)  # one space of padding on each side of a column
    widths = fit_widths(natural, least, room)
    if widths is not None:
        table = Table(title=title or None, header_style="bold", box=None, title_justify="left")
        for i, header in enumerate(headers):
            table.add_column(header, justify="left" if i == 0 or header in left else "right", overflow="fold",
                             width=widths[i])
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return "table"
    if title:
        console.print(f"[bold]{title}[/bold]")
    for row in rows:
        block = Table(title=str(row[0]), box=None, show_header=False, title_justify="left", title_style="bold")
        block.add_column("key", overflow="fold", style="dim")
        block.add_column("value", overflow="fold")
        for header, cell in zip(headers[1:], row[1:]):
            block.add_row(header, cell)
        console.print(block)
    return "stacked"


def fit_widths(natural: Sequence[int], least: Sequence[int], room: int) -> list[int] | None:
    """Column widths within ``room``: natural widths when they fit; else each column's longest word
    plus a share of what is left, given to the columns that need it most; None when even the longest
    words do not fit."""
    if sum(natural) <= room:
        return list(natural)
    if sum(least) > room:
        return None
    widths, spare = list(least), room - sum(least)
    while spare > 0:
        short = [i for i in range(len(widths)) if widths[i] < natural[i]]
        if not short:
            break
        i = max(short, key=lambda j: natural[j] - widths[j])
        widths[i] += 1
        spare -= 1
    return widths


def _cell(summary: Any, column: Column) -> str:
    if summary is None:
        return "–"
    text = fmt_number(summary.mean * column.scale)
    if summary.n > 1 and math.isfinite(summary.half_ci):
        text += f" ± {fmt_number(summary.half_ci * column.scale, 2)}"
    return text


def headline_rows(records: Sequence[RunRecord], vocab: Any = None) -> tuple[list[str], list[list[str]], bool]:
    """(headers, rows, guessed) of the headline table: point, status, headline results as
    ``mean ± 95% CI`` over seeds; ``guessed`` says a header carries the guessed mark."""
    table = results_table(records, vocab)
    columns = headline_columns(table.columns)
    headers = ["point", "status", *table.headline()[0][1 + table.show_status:]]
    rows = []
    for row in table.rows:
        cells = [row.label, row.status]
        for column in columns:
            cell = row.cells.get(column.key)
            if cell is None:
                cells.append("–")
            elif cell.text is not None:
                cells.append(cell.text)
            else:
                text = _cell(cell.summary, column)
                cells.append(f"[bold]{text}[/bold]" if cell.bold and column.bold_best else text)
        rows.append(cells)
    return headers, rows, any(c.guessed for c in columns)


def print_headline(console: Any, records: Sequence[RunRecord], *, title: str = "results", vocab: Any = None) -> str:
    """Print the headline table of ``records`` (see :func:`headline_rows`); return the layout used."""
    headers, rows, guessed = headline_rows(records, vocab)
    if len(headers) <= 2:
        console.print("[dim]no numeric results to show[/dim]")
        return "empty"
    layout = print_table(console, title, headers, rows, left=("status",))
    notes = ["mean ± 95% CI over seeds; best in bold where the result declares which way is better; "
             "every other result is in the report"]
    if guessed:
        notes.append(GUESSED_NOTE)
    for note in notes:
        console.print(f"[dim]{note}[/dim]")
    return layout
