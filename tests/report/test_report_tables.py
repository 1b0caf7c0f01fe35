"""Shared table logic: columns, spread, best per column, failed runs shown as what they are."""

from __future__ import annotations

from lmbench.report.tables import collect_columns, fmt_number, fmt_spread, results_table, status_text
from lmbench.stats import summarize
from lmbench.store import RunRecord


def _record(status="done", reason=None, results=None, label="r", seed=0):
    return RunRecord(id=f"id{label}{seed}", label=label, preset="", status=status, reason=reason,
                     spec={"run": {"seed": seed}}, env={}, command="lmbench run", run_dir="", created=0, updated=0,
                     attempts=1, results=results or {})


def test_status_text_names_failures():
    assert status_text(_record()) == "ok"
    assert status_text(_record("oom", "out of memory: CUDA out of memory")) == "OOM"
    assert status_text(_record("oom", "out of memory at seq_len=16384")) == "OOM at seq_len=16384"
    assert status_text(_record("nan", "non-finite train_loss at step 12 (nan)")) == "NaN at step 12"
    assert status_text(_record("failed", "ValueError: bad shape")) == "failed: ValueError: bad shape"
    assert status_text(_record("timeout", "timeout after 60 s")) == "timeout"
    assert len(status_text(_record("failed", "x" * 500))) <= 60


def test_numbers_are_compact_and_spread_is_shown():
    assert fmt_number(3.14159) == "3.142"
    assert fmt_number(20500.0) == "20.5k"
    assert fmt_number(1_234_567) == "1.23M"
    assert fmt_number(12) == "12"
    assert fmt_number(100_000.0, 3) == "100k" and fmt_number(999_960.0) == "1M"  # never "1e+02k" nor "1000k"
    assert fmt_number(float("nan")) == "nan"
    assert fmt_spread(summarize([1.0, 1.1, 1.2])) == "1.1 ± 0.25"  # mean ± 95% CI (t with 2 dof): as the terminal
    assert fmt_spread(summarize([1.0, 1.1, 1.2]), style="tex") == "$1.1 \\pm 0.25$"
    assert fmt_spread(summarize([2.0])) == "2"


def test_quality_columns_come_before_cost():
    records = [_record(results={"params": 10, "train_tokens_per_s": 5.0, "val_loss": 1.0, "accuracy": 0.5})]
    assert [c.key for c in collect_columns(records)] == ["val_loss", "accuracy", "train_tokens_per_s", "params"]


def test_results_table_pools_seeds_keeps_failed_rows_and_bolds_best():
    records = [_record(results={"val_loss": 1.0 + s / 10, "train_tokens_per_s": 100.0}, label=f"a seed={s}", seed=s)
               for s in range(3)]
    records += [_record(results={"val_loss": 0.5, "train_tokens_per_s": 50.0}, label="b"),
                _record("oom", "out of memory", label="c"),
                _record("nan", "non-finite loss at step 3 (nan)", label="d")]
    table = results_table(records)
    labels = [r.label for r in table.rows]
    assert labels == ["a", "b", "c", "d"]
    assert table.rows[0].cells["val_loss"].summary.n == 3
    assert table.rows[1].cells["val_loss"].bold and not table.rows[0].cells["val_loss"].bold
    assert table.rows[0].cells["train_tokens_per_s"].bold
    body = table.body()
    assert [c.render() for c in body[2]][1:3] == ["OOM", "OOM"]
    assert body[3][1].render() == "NaN at step 3"
    assert body[0][1].render() == "ok (n=3)"  # the seed count lives in the status cell, not a column
    assert table.headers()[:2] == ["run", "status"]


def test_headline_holds_declared_headline_results_and_bolds_only_declared_directions():
    results = {"val_loss": 1.0, "val_ppl": 2.7, "test_ppl": 2.8, "val_bits_per_byte": 1.2, "train_tokens_per_s": 9e3,
               "peak_memory_bytes": 2**20, "params": 10, "train_seconds": 30.0, "step_time_ms": 4.0, "steps": 5,
               "my_score": 0.5}
    records = [_record(results={k: v * (1 + i / 10) for k, v in results.items()}, label=f"m{i}") for i in range(2)]
    for r in records:
        r.spec["recipe"] = {"name": "lm.train"}
    table = results_table(records)
    headers, body = table.headline()
    assert headers == ["run", "val loss ↓", "val ppl ↓", "test ppl ↓", "train tok/s ↑", "peak mem (MiB) ↓", "params"]
    assert body[0][1].bold and body[1][4].bold and not any(c.bold for c in body[0][6:] + body[1][6:])
    details, rows = table.details()
    assert details == ["run", "val bits/byte", "my_score*", "train (s)", "step (ms)", "steps"]
    assert not any(c.bold for row in rows for c in row)  # train_seconds is never "best" in the details


def test_old_result_names_are_read_under_the_new_ones():
    records = [_record(results={"train_time_s": 3.0, "stopped": "budget"}, label="old"),
               _record(results={"train_seconds": 4.0}, label="new")]
    table = results_table(records)
    assert [c.key for c in table.columns] == ["train_seconds"]
    assert table.renamed.seen == {"train_time_s": "train_seconds", "stopped": "stopped_by"}


def test_undeclared_results_stand_in_for_a_headline_marked_as_guessed():
    records = [_record(results={"my_accuracy": 0.9 - i / 10, "my_latency_ms": 3.0 + i}, label=f"p{i}") for i in range(2)]
    headers, body = results_table(records).headline()
    assert headers == ["run", "my_accuracy*", "my_latency_ms*"]
    assert not any(c.bold for row in body for c in row)  # a guessed direction never makes a value "best"


def test_partly_failed_seeds_are_counted():
    records = [_record(results={"val_loss": 1.0}, label="a seed=0"),
               _record("oom", "out of memory", label="a seed=1", seed=1)]
    row = results_table(records).rows[0]
    assert row.status == "1/2 ok; 1 OOM"
    assert row.cells["val_loss"].summary.n == 1


def test_same_label_different_specs_are_not_pooled():
    a = _record(results={"val_loss": 1.0}, label="lstm")
    b = _record(results={"val_loss": 2.0}, label="lstm", seed=1)
    b.spec = {"run": {"seed": 1}, "model": {"name": "lm.lstm", "hidden_size": 512}}
    rows = results_table([a, b]).rows
    assert [r.label for r in rows] == ["lstm [idlstm]", "lstm [idlstm1]"]
