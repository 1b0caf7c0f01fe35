"""The store's ``leases`` table: the SQL behind :mod:`lmbench.lease` (mixed into :class:`lmbench.store.Store`).

Every change is a single statement whose ``WHERE`` names the owner's token, so a lease moves
from one owner to another only if it still belongs to the owner the caller saw: the same
conditional-update protocol works on SQLite and on a database server.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lease import Holder


class LeaseRows:
    """Lease rows of a store; needs ``self.conn`` and ``self.transaction()`` from the store."""

    def lease_insert(self, holder: "Holder") -> "Holder | None":
        """Insert ``holder``'s lease unless the run has one; return the existing holder, or None."""
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO leases VALUES(?,?,?,?,?,?,?)",
                      (holder.run_id, holder.token, holder.host, holder.pid, holder.proc_started, holder.started,
                       holder.heartbeat))
            row = c.execute("SELECT * FROM leases WHERE run_id=?", (holder.run_id,)).fetchone()
        from .lease import Holder

        current = Holder.from_row(row)
        return None if current.token == holder.token else current

    def lease_take_over(self, holder: "Holder", dead_token: str) -> bool:
        """Replace a dead owner's lease by ``holder``'s, only if it is still that owner's (conditional update)."""
        with self.transaction() as c:
            cursor = c.execute("UPDATE leases SET token=?, host=?, pid=?, proc_started=?, started=?, heartbeat=?"
                               " WHERE run_id=? AND token=?",
                               (holder.token, holder.host, holder.pid, holder.proc_started, holder.started,
                                time.time(), holder.run_id, dead_token))
            return cursor.rowcount == 1

    def lease_heartbeat(self, holder: "Holder") -> bool:
        """Refresh the heartbeat; False when the lease is no longer ``holder``'s (taken over)."""
        with self.transaction() as c:
            cursor = c.execute("UPDATE leases SET heartbeat=? WHERE run_id=? AND token=?",
                               (time.time(), holder.run_id, holder.token))
            return cursor.rowcount == 1

    def lease_release(self, holder: "Holder") -> None:
        """Drop ``holder``'s lease (nothing happens if another process owns it now)."""
        with self.transaction() as c:
            c.execute("DELETE FROM leases WHERE run_id=? AND token=?", (holder.run_id, holder.token))

    def lease_holder(self, run_id: str) -> "Holder | None":
        """The current lease of a run (live or not), or None; works on read-only and older stores."""
        from .lease import Holder

        try:
            row = self.conn.execute("SELECT * FROM leases WHERE run_id=?", (run_id,)).fetchone()
        except sqlite3.OperationalError:  # a store made before leases existed, opened read-only
            return None
        return Holder.from_row(row) if row else None
