"""``lmbench ui`` in a real browser (Playwright driving Debian's Chromium) over a store of real runs.

The store holds two sweeps of ``core.noop`` over three seeds, one run labelled with a ``<script>``, and
a ``core.sleep`` run that is still running in another process while the pages are open. Each test
drives the served pages as a person would: the runs page lists them and filters, a run page draws
its curve, compare shows ``lmbench compare``'s verdicts, the running run's step count goes up
without a reload, and the hostile label is text, never a script.

Skipped, with the reason, where Chromium (``apt-get install chromium``; .ci/run installs it) or
Playwright for Python is absent. ``LMBENCH_UI_SCREENSHOT=docs/ui.png pytest tests/ui`` also keeps
the screenshot the README shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from report_helpers import chromium  # tests/ui/conftest.py puts tests/report on the path

HOSTILE = "<script>window.__pwned=1</script>"
SLEEP_STEPS, SLEEP_SECONDS = 2000, 0.05


def _fill(store_dir: Path) -> None:
    """Two sweeps of core.noop over seeds 0-2 (20 and 40 steps), and one run under a hostile label."""
    from lmbench.launch.sweep import expand, run_sweep
    from lmbench.spec.config import build_spec
    from lmbench.store import Store
    from lmbench.testing import fresh_host

    host = fresh_host(entry_points=True)
    store = Store(store_dir)
    try:
        for name, steps, label, seeds in (("noop-a", 20, "", [0, 1, 2]), ("noop-b", 40, "", [0, 1, 2]),
                                          ("hostile", 10, HOSTILE, [0])):
            spec = build_spec(host.registries, preset="core.noop", sets=[f"recipe.steps={steps}"])
            if label:
                spec.setdefault("run", {})["label"] = label
            result = run_sweep(store, expand(spec, {}, seeds), host=host, name=name)
            assert [r.status for r in result.records] == ["done"] * len(seeds)
    finally:
        store.close()


def _start_running(store_dir: Path, folder: Path) -> subprocess.Popen:
    """A core.sleep run in its own process (about 100 s unless stopped): the page's live run."""
    config = folder / "sleep.toml"
    config.write_text(textwrap.dedent(f"""
        [recipe]
        name = "core.sleep"
        steps = {SLEEP_STEPS}
        seconds = {SLEEP_SECONDS}
        [run]
        label = "sleeper"
    """))
    return subprocess.Popen([sys.executable, "-m", "lmbench.cli", "run", "-c", str(config), "--store", str(store_dir)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=(folder / "sleep.log").open("w"),
                            cwd=folder, env={**os.environ, "LMBENCH_STORE": str(store_dir)})


def _wait_running(store_dir: Path, proc: subprocess.Popen, timeout: float = 60.0) -> str:
    """The id of the sleep run once it has logged a step."""
    from lmbench.store import Store

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sleep run ended early: {(store_dir.parent / 'sleep.log').read_text()[-800:]}"
        if (store_dir / "lmbench.sqlite").exists():
            with Store(store_dir, readonly=True) as store:
                running = [r for r in store.runs(status="running") if r.label == "sleeper"]
                if running and store.steps(running[0].id):
                    return running[0].id
        time.sleep(0.3)
    raise AssertionError("the sleep run logged no step within a minute")


class _Server:
    """uvicorn serving the UI app on a free loopback port, in a thread."""

    def __init__(self, app) -> None:
        import socket

        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """(base URL, browser page, store folder, running run id)."""
    browser_path = chromium("the UI")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python absent: pip install playwright")
    pytest.importorskip("starlette", reason="the ui extra is absent: pip install 'lmbench[ui]'")
    from lmbench.ui import create_app, open_read_only

    folder = tmp_path_factory.mktemp("ui")
    store_dir = folder / "runs"
    _fill(store_dir)
    proc = _start_running(store_dir, folder)
    try:
        running = _wait_running(store_dir, proc)
        store = open_read_only(store_dir)
        with _Server(create_app(store)) as base, sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield {"base": base, "page": page, "store": store_dir, "running": running, "errors": errors}
            browser.close()
        store.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _rows(page) -> list[str]:
    return page.locator("table#runs tbody tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)")


def test_runs_page_lists_every_run_and_filters(ui):
    page, base = ui["page"], ui["base"]
    page.goto(base + "/")
    assert len(_rows(page)) == 8 and page.inner_text("#total") == "8"
    headers = page.locator("table#runs thead th").all_inner_texts()
    assert any(h.startswith("final loss") for h in headers), headers  # a declared headline result, its direction shown
    page.fill("input[name=q]", "pwned")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=pwned**")
    assert len(_rows(page)) == 1 and page.inner_text("#total") == "1"
    page.select_option("select[name=status]", "running")
    page.fill("input[name=q]", "")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**status=running**")
    assert _rows(page) == [ui["running"]]
    page.goto(base + "/?sort=r:final_loss&desc=0")  # lowest loss first: the 40-step sweep's three seeds
    best = page.locator("table#runs tbody tr").evaluate_all(
        "rows => rows.map(r => r.querySelector('strong') ? r.querySelector('strong').innerText : '')")
    assert best[:4] == ["0.025", "0.025", "0.025", ""], best  # the best value over the filter is bold


def test_run_page_draws_its_curve(ui):
    page, base = ui["page"], ui["base"]
    page.goto(base + "/?sweep=&q=seed%3D0&status=done")
    run_id = _rows(page)[0]
    page.goto(f"{base}/runs/{run_id}")
    page.wait_for_selector("#curves-charts div.chart .main-svg")
    lines = page.locator("#curves-charts .scatterlayer .trace path.js-line").evaluate_all(
        "paths => paths.map(p => (p.getAttribute('d') || '').length)")
    assert lines and max(lines) > 20, lines  # a drawn line, not an empty frame
    assert "[recipe]" in page.inner_text("#spec") and "core.noop" in page.inner_text("#spec")
    assert page.inner_text("#step") in ("10", "20", "40")  # every step the run logged
    assert page.locator("table#results td").first.is_visible()


def test_compare_shows_what_lmbench_compare_says(ui):
    from lmbench.stats.compare import compare, comparison_rows
    from lmbench.store import Store

    with Store(ui["store"], readonly=True) as store:
        expected = [(r["metric"], r["verdict"]) for r in comparison_rows(compare(store, "noop-a", "noop-b"))]
    page, base = ui["page"], ui["base"]
    page.goto(base + "/compare")
    page.fill("input[name=a]", "noop-a")
    page.fill("input[name=b]", "noop-b")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("table#comparison")
    shown = page.locator("table#comparison tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].innerText.replace('*', ''), r.cells[r.cells.length - 1].innerText])")
    assert [tuple(r) for r in shown] == expected
    assert ("final_loss", "better") in expected  # 40 steps end lower than 20, on every seed
    page.wait_for_selector("#compare-charts div.chart .main-svg")
    pairs = page.locator("#compare-charts div.chart").first.locator(".scatterlayer .trace").count()
    assert pairs == 3  # one line per seed: the sides are paired by seed
    shot = os.environ.get("LMBENCH_UI_SCREENSHOT")  # the README's picture
    if shot:
        page.screenshot(path=shot, clip={"x": 0, "y": 0, "width": 1280, "height": 900})
        from PIL import Image  # kept small: 64 colours are plenty for a page of text and lines

        Image.open(shot).quantize(64).save(shot, optimize=True)


def test_running_run_counts_up_while_the_page_is_open(ui):
    page, base = ui["page"], ui["base"]
    page.goto(f"{base}/runs/{ui['running']}")
    assert page.inner_text("#status") == "running"
    first = int(page.inner_text("#step"))
    page.evaluate("window.__same_page = true")
    deadline = time.monotonic() + 20  # the page polls every 2 s (the CSP forbids Playwright's eval-based waits)
    while int(page.inner_text("#step")) <= first:
        assert time.monotonic() < deadline, f"the step count stayed at {first} for 20 s"
        page.wait_for_timeout(250)
    assert page.evaluate("window.__same_page") is True  # updated in place, not by reloading
    assert int(page.inner_text("#total")) == SLEEP_STEPS and page.inner_text("#eta") not in ("", "–", "unknown")


def test_hostile_label_is_text_everywhere(ui):
    page, base = ui["page"], ui["base"]
    for path in ("/", "/?q=pwned", "/sweeps", "/sweeps/hostile", "/compare?a=noop-a&b=hostile"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__pwned") == "undefined", path
    page.goto(base + "/?q=pwned")
    assert HOSTILE in page.locator("table#runs tbody td.label").first.inner_text()
    page.goto(base + "/?q=pwned")
    run_id = _rows(page)[0]
    page.goto(f"{base}/runs/{run_id}")
    page.wait_for_selector("#curves-charts div.chart .main-svg")
    assert HOSTILE in page.inner_text("#run-name")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not ui["errors"], ui["errors"]  # and no page raised a script error along the way
