"""``lmbench ui``: serve a read-only browser view of a results store (:mod:`lmbench.ui`).

Only click is imported at module level; Starlette, uvicorn and plotly load when the command runs.
"""

from __future__ import annotations

import socket

import click

from ..errors import LmbenchError
from .common import console, store_option

DEFAULT_PORT = 8765


def _check_port(host: str, port: int) -> None:
    """Refuse, in one line, a port that is taken or an address this machine does not have."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise LmbenchError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass --port N "
                               "(another lmbench ui may be running) or --host ADDRESS") from None


@click.command("ui")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on.")
@click.option("--host", "bind", default="127.0.0.1", show_default=True,
              help="Address to listen on. The pages have no login: serve other machines (0.0.0.0) only on a "
                   "network you trust.")
@store_option
def ui_cmd(port: int, bind: str, store_dir: str | None) -> None:
    """Browse a results store in a web browser: runs, one run's curves (live while it runs),
    comparisons, sweeps. Read-only; Ctrl-C stops it.

    \b
    lmbench ui                                   the store in ./runs, at http://127.0.0.1:8765/
    lmbench ui --store postgresql+psycopg://me@db/lmbench --artifacts /shared/lmbench
    """
    try:
        from ..ui import create_app, open_read_only, serve
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
        import plotly  # noqa: F401
        import jinja2  # noqa: F401
    except ImportError as exc:
        raise LmbenchError(f"lmbench ui needs the 'ui' extra ({exc.name} is missing): pip install 'lmbench[ui]'") \
            from None
    store = open_read_only(store_dir)
    _check_port(bind, port)
    app = create_app(store, bind=bind)
    shown = f"[{bind}]" if ":" in bind else bind
    out = console()
    out.print(f"lmbench ui: http://{shown}:{port}/  (store {store.where.display}, read-only; Ctrl-C stops it)",
              markup=False, highlight=False)
    if bind not in ("127.0.0.1", "localhost", "::1"):
        out.print(f"note: listening on {bind}: anyone who can reach this address can read the store", markup=False)
    try:
        serve(app, host=bind, port=port)
    finally:
        store.close()


__all__ = ["ui_cmd"]
