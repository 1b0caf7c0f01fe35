"""Store scale: ``lmbench show RUN`` and ``lmbench compare A B`` under 2 s, a report of 100 runs under
10 s, on a store of many runs x logged steps, on SQLite and on PostgreSQL.

Full size (10,000 runs x 1,000 steps = 10 million step rows; building it takes a while):
``LMBENCH_BENCH_QUICK=0 pytest benchmarks/test_store_scale.py --benchmark-enable``.
Quick mode (CI, the default): 200 runs x 100 steps, the same commands and bounds.
PostgreSQL: ``$LMBENCH_TEST_POSTGRES`` or the cluster ``.ci/services/postgres.sh`` starts; skipped
with the reason where neither is available.
"""

from __future__ import annotations

import os
import random
import statistics
import time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from lmbench.cli import cli
from lmbench.store import Store
from lmbench.store.schema import groups, group_runs, results, runs, steps

QUICK = os.environ.get("LMBENCH_BENCH_QUICK", "1") == "1"
N_RUNS, N_STEPS = (200, 100) if QUICK else (10_000, 1_000)
# an intermediate size: LMBENCH_SCALE_RUNS=1000 LMBENCH_SCALE_STEPS=1000
N_RUNS = int(os.environ.get("LMBENCH_SCALE_RUNS", N_RUNS))
N_STEPS = int(os.environ.get("LMBENCH_SCALE_STEPS", N_STEPS))
REPORTED = 100
BOUND = {"show": 2.0, "compare": 2.0, "report": 10.0}


def build_store(store: Store, n_runs: int = N_RUNS, n_steps: int = N_STEPS, *, seed: int = 0) -> list[str]:
    """Fill ``store`` with ``n_runs`` finished runs of ``n_steps`` logged losses each (bulk inserts,
    one transaction per 50 runs); the last 100 runs form the group ``scale-100``. Returns the run ids."""
    rng = random.Random(seed)
    ids = [f"run{i:06d}" for i in range(n_runs)]
    now = time.time() - n_runs
    spec = '{"model": {"name": "transformer"}, "attention": {"name": "attention.sdpa"}}'
    for start in range(0, n_runs, 50):
        chunk = ids[start:start + 50]
        with store.transaction() as c:
            c.execute(runs.insert(), [
                {"id": r, "label": "", "preset": "bench", "status": "done", "reason": None, "spec": spec, "env": "{}",
                 "command": "lmbench run", "run_dir": r, "created": now + start + i, "updated": now + start + i,
                 "attempts": 1} for i, r in enumerate(chunk)])
            c.execute(results.insert(), [
                {"run_id": r, "key": k, "value": rng.uniform(1, 3), "text": None}
                for r in chunk for k in ("val_loss", "val_ppl", "train_seconds", "params", "peak_mem_mb")])
            rows = []
            for r in chunk:
                loss = 4.0
                for step in range(n_steps):
                    loss *= 0.999 - rng.random() * 1e-3
                    rows.append({"run_id": r, "step": step, "key": "train_loss", "value": loss, "time": now + step})
            c.execute(steps.insert(), rows)
    with store.transaction() as c:
        c.execute(groups.insert().values(id="scale100", kind="sweep", name="scale-100", command="", spec="{}",
                                         created=now))
        c.execute(group_runs.insert(), [{"group_id": "scale100", "run_id": r, "position": i}
                                        for i, r in enumerate(ids[-REPORTED:])])
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scale_store(request, tmp_path_factory):
    """A built store per backend, and the CLI arguments that reach it."""
    root = tmp_path_factory.mktemp(f"scale-{request.param}")
    if request.param == "sqlite":
        store = Store(root / "runs")
        ids = build_store(store)
        yield ["--store", str(root / "runs")], ids
        store.close()
        return
    from lmbench.store.pgtest import fresh_database, server_url

    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    with fresh_database(url, prefix="lmbench_scale") as db:
        store = Store(db, artifacts=root / "artifacts")
        ids = build_store(store)
        with store.transaction() as c:
            c.execute(sa.text("ANALYZE"))
        store.close()
        yield ["--store", str(root / "artifacts")], ids  # the artifacts folder names its database


def _timed(benchmark, argv: list[str], bound: float) -> None:
    runner = CliRunner()

    seconds: list[float] = []

    def once() -> None:
        started = time.perf_counter()
        result = runner.invoke(cli, argv, catch_exceptions=False)
        seconds.append(time.perf_counter() - started)
        assert result.exit_code == 0, result.output

    once()  # warm: imports, the report's plugin host
    seconds.clear()
    benchmark.pedantic(once, rounds=3, iterations=1)  # with --benchmark-disable: one call
    median = statistics.median(seconds)
    print(f"\n{' '.join(argv[:2])} ({N_RUNS} runs x {N_STEPS} steps): median {median:.3f} s of {len(seconds)} call(s)")
    assert median < bound, f"{argv[0]} took {median:.2f} s (median; bound {bound} s)"


def test_show_run(benchmark, scale_store):
    args, ids = scale_store
    _timed(benchmark, ["show", ids[len(ids) // 2], *args], BOUND["show"])


def test_compare_two_runs(benchmark, scale_store):
    args, ids = scale_store
    _timed(benchmark, ["compare", ids[1], ids[-2], *args], BOUND["compare"])


def test_report_of_100_runs(benchmark, scale_store, tmp_path):
    args, _ = scale_store
    _timed(benchmark, ["report", "--sweep", "scale-100", "-o", str(tmp_path / "report"), *args], BOUND["report"])
