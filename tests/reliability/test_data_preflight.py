"""Bad data is refused in the pre-flight, before a run is recorded (issue 27, item 8): binary and
non-UTF-8 text, binary or malformed JSON Lines, labels that are not strings or integers, and file
sets with no text, each one line with the file, the line or byte offset and the fix."""

from __future__ import annotations

import gzip
import json

import pytest

from lmbench.cli import main
from lmbench.run.data_checks import check_files
from lmbench.errors import FileFormatError

from .conftest import lm_spec


def _first_line(capsys, argv) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    _, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert exit_info.value.code == 2 and len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("name, content, expected", [
    ("bad.bin.txt", b"hello\x00\x01\x02", "bad.bin.txt: byte 5 is a NUL byte: a binary file, not text; "
                                          "remove it from dataset.path"),
    ("latin1.txt", "caf\u00e9 au lait\n".encode("latin-1"),
     "latin1.txt: byte 3 is not utf-8 (b'\\xe9 au'); convert the file (iconv -f <its encoding> -t utf-8) "
     "or set dataset.encoding"),
])
def test_lm_text_refuses_binary_and_non_utf8_files_before_the_run(corpus, tmp_path, capsys, name, content, expected):
    (corpus / name).write_bytes(content)
    spec = lm_spec(corpus)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    store = tmp_path / "store"
    line = _first_line(capsys, ["run", "--spec-json", str(spec_file), "--store", str(store)])
    assert line == f"error: {corpus / name}: {expected.split(': ', 1)[1]}"
    assert not (store / "lmbench.sqlite").exists() or "running" not in (store / "lmbench.sqlite").read_bytes().decode(
        "latin-1")


def test_a_folder_of_empty_files_is_named_not_an_empty_split(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    for i in range(3):
        (folder / f"d{i}.txt").write_text("  \n")
    with pytest.raises(FileFormatError, match=r"^dataset.path=.*empty: every file is empty; give files with text"):
        check_files(str(folder))


@pytest.mark.parametrize("rows, expected", [
    ([{"text": "a", "label": None}], ":2: label is null, not a string or an integer; fix that line's label"),
    ([{"text": "a", "label": [1, 2]}], ":2: label is [1, 2], not a string or an integer"),
    ([{"text": "a", "label": {"x": 1}}], ":2: label is {\"x\": 1}, not a string or an integer"),
    ([{"text": "a", "label": 1.5}], ":2: label is 1.5, not a string or an integer"),
    (["just a string"], ":2: a JSON str, not an object; give one JSON object a line"),
])
def test_jsonl_labels_and_rows_are_checked_with_their_line(tmp_path, rows, expected):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"text": "ok", "label": "pos"}, *rows]) + "\n")
    with pytest.raises(FileFormatError) as err:
        check_files(str(path))
    assert str(err.value) == f"{path}{expected}" or str(err.value).startswith(f"{path}{expected}")


def test_binary_and_broken_jsonl_files_are_named(tmp_path):
    binary = tmp_path / "poems.jsonl"
    binary.write_bytes(b'{"text": "x"}\n\x00\x00\x89PNG\n')
    with pytest.raises(FileFormatError, match=r"poems.jsonl:2: a NUL byte: a binary file, not JSON Lines"):
        check_files(str(binary))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"text": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(FileFormatError, match=r"latin.jsonl:1: byte 13 of the line is not UTF-8"):
        check_files(str(latin))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(FileFormatError, match=r"broken.jsonl.gz: cannot be read"):
        check_files(str(broken))
    bad_json = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad_json, "wt") as handle:
        handle.write('{"text": "a"}\n{"text": \n')
    with pytest.raises(FileFormatError, match=r"bad.jsonl.gz:2: not JSON \(Expecting value at column 1\)"):
        check_files(str(bad_json))
