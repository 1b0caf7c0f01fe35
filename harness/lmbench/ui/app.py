"""The web app of ``lmbench ui``: Starlette routes over one read-only store.

=================================  ==================================================================
``/``                              runs: filter, sort, page (server side); ``/api/runs`` the same as JSON
``/runs/{id}``                     a run: progress, curves, results, report tables, measurements, log
``/api/runs/{id}/live``            a run's progress and curves as JSON (the page polls it while it runs)
``/sweeps``, ``/sweeps/{id}``      sweeps and experiments: report tables, Pareto front, curves, scaling
``/compare?a=A&b=B``               ``lmbench compare A B``, with each result's values per side
``/static/...``                    plotly.js from the installed ``plotly`` package, the page's own js/css
=================================  ==================================================================

Every URL is a link that can be shared (filters and sorts are query parameters). Pages are Jinja2
templates with autoescaping on; chart specs enter a page as JSON that cannot close its script
element. Responses carry a Content-Security-Policy that runs only this server's scripts, and only
requests for the host the server was bound to are answered (a DNS-rebinding page elsewhere cannot
read the store). Store access is serialised by one lock (SQLite keeps one connection per store).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from ..errors import LmbenchError
from ..store import Store
from . import pages
from .access import store_label
from .queries import RunFilter, runs_page

STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def plotly_js() -> Path:
    """plotly.js as shipped inside the installed ``plotly`` wheel (no network needed)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise LmbenchError(f"plotly.js is missing from the plotly package ({path}); reinstall 'lmbench[ui]'")
    return path


def templates() -> Any:
    """The pages' Jinja2 environment (autoescaping on for every template)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("lmbench.ui", "templates"),
                              autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                              undefined=jinja2.StrictUndefined)


def create_app(store: Store, *, host: Any = None, bind: str = "127.0.0.1") -> Any:
    """The Starlette app showing ``store`` (opened read-only by the caller: :func:`.access.open_read_only`).

    ``bind`` is the address the server listens on: requests naming another host are refused unless
    it is a wildcard address (then the user chose to serve other machines).
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from ..plugin.host import default_host
    from ..plugin.results import vocabulary

    host = host or default_host()
    vocab = vocabulary(host)
    env = templates()
    lock = threading.Lock()
    js = plotly_js()
    where = store_label(store)

    def render(template: str, status: int = 200, **context: Any) -> Response:
        page = env.get_template(template).render(store=where, **context)
        return HTMLResponse(page, status_code=status, headers=HEADERS)

    def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                with lock:
                    return handler(request)
            except LmbenchError as exc:  # an unknown run or sweep, a comparison that cannot be made
                if request.url.path.startswith("/api/"):
                    return JSONResponse({"error": str(exc)}, status_code=404, headers=HEADERS)
                return render("error.html", status=404, title="not found", message=str(exc))
        endpoint.__name__ = handler.__name__
        return endpoint

    def runs(request: Request) -> Response:
        page = runs_page(store, RunFilter.from_query(request.query_params), vocab)
        return render("runs.html", title="runs", page=page)

    def runs_json(request: Request) -> Response:
        page = runs_page(store, RunFilter.from_query(request.query_params), vocab)
        return JSONResponse({"total": page.total, "page": page.filter.page, "pages": page.pages,
                             "server_seconds": page.seconds, "columns": [c.header for c in page.columns],
                             "runs": [{**row.__dict__, "cells": [t for t, _ in row.cells]} for row in page.rows]},
                            headers=HEADERS)

    def axis_of(request: Request) -> str:
        axis = request.query_params.get("x", "step")
        return axis if axis in ("step", "tokens", "seconds") else "step"

    def run(request: Request) -> Response:
        data = pages.run_page(store, request.path_params["run_id"], axis_of(request), vocab, host)
        return render("run.html", title=data["name"], **data)

    def live(request: Request) -> Response:
        record = store.get(request.path_params["run_id"])
        from ..report.tables import status_text

        return JSONResponse({**pages.progress(store, record), "status_text": status_text(record),
                             "charts": pages.run_charts(store, record, axis_of(request), vocab)}, headers=HEADERS)

    def sweeps(request: Request) -> Response:
        return render("sweeps.html", title="sweeps", sweeps=pages.sweeps_page(store))

    def sweep(request: Request) -> Response:
        data = pages.sweep_page(store, request.path_params["group_id"], vocab, host)
        return render("sweep.html", title=data["name"], **data)

    def compare(request: Request) -> Response:
        a, b = request.query_params.get("a", "").strip(), request.query_params.get("b", "").strip()
        text = request.query_params.get("tolerance", "").strip()
        context: dict[str, Any] = {"a": a, "b": b, "tolerance": text, "result": None, "error": "",
                                   "choices": pages.choices(store)}
        if a and b:
            try:
                tolerance = float(text) if text else None
                if tolerance is not None and not tolerance >= 0:
                    raise ValueError
            except ValueError:
                context["error"] = "tolerance must be a number >= 0 (a fraction: 0.02 = 2%)"
            else:
                try:
                    context["result"] = pages.compare_page(store, a, b, tolerance, host)
                except LmbenchError as exc:
                    context["error"] = str(exc)
        return render("compare.html", title="compare", **context)

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(js, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})
        if name == "report.css":  # the HTML report's own style: its tables look the same here
            from ..report.html import CSS

            return Response(CSS, media_type="text/css", headers={"Cache-Control": "no-cache"})
        path = STATIC / name
        if name not in {p.name for p in STATIC.iterdir()}:
            return Response("not found", status_code=404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(path, media_type=kind, headers={"Cache-Control": "no-cache"})

    routes = [Route("/", guarded(runs)), Route("/api/runs", guarded(runs_json)),
              Route("/runs/{run_id}", guarded(run)), Route("/api/runs/{run_id}/live", guarded(live)),
              Route("/sweeps", guarded(sweeps)), Route("/sweeps/{group_id}", guarded(sweep)),
              Route("/compare", guarded(compare)), Route("/static/{name}", static)]
    wildcard = bind in ("0.0.0.0", "::", "")
    allowed = ["*"] if wildcard else sorted({*LOOPBACK, bind})
    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed)])
