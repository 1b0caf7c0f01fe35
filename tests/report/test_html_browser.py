"""The default experiment's HTML report, laid out by a real browser (headless Chromium).

At a 1280 px wide window nothing may run off the page (no horizontal scrolling, every table
inside the window), each figure is drawn at least 600 px wide, numbers are right-aligned and
every other cell (run labels, generated samples) left-aligned. Skipped where Chromium is absent
(Debian: ``apt-get install chromium``; .ci/run installs it).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from report_helpers import chromium

WINDOW = 1280
MIN_FIGURE = 600

MEASURE = """<script>
window.addEventListener("load", () => {
  const box = e => e.getBoundingClientRect();
  const out = {
    scrollWidth: document.documentElement.scrollWidth,
    tables: [...document.querySelectorAll("table")].map(t => Math.ceil(box(t).right)),
    figures: [...document.querySelectorAll("figure img")].map(i => Math.round(box(i).width)),
    textAlign: [...document.querySelectorAll("td")].map(td => [td.className, getComputedStyle(td).textAlign]),
  };
  const pre = document.createElement("pre");
  pre.id = "lmbench-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def measure(page: Path, browser: str) -> dict:
    """Open ``page`` (with the measuring script added) at WINDOW px and return what the script found."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={page.parent / 'chromium-profile'}", f"--window-size={WINDOW},1000",
                           "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    found = re.search(r'<pre id="lmbench-measure">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no measurement in Chromium's DOM (exit {done.returncode}): {done.stderr[-500:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def default_report(tmp_path_factory) -> Path:
    """The default experiment (lm.compare's three variants), a few steps each, reported as HTML."""
    browser = chromium("the report")  # skip before training when there is no browser
    from lmbench.config import build_spec
    from lmbench.plugins import make_host
    from lmbench.report import write_reports
    from lmbench.store import Store
    from lmbench.testing import run_spec

    folder = tmp_path_factory.mktemp("default-report")
    host = make_host()
    tiny = ["recipe.max_steps=6", "recipe.eval_every=3", "recipe.eval_tokens=256", "recipe.final_eval_tokens=256",
            "recipe.context=32", "recipe.batch_size=4", "recipe.sample_tokens=60", "recipe.gen_tokens=4",
            "recipe.gen_repeats=1", "recipe.gen_batch_size=2", "recipe.log_every=1"]
    records = run_spec(build_spec(host.registries, preset="lm.compare", sets=tiny), folder / "runs", host=host)
    assert [r.status for r in records] == ["done"] * 3
    store = Store(folder / "runs")
    try:
        [page] = write_reports(store, store.runs(), folder / "report", formats=("html",), host=host, title="lm.compare")
    finally:
        store.close()
    return page, browser


def test_the_default_report_fits_a_1280px_window(default_report):
    page, browser = default_report
    found = measure(page, browser)
    assert found["scrollWidth"] <= WINDOW, f"the page scrolls sideways: {found['scrollWidth']} px"
    assert found["tables"] and max(found["tables"]) <= WINDOW, f"a table ends at {max(found['tables'])} px"


def test_every_figure_is_at_least_600px_wide(default_report):
    page, browser = default_report
    found = measure(page, browser)
    assert len(found["figures"]) >= 2  # learning curves and the quality/cost front
    assert min(found["figures"]) >= MIN_FIGURE, found["figures"]


def test_numbers_right_text_left(default_report):
    page, browser = default_report
    found = measure(page, browser)
    aligns = {(cls, align) for cls, align in found["textAlign"]}
    assert ("num", "right") in aligns and ("text", "left") in aligns, aligns  # samples are a text column
    assert {align for cls, align in aligns if cls != "num"} <= {"left", "start"}


def test_columns_are_classified_and_wide_tables_split_without_a_browser():
    from lmbench.report.html import column_groups, column_kinds

    headers = ["run", "val loss", "text", "params"]
    rows = [["lstm", "1.41 ± 0.01", "ROMEO: what light through yonder window breaks, it is the east", "1.07M"],
            ["transformer", "–", "KING HENRY: once more unto the breach, dear friends, once more", "804k"]]
    assert column_kinds(headers, rows) == ["", "num", "text", "num"]
    assert column_groups(headers, rows) == [[0, 1, 2, 3]]
    wide = ["run", *(f"metric_number_{i}" for i in range(30))]
    groups = column_groups(wide, [["transformer-learned", *["12345.6"] * 30]])
    assert len(groups) > 1 and all(g[0] == 0 for g in groups)
    assert sorted(i for g in groups for i in g[1:]) == list(range(1, 31))
