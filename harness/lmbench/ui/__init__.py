"""``lmbench ui``: a local web view of a results store, read-only, with interactive charts.

- :mod:`.access`: opening a store read-only (SQLite ``mode=ro``; PostgreSQL read-only transactions)
- :mod:`.queries`: the runs page's filter, sort and paging, done by the database
- :mod:`.pages`: what a run, sweep and comparison page shows (the report's tables, ``compare``'s rows)
- :mod:`.charts`: Plotly figure specs built on the server (plotly.js, shipped in the ``plotly`` wheel, draws them)
- :mod:`.app`: the Starlette routes, templates (``templates/``) and static files (``static/``)

Needs the ``ui`` extra (``pip install 'lmbench[ui]'``: starlette, uvicorn, jinja2, plotly). May
import: the ground, ``lmbench.plugin``, ``lmbench.store``, ``lmbench.stats`` and ``lmbench.report``;
nothing imports it except ``lmbench.cli``.
"""

from __future__ import annotations

__all__ = ["create_app", "open_read_only", "serve"]


def create_app(*args, **kwargs):  # noqa: ANN002, ANN003 - see lmbench.ui.app.create_app
    """The Starlette app over a read-only store (:func:`lmbench.ui.app.create_app`)."""
    from .app import create_app as make

    return make(*args, **kwargs)


def open_read_only(*args, **kwargs):  # noqa: ANN002, ANN003 - see lmbench.ui.access.open_read_only
    """A store opened for reading only (:func:`lmbench.ui.access.open_read_only`)."""
    from .access import open_read_only as opener

    return opener(*args, **kwargs)


def serve(app, host: str = "127.0.0.1", port: int = 8765) -> None:  # noqa: ANN001
    """Serve ``app`` with uvicorn until Ctrl-C."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
