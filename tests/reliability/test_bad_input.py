"""Bad input fails before any training, with exit 2 and one line naming the problem."""

from __future__ import annotations

import json

import pytest

from lmbench.cli import main
from lmbench.spec.config import dump_toml
from lmbench.errors import FileFormatError, LimitError
from lmbench.store import Store
from lmbench.testing import run_spec

from .conftest import lm_spec


def _fails(capsys, argv, *expected):
    """Run the CLI in process: exit 2, one line on stderr containing every ``expected`` piece."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert exit_info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for piece in expected:
        assert piece in lines[0], lines[0]
    return out, lines[0]


@pytest.mark.parametrize("argv, expected", [
    (["--set", "recipe.max_steps=-5"], "recipe.max_steps must be >= 0 (got -5)"),
    (["--set", "run.timeout=-1"], "run.timeout = -1 is negative"),
    (["--nproc", "0"], "--nproc 0"),
    (["--set", "recipe.budget=1e400"], "recipe.budget = inf is not a finite number"),
])
def test_bad_lm_train_values_fail_before_training(corpus, tmp_path, capsys, argv, expected):
    spec = tmp_path / "spec.toml"
    spec.write_text(dump_toml(lm_spec(corpus)))
    out, _ = _fails(capsys, ["run", "-c", str(spec), "--dry-run", "--json", *argv], expected)
    assert "Infinity" not in out and "NaN" not in out


def test_negative_noop_steps_fail(capsys):
    _fails(capsys, ["run", "--plugin", "core.noop", "--set", "recipe.steps=-10", "--dry-run"], "recipe.steps = -10")


def test_a_batch_larger_than_memory_fails_up_front_with_estimate_and_limit(corpus, tmp_path, capsys, monkeypatch):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(lm_spec(corpus, batch_size=100_000_000)))
    store = tmp_path / "store"
    _, line = _fails(capsys, ["run", "--spec-json", str(spec), "--store", str(store), "--no-report"],
                     "lm.train needs at least", "iB of memory (estimated", "is free (available RAM)", "LMBENCH_FORCE_MEMORY=1")
    with Store(store, readonly=True) as s:
        assert s.runs() == []  # nothing started, nothing left running

    from lmbench.spec.limits import check_memory
    from lmbench.run.runner import Runner
    from lmbench.testing import fresh_host

    [planned] = Runner(None, fresh_host(entry_points=True)).plan(lm_spec(corpus, batch_size=100_000_000))
    with pytest.raises(LimitError):
        check_memory(planned.resolved, "cpu")
    assert check_memory(planned.resolved, "cpu", force=True) > 2**36  # forced: the estimate, no error
    [small] = Runner(None, fresh_host(entry_points=True)).plan(lm_spec(corpus))
    assert check_memory(small.resolved, "cpu") < 2**20


def test_run_ids_match_exactly_not_as_wildcards(tmp_path, capsys):
    store_dir = tmp_path / "store"
    [record] = run_spec({"recipe": {"name": "core.noop", "steps": 2}}, store_dir)
    for pattern in ("%", "_", record.id[:3] + "%", "_" * len(record.id)):
        _fails(capsys, ["show", pattern, "--store", str(store_dir)], f"'{pattern}'")
    main(["show", record.id[:5], "--store", str(store_dir)])  # a real prefix still works
    assert record.id in capsys.readouterr().out


def test_binary_spec_files_name_the_file_and_exit_2(tmp_path, capsys):
    binary = tmp_path / "spec.toml"
    binary.write_bytes(b"\x00\xff\xfe\x89PNG")
    _fails(capsys, ["run", "-c", str(binary), "--dry-run"], str(binary), "binary file")
    _fails(capsys, ["run", "--spec-json", str(binary), "--dry-run"], str(binary), "binary file")
    latin = tmp_path / "latin.toml"
    latin.write_bytes("[run]\nlabel = \"caf\xe9\"\n".encode("latin-1"))
    _fails(capsys, ["run", "-c", str(latin), "--dry-run"], str(latin), "is not utf-8 text")
    broken = tmp_path / "spec.json"
    broken.write_text("{\"recipe\": ")
    _fails(capsys, ["run", "--spec-json", str(broken), "--dry-run"], str(broken), "is not valid JSON (line 1")


def test_an_empty_seed_range_is_explained(capsys):
    _fails(capsys, ["sweep", "--plugin", "core.noop", "--seeds", "3-1", "--dry-run"], "range 3-1 is empty", "1-3")


def test_jsonl_files_empty_binary_or_malformed_are_named(tmp_path):
    pytest.importorskip("datasets")
    from lmbench_attention.data import read_rows

    cases = {"empty.jsonl": (b"", "is empty; expected JSON lines"),
             "binary.jsonl": (b"\x00\xff\xfe\x01garbage", "is not JSON lines"),
             "broken.jsonl": (b'{"text": "a", "label": 1}\n{broken\n', "is not JSON lines")}
    for name, (data, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(FileFormatError) as info:
            read_rows(path)
        assert str(path) in str(info.value) and expected in str(info.value)


def test_non_utf8_text_to_tinyshakespeare_names_the_file(tmp_path):
    from lmbench_lm.data import TinyShakespeare

    path = tmp_path / "input.txt"
    path.write_bytes("First Citizen:\nBefore we proceed \xff\xfe\n".encode("latin-1"))
    with pytest.raises(FileFormatError, match=f"text file {path} is not utf-8 text"):
        TinyShakespeare(TinyShakespeare.Config(path=str(path)))


def test_json_output_never_holds_nan_or_infinity(tmp_path, capsys):
    store_dir = tmp_path / "store"
    [record] = run_spec({"recipe": {"name": "core.noop", "steps": 5, "nan_at": 3}}, store_dir)
    assert record.status == "nan"
    with Store(store_dir) as store:
        store.add_measurement(record.id, "odd", {"mean": float("inf"), "rows": [[1.0, float("nan")]]})
        store.log_step(record.id, 4, {"loss": float("nan")})
    capsys.readouterr()

    def refuse(constant):
        raise AssertionError(f"{constant} in JSON output")

    main(["export", "--store", str(store_dir)])
    for line in capsys.readouterr().out.splitlines():  # the run, then its group
        json.loads(line, parse_constant=refuse)
    main(["show", record.id, "--json", "--store", str(store_dir)])
    json.loads(capsys.readouterr().out, parse_constant=refuse)


def test_markdown_escapes_html_from_labels_and_generated_text(tmp_path):
    from lmbench.report.document import Code, Document, Table, Text
    from lmbench.report.markdown import render_markdown

    doc = Document("<img src=x onerror=alert(1)>")
    doc.add(Text("label <script>alert(1)</script>"))
    doc.add(Table(["run"], [], "<b>caption</b>"))
    doc.add(Code("generated ``` <script>\n```"))
    text = render_markdown(doc, tmp_path)
    assert "<script>" not in text.replace("generated ``` <script>", "") and "<img" not in text
    assert "&lt;script&gt;" in text and "&lt;b&gt;caption" in text
    fence = "````"  # longer than the backticks inside the generated text
    assert f"{fence}\ngenerated ``` <script>\n```\n{fence}" in text
