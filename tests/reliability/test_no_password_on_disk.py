"""No PostgreSQL password written anywhere (issue 27, item 4): a password in ``--store`` never
reaches the store's rows, its files, reports, ``export``, ``show`` or a sweep point's command file;
sweep workers get it in ``PGPASSWORD``, not on a command line; store files have no world access."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import sqlalchemy as sa

from lmbench.redact import password_env, redact
from lmbench.store import Store
from lmbench.store.pgtest import fresh_database, server_url

SECRET = "S3cret-PW-27"


@pytest.mark.parametrize("text, masked", [
    (f"lmbench run --store postgresql+psycopg://alice:{SECRET}@db:5432/lm --set a=1",
     "lmbench run --store postgresql+psycopg://alice:***@db:5432/lm --set a=1"),
    (f"postgresql://bob:p@ss{SECRET}@h/db?sslmode=require", "postgresql://bob:***@h/db?sslmode=require"),
    (f"host=h password={SECRET} user=u", "host=h password=*** user=u"),
    (f"postgresql://h/db?user=u&password={SECRET}", "postgresql://h/db?user=u&password=***"),
    ("postgresql+psycopg://alice@h/db", "postgresql+psycopg://alice@h/db"),
])
def test_redact_masks_every_form_of_password(text, masked):
    assert redact(text) == masked


def test_workers_get_the_password_in_the_environment(monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    assert password_env(f"postgresql+psycopg://u:{SECRET}@h/db") == {"PGPASSWORD": SECRET}
    assert password_env("postgresql+psycopg://u@h/db") == {} and password_env(None) == {}
    monkeypatch.setenv("PGPASSWORD", "given")
    assert password_env(f"postgresql+psycopg://u:{SECRET}@h/db") == {}  # an explicit PGPASSWORD wins


def _lmbench(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmbench.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_a_password_in_the_store_url_is_written_nowhere(tmp_path):
    server, reason = server_url()
    if server is None:
        pytest.skip(reason)
    with fresh_database(server) as fresh:
        url = sa.engine.make_url(fresh).set(password=SECRET).render_as_string(hide_password=False)
        art = tmp_path / "art"
        outputs = []
        for args in (["run", "--plugin", "core.noop", "--store", url, "--artifacts", str(art)],
                     ["sweep", "--plugin", "core.noop", "--set", "recipe.name=core.sleep", "--set", "recipe.steps=2",
                      "--grid", "recipe.seconds=0.01,0.02", "-j", "2", "--store", url, "--artifacts", str(art)],
                     ["export", "--store", url, "--artifacts", str(art)],
                     ["report", "--last", "3", "-f", "md,tex,html,csv", "--no-plots", "--store", url,
                      "--artifacts", str(art)]):
            done = _lmbench(*args)
            assert done.returncode == 0, done.stderr[-2000:]
            outputs.append(done.stdout + done.stderr)
        with Store(url, artifacts=art) as store:
            records = store.runs()
            assert len(records) == 3 and all(r.status == "done" for r in records)
            for record in records:
                shown = _lmbench("show", record.id, "--store", url, "--artifacts", str(art))
                outputs.append(shown.stdout + shown.stderr)
            with store.reading() as c:
                rows = [str(tuple(r)) for t in ("runs", "groups", "results", "measurements", "steps", "meta", "leases")
                        for r in c.execute(sa.text(f"SELECT * FROM {t}"))]
        assert any("--store postgresql+psycopg://postgres:***@" in r for r in rows)  # the command, masked
        assert not [r for r in rows if SECRET in r]
        assert not [o for o in outputs if SECRET in o]
        leaked = [p for p in art.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
        assert leaked == []
        commands = list(art.rglob("point-command.txt"))
        assert len(commands) == 2 and all(stat.S_IMODE(p.stat().st_mode) & 0o007 == 0 for p in commands)


def test_a_sqlite_store_file_has_no_world_access(tmp_path):
    store = Store(tmp_path / "s")
    store.start_run("r1", {}, command=f"lmbench run --store postgresql://u:{SECRET}@h/db")
    assert stat.S_IMODE((tmp_path / "s" / "lmbench.sqlite").stat().st_mode) & 0o007 == 0
    assert store.get("r1").command == "lmbench run --store postgresql://u:***@h/db"
