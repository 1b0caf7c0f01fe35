"""``lmbench ui`` without a browser: read-only store access, no password on a page, the report's own
tables, the host check and the headers, and the command's one-line refusals."""

from __future__ import annotations

import re
import socket

import pytest
import sqlalchemy as sa

pytest.importorskip("starlette", reason="the ui extra is absent: pip install 'lmbench[ui]'")
pytest.importorskip("httpx", reason="httpx (Starlette's test client) is absent")

from starlette.testclient import TestClient  # noqa: E402

from lmbench.errors import LmbenchError, StoreError  # noqa: E402
from lmbench.store import Store, schema  # noqa: E402
from lmbench.ui import create_app, open_read_only  # noqa: E402

SECRET = "Sup3rS3cretPw"
PAGES = ("/", "/api/runs", "/runs/run001", "/api/runs/run001/live", "/sweeps", "/sweeps/grid",
         "/compare?a=run001&b=run002")


def _fill(store: Store, command: str = "lmbench run") -> None:
    """Two finished runs with a curve, a result and a measurement table, in one sweep."""
    for run_id, loss in (("run001", 2.0), ("run002", 1.5)):
        store.start_run(run_id, {"recipe": {"name": "core.noop", "steps": 3}, "run": {"seed": 0}}, label=run_id,
                        command=command, env={"python": "3.11"})
        for step in range(3):
            store.log_step(run_id, step, {"loss": loss / (step + 1)})
        store.add_measurement(run_id, "samples", {"rows": [{"prompt": "<b>hi</b>", "text": "<img src=x onerror=alert(1)>"}]})
        store.finish_run(run_id, "done", results={"final_loss": loss / 3, "steps": 3})
    store.add_group("grid", "sweep", "grid", command, {}, ["run001", "run002"])


def _client(store: Store) -> TestClient:
    return TestClient(create_app(store), base_url="http://127.0.0.1")


@pytest.fixture
def sqlite_store(tmp_path):
    with Store(tmp_path / "runs") as store:
        _fill(store)
    store = open_read_only(tmp_path / "runs")
    yield store
    store.close()


def test_every_page_answers_and_escapes_stored_text(sqlite_store):
    client = _client(sqlite_store)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[-500:])
        assert "<img src=x" not in response.text and "<b>hi</b>" not in response.text, path
    run = client.get("/runs/run001").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in run  # the sample is shown, as text
    assert "default-src 'none'" in client.get("/").headers["content-security-policy"]


def test_records_reads_a_page_of_runs_in_the_order_asked(sqlite_store):
    records = sqlite_store.records(["run002", "missing", "run001", "run002"])
    assert [r.id for r in records] == ["run002", "run001"]
    assert records[0].results == {"final_loss": 0.5, "steps": 3}


@pytest.mark.parametrize("logged, done", [((0, 1, 2), 3), ((49, 99, 149), 150), ((50, 100, 150), 150), ((7,), 7)])
def test_progress_counts_steps_done_whether_recipes_count_from_0_or_1(tmp_path, logged, done):
    from lmbench.ui import pages

    with Store(tmp_path / "runs") as store:
        store.start_run("r", {"recipe": {"name": "core.noop", "steps": 200}}, label="r", command="", env={})
        for step in logged:
            store.log_step("r", step, {"loss": 1.0})
        assert pages.progress(store, store.get("r"))["step"] == done


def test_the_store_is_opened_read_only(sqlite_store, tmp_path):
    with pytest.raises(StoreError, match="read-only"):
        with sqlite_store.transaction():
            pass
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        with sqlite_store.engine.connect() as c:  # below the store's guard: SQLite itself refuses (mode=ro)
            c.execute(schema.meta.insert().values(key="x", value="y"))
    with pytest.raises(StoreError, match="no results store"):
        open_read_only(tmp_path / "absent")
    assert not (tmp_path / "absent").exists()  # looking never creates a store


def test_a_sweep_page_shows_the_html_reports_tables(sqlite_store, tmp_path):
    from lmbench.report import write_reports

    [report] = write_reports(sqlite_store, sqlite_store.group("grid")[1], tmp_path / "report", formats=("html",),
                             title="grid", plots=False)
    tables = lambda text: re.findall(r'<div class="table">.*?</table></div>', text, re.S)  # noqa: E731
    expected = tables(report.read_text())
    assert len(expected) >= 3  # headline, all results, the samples measurement, environment
    page = _client(sqlite_store).get("/sweeps/grid").text
    assert tables(page)[-len(expected):] == expected  # one builder, two renderings


def test_other_hosts_are_refused_unless_serving_every_address(sqlite_store):
    assert _client(sqlite_store).get("/", headers={"host": "attacker.example"}).status_code == 400
    wide = TestClient(create_app(sqlite_store, bind="0.0.0.0"), base_url="http://lab-box.example")
    assert wide.get("/").status_code == 200


def test_unknown_run_is_one_line_not_a_traceback(sqlite_store):
    client = _client(sqlite_store)
    response = client.get("/runs/nope")
    assert response.status_code == 404 and "unknown run" in response.text and "Traceback" not in response.text
    assert client.get("/api/runs/nope/live").json()["error"].startswith("unknown run")
    page = client.get("/compare?a=run001&b=nosuch")
    assert page.status_code == 200 and "no run or sweep named &#39;nosuch&#39;" in page.text
    assert 'id="compare-error"' in client.get("/compare?a=run001&b=run002&tolerance=-1").text


def test_ui_command_refuses_a_taken_port_in_one_line():
    from lmbench.cli.browsing import _check_port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LmbenchError, match=f"cannot listen on 127.0.0.1:{port}.*pass --port N"):
            _check_port("127.0.0.1", port)


@pytest.fixture
def pg_store(tmp_path):
    from lmbench.store.pgtest import fresh_database, server_url

    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    with fresh_database(url) as db:
        with_password = sa.engine.make_url(db).set(password=SECRET).render_as_string(hide_password=False)
        with Store(db, artifacts=tmp_path / "art") as store:
            _fill(store, command=f"lmbench run --store {with_password}")
            with store.transaction() as c:  # a store written before commands were redacted
                c.execute(schema.runs.update().where(schema.runs.c.id == "run002")
                          .values(command=f"lmbench run --store {with_password}"))
        store = open_read_only(with_password, artifacts=tmp_path / "art")
        try:
            yield store
        finally:
            store.close()


def test_postgresql_store_read_only_and_no_password_on_any_page(pg_store):
    client = _client(pg_store)
    for path in (*PAGES, "/runs/run002", "/static/report.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.text, path
    assert "***" in client.get("/runs/run002").text  # the recorded command is shown, its password masked
    with pytest.raises(StoreError, match="read-only transaction"):
        with pg_store.reading() as c:  # every transaction the UI begins is READ ONLY on the server
            c.execute(schema.meta.insert().values(key="x", value="y"))


def test_lmbench_ui_serves_the_store_on_loopback(tmp_path):
    import subprocess
    import sys
    import time
    import urllib.request

    with Store(tmp_path / "runs") as store:
        _fill(store)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "lmbench.cli", "ui", "--store", str(tmp_path / "runs"), "--port",
                             str(port)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline, page = time.monotonic() + 60, None
        while page is None:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "lmbench ui did not answer within a minute"
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=run002", timeout=5).read().decode()
            except OSError:
                time.sleep(0.2)
        assert 'data-run="run002"' in page and 'data-run="run001"' not in page
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"lmbench ui: http://127.0.0.1:{port}/" in err and "read-only" in err
    assert not (tmp_path / "runs" / "reports").exists()  # browsing writes nothing into the store folder
