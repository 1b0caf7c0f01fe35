"""The store's ``leases`` table: the SQL behind :mod:`lmbench.store.lease` (mixed into :class:`lmbench.store.Store`).

Every change is a single statement whose ``WHERE`` names the owner's token, so a lease moves
from one owner to another only if it still belongs to the owner the caller saw: the same
conditional-update protocol works on SQLite and, across hosts, on PostgreSQL (no local lock).

The fence: a takeover raises the row's ``generation``; a store told which lease this process holds
(:meth:`LeaseRows.fence`) checks, inside each write transaction for that run, that the row still
names this process's token and generation, and refuses the write with
:class:`~lmbench.errors.LeaseLostError` otherwise. On SQLite the write transaction holds the
database's write lock, on PostgreSQL the check takes the lease row ``FOR UPDATE``: a takeover
cannot commit between the check and the write.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .schema import leases
from .writes import insert_ignore
from ..errors import LeaseLostError

if TYPE_CHECKING:
    from .lease import Holder


def _values(holder: "Holder") -> dict[str, Any]:
    return {"token": holder.token, "host": holder.host, "pid": holder.pid, "proc_started": holder.proc_started,
            "started": holder.started, "machine": holder.machine}


class LeaseRows:
    """Lease rows of a store; needs ``self.transaction()`` and ``self.reading()`` from the store."""

    def lease_insert(self, holder: "Holder") -> "Holder | None":
        """Insert ``holder``'s lease unless the run has one; return the existing holder, or None."""
        with self.transaction() as c:
            c.execute(insert_ignore(c, leases).values(run_id=holder.run_id, heartbeat=holder.heartbeat,
                                                      generation=holder.generation, **_values(holder)))
            current = self._lease_row(c, holder.run_id)
        return None if current.token == holder.token else current

    def lease_take_over(self, holder: "Holder", dead_token: str) -> int:
        """Replace a dead owner's lease by ``holder``'s, only if it is still that owner's (conditional
        update); return the new generation (the dead owner's plus one), or 0 when another process won."""
        with self.transaction() as c:
            row = c.execute(leases.update().where(leases.c.run_id == holder.run_id, leases.c.token == dead_token)
                            .values(heartbeat=time.time(), generation=leases.c.generation + 1, **_values(holder))
                            .returning(leases.c.generation)).first()
            return int(row[0]) if row is not None else 0

    # -- the fence -----------------------------------------------------------------------------
    def fence(self, holder: "Holder") -> None:
        """Refuse this store's later writes for ``holder.run_id`` unless its lease is still ``holder``'s."""
        self.__dict__.setdefault("_fences", {})[holder.run_id] = holder

    def unfence(self, run_id: str) -> None:
        """Stop checking the lease of ``run_id`` (the lease was released)."""
        self.__dict__.get("_fences", {}).pop(run_id, None)

    def _fenced(self, c: sa.Connection, run_id: str) -> None:
        """Inside a write transaction: raise :class:`LeaseLostError` if this process held the run's
        lease and another process has taken it over since (or it was removed)."""
        holder = self.__dict__.get("_fences", {}).get(run_id)
        if holder is None:
            return
        query = sa.select(leases.c.token, leases.c.generation, leases.c.host, leases.c.pid).where(
            leases.c.run_id == run_id)
        if c.dialect.name == "postgresql":
            query = query.with_for_update()
        row = c.execute(query).first()
        if row is None or row.token != holder.token or int(row.generation) != holder.generation:
            now = (f"its lease is generation {row.generation}, pid {row.pid} on {row.host}" if row is not None
                   else "no lease: its new owner finished and released it")
            raise LeaseLostError(f"run {run_id} was taken over by another process while this one was paused "
                                 f"({now}; this process held generation {holder.generation}); "
                                 "stopping without writing: the run belongs to its new owner")

    @contextmanager
    def fenced(self, run_id: str) -> Iterator[None]:
        """Hold the run's write fence while the body runs (a checkpoint's rename): raises
        :class:`LeaseLostError` before the body if the lease is no longer this process's."""
        if not self.__dict__.get("_fences", {}).get(run_id):
            yield
            return
        with self.transaction() as c:
            self._fenced(c, run_id)
            yield

    def lease_heartbeat(self, holder: "Holder") -> bool:
        """Refresh the heartbeat; False when the lease is no longer ``holder``'s (taken over)."""
        with self.transaction() as c:
            cursor = c.execute(leases.update().where(leases.c.run_id == holder.run_id, leases.c.token == holder.token)
                               .values(heartbeat=time.time()))
            return cursor.rowcount == 1

    def lease_release(self, holder: "Holder") -> None:
        """Drop ``holder``'s lease (nothing happens if another process owns it now)."""
        with self.transaction() as c:
            c.execute(leases.delete().where(leases.c.run_id == holder.run_id, leases.c.token == holder.token))

    def lease_holder(self, run_id: str) -> "Holder | None":
        """The current lease of a run (live or not), or None; works on read-only and older stores."""
        with self.reading() as c:
            return self._lease_row(c, run_id)

    def _lease_row(self, c: sa.Connection, run_id: str) -> "Holder | None":
        from .lease import Holder

        columns = self.__dict__.get("_lease_columns")
        if columns is None:  # an older store opened read-only may lack the table or schema 4's columns
            try:
                names = {col["name"] for col in sa.inspect(c).get_columns("leases")}
            except sa.exc.SQLAlchemyError:
                names = set()
            columns = self.__dict__["_lease_columns"] = [col for col in leases.c if col.name in names]
        if not columns:
            return None
        row = c.execute(sa.select(*columns).where(leases.c.run_id == run_id)).mappings().first()
        return Holder.from_row(row) if row else None

