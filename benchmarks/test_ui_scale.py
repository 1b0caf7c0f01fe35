"""``lmbench ui``'s runs page over a 10,000-run store answers in under 1 s (server time), on SQLite
and on PostgreSQL.

Server time is the wall-clock time of one request through the whole app in this process (Starlette's
test client: routing, the SQL of :mod:`lmbench.ui.queries`, reading the page's runs, the template),
without a browser or a socket; the median of 5 requests per URL is compared with the bound. The
URLs are the first page (newest first), a sort by a declared result, a sort by the seed (read
inside each stored spec), a text filter, a sweep filter and the last page (the deepest OFFSET).

Run: ``pytest benchmarks/test_ui_scale.py -s`` (prints the medians). The store is 10,000 runs in
both modes (quick mode only logs 2 steps a run, which the runs page never reads); PostgreSQL is
``$LMBENCH_TEST_POSTGRES`` or the cluster ``.ci/services/postgres.sh`` starts, skipped with the
reason where neither is available.
"""

from __future__ import annotations

import statistics
import time

import pytest

pytest.importorskip("starlette", reason="the ui extra is absent: pip install 'lmbench[ui]'")
pytest.importorskip("httpx", reason="httpx (Starlette's test client) is absent")

from starlette.testclient import TestClient  # noqa: E402

from lmbench.store import Store  # noqa: E402
from test_store_scale import build_store  # noqa: E402

N_RUNS = 10_000
BOUND_S = 1.0
REPEATS = 5
URLS = ("/", "/?sort=r:val_loss&desc=0", "/?sort=seed", "/?q=run0099", "/?sweep=scale100", "/?page=200")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ui_client(request, tmp_path_factory):
    """A test client of the UI over a 10,000-run store of each backend."""
    from lmbench.ui import create_app, open_read_only

    root = tmp_path_factory.mktemp(f"ui-scale-{request.param}")
    if request.param == "sqlite":
        with Store(root / "runs") as store:
            build_store(store, N_RUNS, 2)
        location, cleanup = str(root / "runs"), None
    else:
        from lmbench.store.pgtest import fresh_database, server_url

        url, reason = server_url()
        if url is None:
            pytest.skip(reason)
        cleanup = fresh_database(url)
        location = cleanup.__enter__()
        with Store(location, artifacts=root / "art") as store:
            build_store(store, N_RUNS, 2)
    store = open_read_only(location, artifacts=None if request.param == "sqlite" else root / "art")
    try:
        yield request.param, TestClient(create_app(store), base_url="http://127.0.0.1")
    finally:
        store.close()
        if cleanup is not None:
            cleanup.__exit__(None, None, None)


def test_runs_page_of_10000_runs_under_a_second(ui_client):
    backend, client = ui_client
    assert client.get("/api/runs").json()["total"] == N_RUNS
    medians = {}
    for url in URLS:
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200 and 'data-run="run' in response.text, url
        medians[url] = statistics.median(times)
    print(f"\nruns page, {N_RUNS} runs, {backend}: " + ", ".join(f"{u} {t * 1e3:.0f} ms" for u, t in medians.items()))
    slow = {u: t for u, t in medians.items() if t >= BOUND_S}
    assert not slow, f"runs page slower than {BOUND_S} s on {backend}: {slow}"
    first = client.get("/?sort=r:val_loss&desc=0").text  # sorted by the database: the lowest loss first
    assert first.index("<strong>") < first.index("</tbody>")  # the best value over all runs is on page one
