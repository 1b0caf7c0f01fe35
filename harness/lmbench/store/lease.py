"""Run leases: one process trains a run at a time, and a dead owner's run is taken over.

A lease is a row of the store's ``leases`` table: run id, owner (a random token), host, pid, the
owner process's start time, when it took the lease and its last heartbeat. Taking a lease is an
insert that fails when a row exists, then a *conditional* update (``... WHERE token = <the dead
owner's token>``) to take over a dead owner's row, so two processes racing for one run cannot
both win. Nothing relies on a local file lock, so the same protocol works on a database server
shared by several machines.

An owner is identified by its token and its *machine*: a hash of the kernel's boot id, the
machine id and the pid namespace (:func:`machine_id`), so two hosts (or two containers) with one
hostname are not taken for one. An owner is dead when it ran on this machine and its pid is gone
(or now belongs to a process started at another time), or, on any other machine, when its
heartbeat is older than the lease's time to live (``LMBENCH_LEASE_TTL``, 60 s by default; the owner
beats every quarter of it): a lease still being renewed is never taken over. A run whose status
is ``running`` and whose owner is dead is shown as ``abandoned``; running it again takes it over
and resumes it from its last checkpoint.

Leases are *fenced*: the row's ``generation`` rises at each takeover, and every write of the
owner (steps, results, measurements, status, the checkpoint files) first checks, in the same
transaction, that the row still holds its token and generation (:meth:`LeaseRows.fenced`). A
process paused past its lease (SIGSTOP, a long GC, a network partition) that wakes up after a
takeover has its first write refused with :class:`lmbench.errors.LeaseLostError` and stops,
leaving the run to its new owner.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable

from ..errors import RunBusyError

log = logging.getLogger("lmbench")

DEFAULT_TTL = 60.0


def lease_ttl() -> float:
    """Seconds without a heartbeat after which an owner on another host counts as dead."""
    try:
        return max(float(os.environ.get("LMBENCH_LEASE_TTL", DEFAULT_TTL)), 1.0)
    except ValueError:
        return DEFAULT_TTL


def _process_started(pid: int) -> float | None:
    """The start time of process ``pid`` (seconds since the epoch), None when unknown or gone."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing, no such process, access denied
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (zombies count as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:
        return True


@lru_cache(maxsize=1)
def machine_id() -> str:
    """This process's machine as a short hash: boot id, machine id and pid namespace.

    Two machines with one hostname (cloned images, containers with a fixed hostname) differ here,
    so a pid that is absent *here* is never taken as proof that another machine's owner is dead.
    ``LMBENCH_MACHINE_ID`` replaces it (a sandbox without ``/proc``; tests standing for two machines).
    """
    import hashlib

    if os.environ.get("LMBENCH_MACHINE_ID"):  # where /proc is hidden, or to stand for another machine in tests
        return os.environ["LMBENCH_MACHINE_ID"]
    parts = [socket.gethostname()]
    for path in ("/proc/sys/kernel/random/boot_id", "/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            parts.append(open(path, encoding="ascii").read().strip())
        except OSError:
            parts.append("")
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append("")
    if not any(parts[1:]):  # no kernel identity to read: only this process's own token can match
        parts.append(uuid.uuid4().hex)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Holder:
    """The owner of a lease, as stored: ``machine`` (see :func:`machine_id`; None in rows written
    before schema 4, then the hostname decides) and ``generation`` (the fence, raised at each takeover)."""

    run_id: str
    token: str
    host: str
    pid: int
    proc_started: float | None
    started: float
    heartbeat: float
    machine: str | None = None
    generation: int = 1

    @classmethod
    def from_row(cls, row: Any) -> "Holder":
        return cls(row["run_id"], row["token"], row["host"], int(row["pid"]), row["proc_started"],
                   row["started"], row["heartbeat"], row.get("machine"), int(row.get("generation") or 1))

    def here(self) -> bool:
        """Whether the owner runs on this machine (and pid namespace), so that its pid can be checked."""
        if self.machine is not None:
            return self.machine == machine_id()
        return self.host == socket.gethostname()  # a row from before schema 4

    def alive(self, now: float | None = None, ttl: float | None = None) -> bool:
        """This machine: the pid still runs the process that took the lease; else a fresh heartbeat."""
        now = time.time() if now is None else now
        if self.here():
            if not pid_alive(self.pid):
                return False
            started = _process_started(self.pid)
            if started is not None and self.proc_started is not None and abs(started - self.proc_started) > 2.0:
                return False  # the pid was reused by another process
            return True
        return now - self.heartbeat < (ttl or lease_ttl())

    def describe(self) -> str:
        """``run X is being run by PID on HOST since T``."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"run {self.run_id} is being run by {self.pid} on {self.host} since {since}"


def new_holder(run_id: str) -> Holder:
    """A lease for this process."""
    now = time.time()
    pid = os.getpid()
    return Holder(run_id, uuid.uuid4().hex, socket.gethostname(), pid, _process_started(pid), now, now, machine_id())


class RunLease:
    """This process's lease on one run: acquire (or wait, or take over), heartbeat, release."""

    def __init__(self, store: Any, run_id: str, *, ttl: float | None = None):
        self.store = store
        self.run_id = run_id
        self.ttl = ttl or lease_ttl()
        self.me = new_holder(run_id)
        self.previous: Holder | None = None  # the dead owner taken over, if any
        self.lost = False
        self._beat: threading.Thread | None = None
        self._halt = threading.Event()

    def try_acquire(self) -> Holder | None:
        """Take the lease; return None on success, or the live holder that has it."""
        while True:
            holder = self.store.lease_insert(self.me)
            if holder is None or holder.token == self.me.token:
                self._fence()
                return None
            if holder.alive(ttl=self.ttl):
                return holder
            generation = self.store.lease_take_over(self.me, holder.token)
            if generation:
                self.me = replace(self.me, generation=generation)
                self.previous = holder
                self._fence()
                return None
            # another process took it over between our read and our update: look again

    def _fence(self) -> None:
        """From now on the store refuses this run's writes unless the lease is still ours."""
        if hasattr(self.store, "fence"):
            self.store.fence(self.me)

    def acquire(self, *, wait: bool | float = False, say: Callable[[str], None] | None = None,
                poll: float = 0.5) -> "RunLease":
        """Take the lease, waiting for a live holder when ``wait`` (True, or a number of seconds).

        Raises :class:`RunBusyError` (``run X is being run by PID on HOST since T``) when the run is
        held and we do not wait, or the wait ran out.
        """
        holder = self.try_acquire()
        if holder is None:
            return self
        if not wait:
            raise RunBusyError(f"{holder.describe()}; wait for it (lmbench run --wait) or stop that process")
        deadline = None if wait is True else time.monotonic() + float(wait)
        if say is not None:
            say(f"[dim]waiting: {holder.describe()}[/dim]")
        while holder is not None:
            if deadline is not None and time.monotonic() > deadline:
                raise RunBusyError(f"{holder.describe()}; gave up waiting after {float(wait):g} s")
            time.sleep(poll)
            holder = self.try_acquire()
        return self

    def start_heartbeat(self, on_lost: Callable[[str], None] | None = None,
                        parent_pid: int | None = None) -> None:
        """Beat every quarter of the TTL in a thread (its own store connection).

        ``on_lost(reason)`` is called when another process took the lease over (our beats stalled)
        or, with ``parent_pid``, when that parent process is gone (a sweep worker whose sweep died).
        """
        interval = max(min(self.ttl / 4, 15.0), 0.2)

        def beat() -> None:
            store = None
            warned = False
            while not self._halt.wait(interval):
                if parent_pid is not None and os.getppid() != parent_pid:
                    if on_lost is not None:
                        on_lost("parent gone")
                    return
                try:
                    store = store or self.store.reopen(timeout=5.0)
                    if not store.lease_heartbeat(self.me):
                        self.lost = True
                        log.warning("run %s was taken over by another process; stopping", self.run_id)
                        if on_lost is not None:
                            on_lost("lease lost")
                        break
                except Exception as exc:  # a busy or full store: the next beat tries again
                    if not warned:
                        log.debug("heartbeat of run %s failed: %s", self.run_id, exc)
                        warned = True
            if store is not None:
                store.close()

        self._beat = threading.Thread(target=beat, name=f"lease-{self.run_id}", daemon=True)
        self._beat.start()

    def release(self) -> None:
        """Stop beating and drop the lease (kept if the store cannot be written: the pid tells it is dead)."""
        self._halt.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if hasattr(self.store, "unfence"):
            self.store.unfence(self.run_id)
        if self.lost:
            return
        try:
            self.store.lease_release(self.me)
        except Exception as exc:  # disk full: a stale row of a dead pid is taken over next time
            log.debug("could not release the lease of run %s: %s", self.run_id, exc)


PARENT_ENV = "LMBENCH_PARENT_PID"


def parent_to_follow() -> int | None:
    """The sweep process this worker must not outlive (``LMBENCH_PARENT_PID``, read once), if any."""
    try:
        pid = int(os.environ.pop(PARENT_ENV, ""))  # popped: this process's own children follow it, not its parent
    except ValueError:
        return None
    return pid if pid > 0 else None


def die_with_parent(parent_pid: int) -> None:
    """Make this process get SIGTERM when ``parent_pid`` (its parent) dies (Linux ``PR_SET_PDEATHSIG``).

    SIGTERM stops a run cleanly (recorded ``interrupted``). Elsewhere, and as a second guard, the
    lease heartbeat checks the parent pid. If the parent is already gone, SIGTERM is sent at once.
    """
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)
