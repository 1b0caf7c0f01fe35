"""One database store, one artifacts folder: the database remembers where its run folders live.

A server store (PostgreSQL) keeps its rows in the database and its run folders (checkpoints, logs,
reports) under ``--artifacts DIR``. Nothing else ties the two: hosts that pass different folders
would share the rows but not the folders (a takeover would restart from step 0, a merge would miss
run folders). So the first writer records the folder's absolute path in the database's ``meta``
table (key ``artifacts``), and every later open must name that folder or one of its *mirrors*
(the same share mounted elsewhere, or a synchronised copy), which ``lmbench store add-mirror DIR``
records. Any other folder is refused in one line naming both paths. Commands given only the
database URL find the folder there, so ``lmbench store merge URL DST`` copies the run folders too.

A run taken over on a host whose mirror lacks the run's checkpoint gets it from the location where
the run wrote it (:func:`fetch_checkpoints`), so it resumes instead of starting over.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import sqlalchemy as sa

from . import schema
from ..errors import StoreError

KEY = "artifacts"


def recorded(conn: sa.Connection) -> list[str]:
    """The artifacts folder (first) and its mirrors recorded in the database; [] if none yet."""
    if not sa.inspect(conn).has_table("meta"):
        return []
    value = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == KEY)).scalar()
    return list(json.loads(value)) if value else []


def _write(conn: sa.Connection, locations: list[str]) -> None:
    value = json.dumps(locations)
    if conn.execute(sa.select(schema.meta.c.key).where(schema.meta.c.key == KEY)).first():
        conn.execute(schema.meta.update().where(schema.meta.c.key == KEY).values(value=value))
    else:
        conn.execute(schema.meta.insert().values(key=KEY, value=value))


def bind(engine: sa.Engine, root: Path, display: str, *, readonly: bool) -> None:
    """Record ``root`` as the store's artifacts folder (first writer), or check that it is it or a mirror."""
    here = str(root.absolute())
    with engine.connect() as conn:
        known = recorded(conn)
    if here in known or any(_same(Path(k), root) for k in known):  # the same folder through a symlink
        return
    if known:
        raise StoreError(f"results store {display} keeps its run folders in {known[0]}, not {here}; pass --artifacts "
                         f"{known[0]}, or if {here} is the same share mounted here (or a copy of it) record it once with "
                         f"`lmbench store add-mirror {here} --store {display}`")
    if readonly:
        return
    with engine.begin() as conn:
        if not recorded(conn):  # two first writers: the first one wins, the other is checked again below
            _write(conn, [here])
    bind(engine, root, display, readonly=True)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.resolve() == b.resolve()
    except OSError:
        return False


def add_mirror(engine: sa.Engine, folder: Path) -> list[str]:
    """Record ``folder`` as another path to the store's run folders; return every recorded location."""
    here = str(folder.absolute())
    with engine.begin() as conn:
        known = recorded(conn)
        if here not in known:
            known.append(here)
            _write(conn, known)
    return known


def fetch_checkpoints(conn: sa.Connection, run_dir: Path) -> Path | None:
    """If ``run_dir`` has no checkpoint, copy the run's checkpoints from the recorded location that has
    them (where the run wrote them); return that location's run folder, or None."""
    if (run_dir / "checkpoints").is_dir():
        return None
    for location in recorded(conn):
        source = Path(location) / run_dir.name / "checkpoints"
        if source.is_dir() and source.resolve() != (run_dir / "checkpoints").resolve():
            run_dir.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source, run_dir / "checkpoints")
            return source.parent
    return None
