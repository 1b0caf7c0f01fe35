"""Nothing imported or merged escapes the store (issue 27, item 3): every record entering a store is
checked first; a bad one is refused with its line or id and nothing of its source is written.
Destinations on SQLite and on the real PostgreSQL (``LMBENCH_TEST_POSTGRES``)."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest

from lmbench.errors import StoreError
from lmbench.store import Store
from lmbench.store.merge import MergeReport, jsonl_payloads, merge_into, merge_stores
from lmbench.store.pgtest import fresh_database, server_url
from lmbench.store.schema import SCHEMA_VERSION


@pytest.fixture(params=["sqlite", "postgresql"])
def destination(request, tmp_path):
    """An empty destination store: a SQLite folder, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield Store(tmp_path / "dst" / "store")
        return
    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    with fresh_database(url) as fresh:
        yield Store(fresh, artifacts=tmp_path / "dst" / "store")


def _good(run_id="goodrun1", **changes) -> dict:
    line = {"id": run_id, "label": "", "preset": "", "status": "done", "reason": None, "spec": {"model": {"name": "m"}},
            "env": {}, "command": "lmbench run", "run_dir": f"/old/place/{run_id}", "created": 1.0, "updated": 2.0,
            "attempts": 1, "results": {"val_loss": 2.5}, "steps": {"loss": [[0, 3.0], [1, 2.0]]},
            "measurements": {}, "schema_version": SCHEMA_VERSION}
    line.update(changes)
    return line


BAD_LINES = [
    (_good("../../../../x"), "runs.jsonl:2: run id '../../../../x' is not a run id"),
    (_good("/etc/cron.d"), "runs.jsonl:2: run id '/etc/cron.d' is not a run id"),
    (_good("a/b"), "runs.jsonl:2: run id 'a/b' is not a run id"),
    (_good("..hidden"), "runs.jsonl:2: run id '..hidden' is not a run id"),
    (_good(run_dir="/home/someone/.ssh"), "runs.jsonl:2 (run goodrun1): run_dir '/home/someone/.ssh' is not the run's own folder"),
    (_good(status="exploded"), "runs.jsonl:2 (run goodrun1): status 'exploded' is not one of done, failed"),
    (_good(results=[1, 2]), "runs.jsonl:2 (run goodrun1): results must be a JSON object, got list"),
    (_good(spec="x"), "runs.jsonl:2 (run goodrun1): spec must be a JSON object, got str"),
    (_good(created=float("nan")), "runs.jsonl:2 (run goodrun1): created is nan, not a finite number"),
    (_good(updated="soon"), "runs.jsonl:2 (run goodrun1): updated is 'soon', not a finite number"),
    (_good(attempts=-1), "runs.jsonl:2 (run goodrun1): attempts is -1, not a whole number >= 1"),
    (_good(steps={"loss": [[0, "abc"]]}), "runs.jsonl:2 (run goodrun1): step 0 of 'loss' has value 'abc', not a number"),
    (_good(steps={"loss": [[-3, 1.0]]}), "runs.jsonl:2 (run goodrun1): step -3 of 'loss' is not a whole number >= 0"),
    (_good(steps={"loss": 5}), "runs.jsonl:2: steps must map each name to [[step, value], ...]"),
    (_good(schema_version=SCHEMA_VERSION + 1),
     f"runs.jsonl:2 has store schema version {SCHEMA_VERSION + 1}, newer than this lmbench's {SCHEMA_VERSION}"),
]


@pytest.mark.parametrize("bad, first_line", BAD_LINES, ids=[str(i) for i in range(len(BAD_LINES))])
def test_a_bad_export_line_is_refused_and_nothing_is_imported(destination, bad, first_line):
    text = json.dumps(_good("fine0001")) + "\n" + json.dumps(bad, allow_nan=True) + "\n"
    with pytest.raises(StoreError) as err:
        merge_into(destination, jsonl_payloads(io.StringIO(text), "runs.jsonl"), "runs.jsonl", MergeReport())
    assert str(err.value).splitlines()[0].startswith(first_line), str(err.value)
    assert destination.runs() == []  # not even the good line before it
    assert not (destination.root.parent.parent / "x").exists()


def test_running_enters_as_interrupted_and_non_finite_values_as_missing(destination):
    line = _good(status="running", results={"val_loss": float("nan"), "ok": 1.0},
                 steps={"loss": [[0, float("nan")], [1, 2.0]]})
    report = merge_into(destination, jsonl_payloads(io.StringIO(json.dumps(line) + "\n"), "runs.jsonl"),
                        "runs.jsonl", MergeReport())
    record = destination.get("goodrun1")
    assert report.copied == ["goodrun1"] and record.status == "interrupted"
    assert record.reason.startswith("imported while running") and record.results == {"val_loss": None, "ok": 1.0}
    assert record.run_dir == str((destination.root / "goodrun1").absolute())
    steps = destination.steps("goodrun1")["loss"]
    assert steps[1] == (1, 2.0) and steps[0][1] != steps[0][1]  # NaN: recorded as missing


def _source_with(tmp_path, run_id: str) -> Store:
    src = Store(tmp_path / "src")
    src.start_run(run_id, {"model": {"name": "m"}})
    src.finish_run(run_id, "done", results={"val_loss": 1.0})
    return src


def test_merge_refuses_a_run_id_that_leaves_the_destination(destination, tmp_path):
    """The issue's case: a source run ``../../../../x`` made merge write ``authorized_keys`` outside."""
    src = _source_with(tmp_path, "../../../../x")
    (src.root / "x").mkdir()
    (src.root / "x" / "authorized_keys").write_text("ssh-ed25519 AAAA attacker\n")
    with pytest.raises(StoreError, match=r"run id '\.\./\.\./\.\./\.\./x' is not a run id"):
        merge_stores([Store(src.root, readonly=True)], destination)
    assert destination.runs() == [] and not (destination.root / "../../../../x").resolve().exists()
    assert [p for p in tmp_path.rglob("authorized_keys")] == [src.root / "x" / "authorized_keys"]


def test_merge_refuses_a_run_folder_with_a_symlink_out(destination, tmp_path):
    src = _source_with(tmp_path, "linkrun1")
    secret = tmp_path / "secret.txt"
    secret.write_text("private\n")
    (src.root / "linkrun1").mkdir()
    (src.root / "linkrun1" / "notes.txt").symlink_to(secret)
    with pytest.raises(StoreError, match=r"run linkrun1\): its run folder holds a symlink \(notes.txt\)"):
        merge_stores([Store(src.root, readonly=True)], destination)
    assert destination.runs() == []


def test_merge_refuses_a_source_from_a_newer_lmbench(destination, tmp_path):
    src = _source_with(tmp_path, "newrun01")
    src.close()
    with sqlite3.connect(tmp_path / "src" / "lmbench.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match=f"has store schema version 99, newer than this lmbench's {SCHEMA_VERSION}; "
                                         "upgrade lmbench"):
        merge_stores([Store(tmp_path / "src", readonly=True)], destination)
    assert destination.runs() == []


def test_a_good_source_still_merges(destination, tmp_path):
    src = _source_with(tmp_path, "okrun001")
    (src.root / "okrun001").mkdir()
    (src.root / "okrun001" / "log.txt").write_text("hello\n")
    report = merge_stores([Store(src.root, readonly=True)], destination)
    assert report.copied == ["okrun001"] and (destination.root / "okrun001" / "log.txt").read_text() == "hello\n"


def test_a_store_never_names_a_folder_outside_itself(tmp_path):
    store = Store(tmp_path / "s")
    for bad in ("../x", "/etc", "a/b", "..", "", "x/../../y"):
        with pytest.raises(StoreError, match="cannot name a run folder"):
            store.run_dir(bad)
    assert store.run_dir("abc-1.2_3") == tmp_path / "s" / "abc-1.2_3"
