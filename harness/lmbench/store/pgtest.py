"""A PostgreSQL server for tests and benchmarks of the store: find one, and give each test a fresh database.

The server is ``$LMBENCH_TEST_POSTGRES`` (a ``postgresql+psycopg://`` URL), or the throw-away
cluster that ``.ci/services/postgres.sh`` starts on 127.0.0.1. :func:`server_url` returns
``(url, None)`` or ``(None, one-line reason)`` so callers can skip with that reason.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


def server_url(checkout: Path | None = None) -> tuple[str | None, str | None]:
    """The test server's URL, starting the throw-away cluster when no URL is given; else a reason."""
    url = os.environ.get("LMBENCH_TEST_POSTGRES")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed: pip install 'lmbench[store]'"
    if not url:
        script = (checkout or Path(__file__).resolve().parents[3]) / ".ci" / "services" / "postgres.sh"
        if not script.is_file():
            return None, "no PostgreSQL: set LMBENCH_TEST_POSTGRES to a postgresql+psycopg:// URL"
        try:
            done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=180)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"no PostgreSQL: {script.name} failed ({exc}); set LMBENCH_TEST_POSTGRES"
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"no PostgreSQL: {script.name} failed ({why}); set LMBENCH_TEST_POSTGRES"
        url = lines[-1]
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return None, f"PostgreSQL at {url} is unreachable ({str(exc).splitlines()[0]})"
    return url, None


@contextmanager
def fresh_database(url: str, prefix: str = "lmbench_test") -> Iterator[str]:
    """Create an empty database on ``url``'s server, yield its URL, and drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
