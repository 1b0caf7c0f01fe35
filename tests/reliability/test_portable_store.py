"""Stores on read-only media and stores moved or copied elsewhere keep working for every read."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import pytest

from lmbench.cli import main
from lmbench.store import Store
from lmbench.testing import run_spec


def _two_runs(store_dir):
    a = run_spec({"recipe": {"name": "core.noop", "steps": 4}, "run": {"label": "a <b>"}}, store_dir)[0]
    b = run_spec({"recipe": {"name": "core.noop", "steps": 6}, "run": {"label": "b"}}, store_dir)[0]
    return a, b


def _read_only_commands(store_dir, a, b, out_dir, capsys):
    """show, export, report -o elsewhere and compare, in process; returns show's JSON."""
    for argv in (["export", "--store", str(store_dir)],
                 ["report", a.id, b.id, "--no-plots", "-o", str(out_dir), "--store", str(store_dir)],
                 ["compare", a.id, b.id, "--store", str(store_dir)]):
        main(argv)
    capsys.readouterr()
    main(["show", a.id, "--json", "--store", str(store_dir)])
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def read_only_mount(tmp_path):
    """A read-only bind mount of a folder (root on Linux), else the test is skipped."""
    source, target = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    target.mkdir()
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("needs Linux mount")
    done = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({done.stderr.strip() or 'not permitted'})")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], capture_output=True, text=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only ({remount.stderr.strip()})")
        yield source, target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_every_read_only_command_works_on_a_read_only_mount(read_only_mount, tmp_path, capsys):
    source, target = read_only_mount
    a, b = _two_runs(source / "store")
    shown = _read_only_commands(target / "store", a, b, tmp_path / "report", capsys)
    assert shown["status"] == "done" and shown["run_dir"] == str(target / "store" / a.id)
    assert "&lt;b&gt;" in (tmp_path / "report" / "report.md").read_text()


def test_a_store_whose_wal_cannot_be_shared_opens_immutable(tmp_path, monkeypatch):
    """The fallback a read-only medium needs, forced here by refusing the plain read-only open."""
    store_dir = tmp_path / "store"
    a, _ = _two_runs(store_dir)
    real_connect = sqlite3.connect
    uris = []

    def connect(database, *args, **kwargs):
        uris.append(str(database))
        if "mode=ro" in str(database) and "immutable=1" not in str(database):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    monkeypatch.setattr("lmbench.store.os.access", lambda *a: False)
    with Store(store_dir, readonly=True) as store:
        assert store.get(a.id).status == "done"
    assert any("immutable=1" in u for u in uris)


def test_a_copied_store_reads_its_own_run_folders(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = _two_runs("relstore")  # typed relative, as with --store relstore
    (tmp_path / "relstore" / a.id / "marker").write_text("copy")
    shutil.copytree(tmp_path / "relstore", tmp_path / "elsewhere" / "copy")
    (tmp_path / "elsewhere" / "copy" / a.id / "marker").write_text("the copy's own")
    shutil.rmtree(tmp_path / "relstore")
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.chdir(elsewhere)
    shown = _read_only_commands("copy", a, b, tmp_path / "report", capsys)
    run_dir = shown["run_dir"]
    assert run_dir.endswith(f"copy/{a.id}")
    with open(f"{run_dir}/marker") as handle:
        assert handle.read() == "the copy's own"
    with sqlite3.connect(elsewhere / "copy" / "lmbench.sqlite") as conn:
        assert {r[0] for r in conn.execute("SELECT run_dir FROM runs")} == {a.id, b.id}  # stored relative


def test_a_store_written_with_absolute_run_folders_still_reads_its_own(tmp_path):
    store_dir = tmp_path / "old"
    a, _ = _two_runs(store_dir)
    with sqlite3.connect(store_dir / "lmbench.sqlite") as conn:
        conn.execute("UPDATE runs SET run_dir=?", (f"/somewhere/else/{a.id}",))
    with Store(store_dir, readonly=True) as store:
        assert store.get(a.id).run_dir == str(store_dir / a.id)
