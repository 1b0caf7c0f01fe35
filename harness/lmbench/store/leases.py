"""The store's ``leases`` table: the SQL behind :mod:`lmbench.store.lease` (mixed into :class:`lmbench.store.Store`).

Every change is a single statement whose ``WHERE`` names the owner's token, so a lease moves
from one owner to another only if it still belongs to the owner the caller saw: the same
conditional-update protocol works on SQLite and, across hosts, on PostgreSQL (no local lock).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .schema import leases
from .writes import insert_ignore

if TYPE_CHECKING:
    from .lease import Holder


def _values(holder: "Holder") -> dict[str, Any]:
    return {"token": holder.token, "host": holder.host, "pid": holder.pid, "proc_started": holder.proc_started,
            "started": holder.started}


class LeaseRows:
    """Lease rows of a store; needs ``self.transaction()`` and ``self.reading()`` from the store."""

    def lease_insert(self, holder: "Holder") -> "Holder | None":
        """Insert ``holder``'s lease unless the run has one; return the existing holder, or None."""
        with self.transaction() as c:
            c.execute(insert_ignore(c, leases).values(run_id=holder.run_id, heartbeat=holder.heartbeat,
                                                      **_values(holder)))
            current = self._lease_row(c, holder.run_id)
        return None if current.token == holder.token else current

    def lease_take_over(self, holder: "Holder", dead_token: str) -> bool:
        """Replace a dead owner's lease by ``holder``'s, only if it is still that owner's (conditional update)."""
        with self.transaction() as c:
            cursor = c.execute(leases.update().where(leases.c.run_id == holder.run_id, leases.c.token == dead_token)
                               .values(heartbeat=time.time(), **_values(holder)))
            return cursor.rowcount == 1

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

    @staticmethod
    def _lease_row(c: sa.Connection, run_id: str) -> "Holder | None":
        from .lease import Holder

        try:
            row = c.execute(sa.select(leases).where(leases.c.run_id == run_id)).mappings().first()
        except sa.exc.OperationalError:  # a store made before leases existed, opened read-only
            return None
        return Holder.from_row(row) if row else None

