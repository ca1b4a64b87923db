"""Readers: every format, gzip, nested fields, and bad lines counted with their line numbers."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.errors import ScanError
from auditor.scan.read import MAX_LINE_BYTES, RecordStream, check_readable, infer_format


def records(path: Path, fields: list[str], fmt: str | None = None, user: str | None = None) -> RecordStream:
    f, compressed = infer_format(path, fmt)
    check_readable(path, f, compressed)
    return RecordStream(path, f, compressed, fields, user)


def test_jsonl_bad_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "one"}\n{not json}\n\n{"text": "bad \xff utf8"}\n[1, 2]\n{"text": "five"}\n')
    stream = records(path, ["text"])
    texts = [r.texts[0].text for r in stream]
    assert texts == ["one", "five"]
    assert [(p.line, p.reason.split(" ")[0]) for p in stream.problems] == [(2, "invalid"), (4, "invalid"),
                                                                          (5, "a")]
    assert stream.problems_total == 3
    assert all("not json" not in p.reason and "bad" not in p.reason for p in stream.problems)


def test_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "one"}\n{"text": "two"}\n')
    stream = records(path, ["text"])
    assert [r.texts[0].text for r in stream] == ["one", "two"] and stream.problems_total == 0


def test_oversized_line_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"text": "first"}\n{"text": "')
        handle.write(b"a" * (MAX_LINE_BYTES * 6))          # a ~50 MB single line
        handle.write(b'"}\n{"text": "last"}\n')
    stream = records(path, ["text"])
    assert [r.texts[0].text for r in stream] == ["first", "last"]
    assert stream.problems[0].line == 2 and "too long" in stream.problems[0].reason
    assert [r.line for r in records(path, ["text"])] == [1, 3]


def test_nested_dotted_paths_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl.gz"
    row = {"meta": {"user": {"id": 7}}, "messages": [{"role": "user", "content": "hi"},
                                                      {"role": "assistant", "content": "hello"}]}
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
    stream = records(path, ["messages.content"], user="meta.user.id")
    (record,) = list(stream)
    assert [(u.field, u.path, u.text) for u in record.texts] == [
        ("messages[0].content", "messages.content", "hi"), ("messages[1].content", "messages.content", "hello")]
    assert record.user_id == "7"


def test_unknown_field_lists_the_fields_that_exist(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "x", "label": 1}\n', encoding="utf-8")
    with pytest.raises(ScanError, match=r"d\.jsonl: text field 'text' not found .*fields present: body, label"):
        list(records(path, ["text"]))


def test_field_names_that_look_like_data_are_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "x", "wanda.quist77@example.com": 1}\n', encoding="utf-8")
    with pytest.raises(ScanError) as info:
        list(records(path, ["text"]))
    assert "fields present: body (and 1 more not shown)" in str(info.value)
    assert "wanda" not in str(info.value)


def test_csv_and_parquet_and_text(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerow(["1", "multi\nline"])
        writer.writerow(["2"])
        writer.writerow(["3", "three"])
    stream = records(path, ["text"])
    assert [r.texts[0].text for r in stream] == ["multi\nline", "three"]
    assert stream.problems_total == 1 and "columns" in stream.problems[0].reason

    table = pa.table({"text": ["a", "b", None], "nested": [{"t": "x"}, {"t": "y"}, {"t": "z"}]})
    pq.write_table(table, tmp_path / "d.parquet")
    got = [[u.text for u in r.texts] for r in records(tmp_path / "d.parquet", ["text", "nested.t"])]
    assert got == [["a", "x"], ["b", "y"], ["z"]]

    (tmp_path / "d.txt").write_text("line one\n\nline two\n", encoding="utf-8")
    assert [r.texts[0].text for r in records(tmp_path / "d.txt", ["text"])] == ["line one", "line two"]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.jsonl", None, "no such file"),
    ("empty.jsonl", b"", "empty"),
    ("blob.jsonl", b"\x00\x01\x02binary", "binary"),
    ("data.xyz", b"x", "cannot tell the format"),
])
def test_unreadable_inputs(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ScanError, match=message) as info:
        records(path, ["text"])
    assert str(info.value).startswith(str(path))
