"""The runner: turns a spec into runs, executes each recipe, and records what happened.

``Runner.plan`` expands variants, resolves and validates each, checks every component against
what its recipe declares it needs (:mod:`lmbench.run.preflight`), so a bad key or a model missing a
method fails before any work, and computes each run's content-addressed id. ``Runner.execute`` runs one planned run:
it skips a run already ``done`` (unless ``force``), picks and configures the device, seeds,
captures the environment, calls the recipe with a :class:`lmbench.run.context.Run`, and records
the outcome. Failures are results: NaN/inf -> ``nan``, out-of-memory -> ``oom``, timeout ->
``timeout``, Ctrl-C -> ``interrupted``, anything else -> ``failed`` with a one-line reason (the
traceback goes to the run folder's ``error.txt``) that names the recipe's stage it failed in
(``failed in generation: ...``); results the recipe recorded before a failure are kept.

One process runs a given run at a time: ``execute`` takes the run's lease (:mod:`lmbench.store.lease`)
first, and waits (``wait``) or fails with the owner named; a dead owner's run is taken over. Sane
limits (:mod:`lmbench.spec.limits`) are checked when planning, and the memory estimate before a run starts.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..spec.config import ResolvedSpec, dump_toml, expand_variants, resolve
from . import warning_signal
from .context import DistInfo, Run, StopFlag
from ..errors import LeaseLostError, LmbenchError, NonFiniteError, StoreError, UnknownNameError
from ..files import SafeFileHandler, finite_json, write_text
from .identity import code_hashes, combined_hash
from ..store.lease import RunLease, die_with_parent, parent_to_follow
from ..spec.limits import check_limits, check_memory
from ..plugin.host import PluginHost, default_host, format_traceback
from .preflight import check as check_contracts
from ..store import RunRecord, Store, content_id
from .device import configure_torch, pick_device, seed_everything
from .run_id import execution_identity, identity_spec

log = logging.getLogger("lmbench")

#: Signals that stop a run cleanly (recorded as "interrupted"), with their names in the reason; the
#: scheduler's warning signal (SLURM's ``--signal``, see :mod:`lmbench.warning_signal`) is one.
_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", **warning_signal.NAMES}


@dataclass
class PlannedRun:
    """A resolved variant with its run id, ready to execute."""

    label: str
    resolved: ResolvedSpec
    run_id: str
    spec_id: str = ""  # the id without the code hash: what ``--reuse-stale`` looks runs up by
    code: dict[str, str] = field(default_factory=dict)  # per-package code hashes (core and plugins used)


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA or MPS), Python's MemoryError, or an allocator's 'out of memory'."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def data_fingerprint(resolved: ResolvedSpec) -> str | None:
    """The dataset's own cheap fingerprint (``fingerprint(config)``), if it has one."""
    component = resolved.components.get("dataset")
    if component is None:
        return None
    factory = component.entry.load()
    fingerprint = getattr(factory, "fingerprint", None)
    return str(fingerprint(component.config)) if callable(fingerprint) else None


class Runner:
    """Plans and executes runs against one store with one plugin host."""

    def __init__(self, store: Store | None, host: PluginHost | None = None, *, console: Any = None,
                 force: bool = False, progress: bool = True, dist: DistInfo | None = None,
                 wait: bool | float = False, force_memory: bool | None = None, reuse_stale: bool = False,
                 target: dict[str, Any] | None = None):
        self.store = store
        self.target = target  # where a launcher runs the planned runs, if not here (lmbench.run.run_id)
        self.reuse_stale = reuse_stale  # reuse a done run of the same spec made by older code (``--reuse-stale``)
        self.wait = wait  # when another process runs the same run: wait for it (True or seconds), or exit 2
        self.force_memory = force_memory  # run even when the memory estimate exceeds free memory
        self.host = host or default_host()
        self.console = console
        self.force = force
        self.dist = dist or DistInfo.from_env()
        self.show_progress = progress
        self.stop = StopFlag()
        self.stop_signal = signal.SIGINT  # which signal stopped the run, for the reason and exit code
        self.parent_pid = parent_to_follow()  # a sweep's worker process: it must not outlive the sweep
        if self.parent_pid is not None:
            die_with_parent(self.parent_pid)

    # -- planning ------------------------------------------------------------------------------
    def plan(self, spec: dict[str, Any], *, only: tuple[str, ...] = ()) -> list[PlannedRun]:
        """Expand variants, resolve and validate each, and compute its id (no work is done)."""
        planned = []
        variants = expand_variants(spec)
        labels = [label for label, _ in variants]
        for wanted in only:
            if wanted not in labels:
                raise UnknownNameError("variant", wanted, labels)
        for label, variant in variants:
            if only and label not in only:
                continue
            try:
                resolved = resolve(variant, self.host.registries)
                check_limits(resolved)
                reporters = self.host.registries.reporters
                for fmt in (getattr(resolved.harness.get("report"), "formats", None) or ()) if len(reporters) else ():
                    reporters.get(fmt, prefer_plugin="core")  # an unknown format fails now, not after the run
                check_contracts(resolved)  # every component fits its recipe, before any run starts
            except LmbenchError as exc:
                if len(variants) > 1:  # name the variant the error is in
                    exc.args = (f"variant '{label}': {exc.args[0] if exc.args else exc}", *exc.args[1:])
                raise
            planned.append(self._planned(resolved.run.label or label, resolved))
        return planned

    def _planned(self, label: str, resolved: ResolvedSpec) -> PlannedRun:
        """A planned run with its ids; with ``reuse_stale``, the id of a done run made by older code."""
        spec_id, code = self.spec_id(resolved), self.code_hashes(resolved)
        run_id = content_id(spec_id, combined_hash(code))
        if self.reuse_stale and self.store is not None:
            current = self.store.find(run_id)
            if current is None or current.status != "done":  # the current code's run, when done, wins
                stale = self.store.find_done_by_spec_id(spec_id)
                run_id = stale.id if stale is not None else run_id
        return PlannedRun(label, resolved, run_id, spec_id, code)

    def spec_id(self, resolved: ResolvedSpec) -> str:
        """Hash of the resolved spec (minus the keys that cannot change a result), the versions of the
        plugins it uses, the dataset's fingerprint and how it executes (device kind, world size, node
        count, deterministic mode: :mod:`lmbench.run.run_id`): the run's identity apart from its code."""
        spec = identity_spec(resolved.spec)  # every key that can change a result (lmbench.run.run_id)
        plugins = sorted({c.entry.plugin for c in resolved.components.values()})
        versions = {p: self.host.versions.get(p, "?") for p in plugins}
        return content_id(spec, versions, data_fingerprint(resolved), execution_identity(resolved.spec, self.dist, self.target))

    def code_hashes(self, resolved: ResolvedSpec) -> dict[str, str]:
        """Per-package hashes of the core's code and of every plugin the run uses (cached per process)."""
        plugins = sorted({c.entry.plugin for c in resolved.components.values()})
        infos = self.host.plugins
        return code_hashes({p: infos[p].module if p in infos else "" for p in plugins})

    def run_id(self, resolved: ResolvedSpec) -> str:
        """The run's id: its :meth:`spec_id` and the hash of the code that computes it
        (:mod:`lmbench.run.identity`), so an edited plugin gives a new run."""
        return content_id(self.spec_id(resolved), combined_hash(self.code_hashes(resolved)))

    # -- executing ----------------------------------------------------------------------------
    def run_spec(self, spec: dict[str, Any], *, command: str = "", only: tuple[str, ...] = (),
                 group_kind: str = "run", group_name: str | None = None) -> tuple[str, list[RunRecord]]:
        """Plan, then execute every run in order; record the group; return (group id, records)."""
        planned = self.plan(spec, only=only)
        group_id = content_id(group_kind, group_name, [p.run_id for p in planned])
        if self.store is not None and self.dist.is_main:
            self.store.add_group(group_id, group_kind, group_name or spec.get("preset") or "", command, spec,
                                 [p.run_id for p in planned], labels=[p.label for p in planned])
        records = []
        with self._interrupt_handler():
            for p in planned:
                per_run = command + (f" --only {shlex.quote(p.label)}" if len(planned) > 1 and p.label else "")
                records.append(self.execute(p, command=per_run))
                if self.stop.reason == "interrupted":
                    break
        return group_id, records

    def execute(self, planned: PlannedRun, *, command: str = "") -> RunRecord:
        """Run one planned run and record its outcome; return its stored record."""
        run_id = planned.run_id
        if self.store is not None and not self.force:  # every rank reads this, so all ranks agree
            existing = self.store.find(run_id)
            if existing is not None and existing.status == "done":
                self._say(f"[dim]skip {planned.label or run_id}: already done ({run_id})[/dim]")
                return existing
        lease = None
        if self.store is not None and self.dist.is_main:  # one process per run: wait, take over, or exit 2
            lease = RunLease(self.store, run_id).acquire(wait=self.wait, say=self._say)
            if lease.previous is not None:
                self._say(f"[yellow]taking over[/yellow] {run_id}: its owner (pid {lease.previous.pid} on "
                          f"{lease.previous.host}) is gone; resuming")
        try:
            again = self.store.find(run_id) if lease is not None and not self.force else None
            if again is not None and again.status == "done":  # finished by the owner we waited for
                self._say(f"[dim]skip {planned.label or run_id}: done by another process ({run_id})[/dim]")
                return again
            return self._execute_held(planned, command, lease)
        finally:
            if lease is not None:
                lease.release()

    def _execute_held(self, planned: PlannedRun, command: str, lease: RunLease | None) -> RunRecord:
        """Execute a run whose lease this process holds (or that has no store)."""
        resolved, run_id = planned.resolved, planned.run_id
        store = self.store if self.dist.is_main else None  # only rank 0 writes
        device = pick_device(resolved.run.device)
        if self.dist.enabled and device.startswith("cuda"):
            device = f"cuda:{self.dist.local_rank}"
        run_dir = (self.store.run_dir(run_id) if self.store is not None  # the same folder on every rank
                   else Path(os.environ.get("LMBENCH_STORE", "runs")) / run_id)
        check_memory(resolved, device, force=self.force_memory)
        if self.force and store is not None:
            _clear_checkpoints(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LmbenchError(f"cannot create run folder {run_dir}: {exc.strerror or exc}") from exc
        if lease is not None:
            from .checkpoint import remove_stale_temp_files

            remove_stale_temp_files(run_dir)  # we own the run: temporary files are a dead process's
            if self.store.url is not None and not self.force:  # a takeover: the checkpoint where the run wrote it
                from ..store.artifacts import fetch_checkpoints

                with self.store.reading() as c:
                    found = fetch_checkpoints(c, run_dir)
                if found is not None:
                    self._say(f"resuming {run_id} from the checkpoint it wrote in {found}")
        if self.dist.is_main:
            write_text(run_dir / "spec.json", json.dumps(resolved.spec, indent=2, sort_keys=True))
            write_text(run_dir / "spec.toml", dump_toml(resolved.spec))
        from ..measure.env import capture_environment

        env = capture_environment(self.host.versions, device=device, seed=resolved.run.seed)
        env["world_size"] = self.dist.world_size
        env["spec_id"], env["code"] = planned.spec_id, planned.code  # see lmbench.run.identity
        if self.dist.is_main:
            write_text(run_dir / "env.json", json.dumps(env, indent=2, default=str))
        if store is not None:
            store.start_run(run_id, resolved.spec, label=planned.label, preset=str(resolved.spec.get("preset", "")),
                            command=command, env=env)
        self.stop.deadline = time.monotonic() + resolved.run.timeout if resolved.run.timeout else None
        if self.stop.reason != "interrupted":  # a SIGTERM while the run was starting still stops it
            self.stop.reason = None
        if lease is not None:
            lease.start_heartbeat(on_lost=lambda why: self.stop.set("interrupted"), parent_pid=self.parent_pid)
        self._say(f"[bold]run[/bold] {planned.label or resolved.components['recipe'].entry.name} "
                  f"[dim]{run_id} on {device}[/dim]")
        status, reason, results = "failed", None, {}
        with _file_log(run_dir / "log.txt" if self.dist.is_main else None), self._progress() as progress:
            run = Run(run_id=run_id, run_dir=run_dir, resolved=resolved, host=self.host, store=store,
                      device=device, dist=self.dist, stop=self.stop, progress=progress)
            try:
                seed_everything(resolved.run.seed)
                configure_torch(resolved, device)
                if self.dist.enabled:
                    from .distributed import init_process_group

                    init_process_group(device)
                self.host.call("lmbench_run_start", strict=True, run=run)
                recipe = run.build("recipe")
                results = {**run.results, **dict(recipe.run(run) or {})}
                status = self.stop.reason or "done"
                if status == "timeout":
                    reason = f"timeout after {resolved.run.timeout:g} s"
                elif status == "interrupted":
                    reason = f"interrupted ({_SIGNAL_NAMES[self.stop_signal]})"
            except LeaseLostError as exc:  # paused past the lease: the run is another process's now
                status, reason = "interrupted", str(exc)
                if lease is not None:
                    lease.lost = True
            except NonFiniteError as exc:
                status, reason = "nan", str(exc)
            except KeyboardInterrupt:
                status, reason = "interrupted", f"interrupted ({_SIGNAL_NAMES[self.stop_signal]})"
                self.stop.set("interrupted")
            except LmbenchError as exc:
                status, reason = "failed", str(exc)
                self._write_error(run_dir, exc)
            except BaseException as exc:  # a crash is a result, not a lost run
                if is_out_of_memory(exc):
                    status, reason = "oom", f"out of memory: {str(exc).splitlines()[0][:200] if str(exc) else exc}"
                else:
                    status, reason = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                self._write_error(run_dir, exc)
            finally:
                if status != "done":
                    results = {**run.results, **results}  # what the recipe recorded before failing
                    if run.failed_stage and reason and status in ("failed", "oom", "nan"):
                        reason = f"failed in {run.failed_stage}: {reason}"
                recorded = store is not None and not (lease is not None and lease.lost)
                if recorded:
                    try:
                        store.finish_run(run_id, status, reason=reason, results=results)
                    except StoreError as exc:  # e.g. disk full: what was recorded before stays
                        log.error("could not record the end of run %s: %s", run_id, exc)
                        status, reason, recorded = "failed", str(exc), False
                if self.dist.is_main and not (lease is not None and lease.lost):  # no report over the new owner's
                    errors = self.host.call("lmbench_run_end", run=run,
                                            result={"status": status, "reason": reason, **results})
                    for error in errors:
                        log.warning(error)
        if lease is not None and lease.lost:  # one line, and this process stops (see lmbench.store.lease)
            raise LeaseLostError(reason if status == "interrupted" and reason and "taken over" in reason else
                                 f"run {run_id} was taken over by another process; stopping without writing")
        self._say(_outcome_line(planned.label or run_id, status, reason, results))
        if not recorded:
            return RunRecord(run_id, planned.label, "", status, reason, resolved.spec, env, command, str(run_dir),
                             time.time(), time.time(), 1, finite_json(results))
        return store.get(run_id)

    # -- helpers -------------------------------------------------------------------------------
    def _write_error(self, run_dir: Path, exc: BaseException) -> None:
        """The traceback goes to error.txt (error-rank<N>.txt off rank 0, which also says it on stderr)."""
        name = "error.txt" if self.dist.is_main else f"error-rank{self.dist.rank}.txt"
        try:
            (run_dir / name).write_text(format_traceback(exc))
        except OSError:  # a full disk: the reason is still recorded in the store
            pass
        if not self.dist.is_main:
            log.error("rank %d failed: %s: %s", self.dist.rank, type(exc).__name__, exc)

    def _say(self, message: str) -> None:
        if self.console is not None and self.dist.is_main:
            self.console.print(message)

    @contextmanager
    def _progress(self) -> Iterator[Any]:
        if not self.show_progress or self.console is None or not self.dist.is_main:
            yield None
            return
        from .progress import ProgressDisplay

        with ProgressDisplay(self.console) as display:
            yield display

    @contextmanager
    def _interrupt_handler(self) -> Iterator[None]:
        """The first Ctrl-C (or SIGTERM, or the scheduler's warning signal) asks the recipe to stop (it
        saves and returns); a second Ctrl-C raises. A repeated SIGTERM or warning signal (a supervisor,
        a dying sweep, SLURM signalling every process of the job) only repeats the request to stop."""
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self.stop.reason == "interrupted":
                if signum != signal.SIGINT:  # SIGTERM, the warning signal: already stopping
                    return
                raise KeyboardInterrupt
            self.stop.set("interrupted")
            self.stop_signal = signal.Signals(signum)
            log.warning("%s: stopping after this step (again to abort at once)", _SIGNAL_NAMES[self.stop_signal])

        previous = {sig: signal.signal(sig, handler) for sig in _SIGNAL_NAMES}
        early = warning_signal.pending()  # it came while lmbench was starting: stop at once
        if early is not None:
            handler(early, None)
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _clear_checkpoints(run_dir: Path) -> None:
    import shutil

    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)


def _outcome_line(name: str, status: str, reason: str | None, results: dict[str, Any]) -> str:
    if status == "done":
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in list(results.items())[:6])
        return f"[green]done[/green] {name}: {shown}"
    return f"[red]{status}[/red] {name}: {reason}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@contextmanager
def _file_log(path: Path | None) -> Iterator[None]:
    """Copy lmbench's log records into the run folder's log.txt while the run lasts."""
    if path is None:
        yield
        return
    handler = SafeFileHandler(path)  # a full disk: one warning, not a traceback per record
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("lmbench")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
