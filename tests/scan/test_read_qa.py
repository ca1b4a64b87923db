"""Reader edge cases from the QA pass: damaged files, odd value types, data-derived keys, line numbers, messages.

Each test pins behaviour that was wrong before: a crash (internal error), a silently skipped value, a
shifted line number, or a key from the data echoed into a message.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.errors import ScanError
from auditor.scan.read import RecordStream, check_readable, infer_format


def records(path: Path, fields: list[str], fmt: str | None = None, user: str | None = None) -> RecordStream:
    f, compressed = infer_format(path, fmt)
    check_readable(path, f, compressed)
    return RecordStream(path, f, compressed, fields, user)


def unblock_fifo(fifo: Path, seconds: float = 3.0) -> None:
    """If the code under test opens ``fifo`` for reading (it must not), open and close its write end so the
    open returns (at end of file) and the test fails instead of hanging. Polls without blocking."""
    import errno
    import os
    import threading
    import time

    def writer() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    return
                time.sleep(0.05)

    threading.Thread(target=writer, daemon=True).start()


# --- bug 4: truncated / corrupt gzip ---------------------------------------------------------------------

def test_truncated_gzip_keeps_the_records_before_and_reports_the_line(tmp_path: Path) -> None:
    whole = gzip.compress(b'{"text": "x"}\n' * 20000)
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    stream = records(path, ["text"])
    got = list(stream)
    assert 0 < len(got) < 20000
    assert stream.problems_total == 1
    (problem,) = stream.problems
    assert problem.line == len(got) + 1          # the first line that could not be read
    assert "truncated" in problem.reason and "not scanned" in problem.reason


def test_corrupt_gzip_stream_is_a_read_error(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(("".join(json.dumps({"text": f"line {i}"}) + "\n" for i in range(5000)))
                                   .encode()))
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0x5A
    path = tmp_path / "c.txt.gz"
    path.write_bytes(bytes(data))
    stream = records(path, ["text"])
    got = list(stream)
    assert len(got) < 5000 and stream.problems_total == 1
    assert "gzip" in stream.problems[0].reason and stream.problems[0].line == len(got) + 1


# --- bug 5: damaged Parquet ------------------------------------------------------------------------------

def test_truncated_parquet_is_one_scan_error_naming_the_file(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": ["a"] * 100}), tmp_path / "p.parquet")
    data = (tmp_path / "p.parquet").read_bytes()
    path = tmp_path / "tr.parquet"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ScanError, match=r"tr\.parquet: not a readable Parquet file"):
        records(path, ["text"])
    gz = tmp_path / "tr.parquet.gz"
    gz.write_bytes(gzip.compress(data[: len(data) // 2]))
    with pytest.raises(ScanError, match=r"tr\.parquet\.gz: not a readable Parquet file"):
        list(records(gz, ["text"]))


def test_corrupt_parquet_row_group_is_counted_and_the_others_are_read(tmp_path: Path) -> None:
    path = tmp_path / "cp.parquet"
    pq.write_table(pa.table({"text": [f"row {i} mail x{i}@example.com" for i in range(300)]}), path,
                   row_group_size=100, compression="snappy")
    column = pq.ParquetFile(path).metadata.row_group(1).column(0)
    start = (column.dictionary_page_offset or column.data_page_offset) + 30
    data = bytearray(path.read_bytes())
    data[start:start + 40] = b"\xab" * 40
    path.write_bytes(bytes(data))
    stream = records(path, ["text"])
    lines = [r.line for r in stream]
    assert lines == list(range(1, 101)) + list(range(201, 301))     # numbers stay true past the gap
    assert [(p.line, "row group 1" in p.reason, "101-200" in p.reason) for p in stream.problems] == [
        (101, True, True)]


# --- bug 7: object-valued text fields ----------------------------------------------------------------------

def test_object_valued_text_field_yields_its_string_leaves(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    rows = [{"text": {"a": "mail jane.doe@example.com", "b": {"c": ["x", 7, True, None]}}},
            {"text": {"jane.doe@example.com": "hello", "phone_4155550132": "hi"}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    first, second = list(records(path, ["text"]))
    assert [(u.field, u.path, u.text) for u in first.texts] == [
        ("text.a", "text", "mail jane.doe@example.com"), ("text.b.c[0]", "text", "x"),
        ("text.b.c[1]", "text", "7")]
    # keys from the data never reach the concrete field name unmasked
    assert [u.field for u in second.texts] == ["text.<key#0>", "text.phone_<PHONE_NUMBER>"]

    pq.write_table(pa.table({"text": [{"subject": "hi", "body": "call 415"}]}), tmp_path / "s.parquet")
    (record,) = list(records(tmp_path / "s.parquet", ["text"]))
    assert [(u.field, u.text) for u in record.texts] == [("text.subject", "hi"), ("text.body", "call 415")]


# --- bug 8: user ids of any scalar type ----------------------------------------------------------------------

def test_parquet_user_ids_of_any_scalar_type(tmp_path: Path) -> None:
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    columns = {"decimal": [decimal.Decimal("1.50"), decimal.Decimal(2), None],
               "bytes": [b"u1", b"\xff\x00", None],
               "ts": [when, when + dt.timedelta(seconds=1), None],
               "day": [dt.date(2024, 1, 1), dt.date(2024, 1, 2), None],
               "flag": [True, False, None]}
    for name, values in columns.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"text": ["x", "y", "z"], "uid": values}), path)
        ids = [r.user_id for r in records(path, ["text"], user="uid")]
        assert ids[2] is None, name                               # null: a missing id, not a user
        assert ids[0] is not None and ids[1] is not None and ids[0] != ids[1], (name, ids)
    from auditor.scan.read import user_id_of

    assert user_id_of(decimal.Decimal("1.50")) == "1.50" and user_id_of(when) == "2024-05-01T12:30:00+00:00"
    assert user_id_of([None, 7]) == "7" and user_id_of([]) is None and user_id_of({"a": 1}) is None


def test_lone_surrogate_user_id_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "hi", "uid": "u\\ud800"}\n', encoding="utf-8")
    (record,) = list(records(path, ["text"], user="uid"))
    assert record.user_id == "u\ud800"


# --- bug 9: keys from the data in "fields present" -----------------------------------------------------------

def test_fields_present_masks_identifier_like_keys(tmp_path: Path) -> None:
    path = tmp_path / "k.jsonl"
    path.write_text('{"text_4539148803436467": 1, "data": {"jane.doe": {"phone_4155550132": 1}}, '
                    '"id_20240501123": 2, "to@x": 3}\n', encoding="utf-8")
    with pytest.raises(ScanError) as info:
        list(records(path, ["text"]))
    message = str(info.value)
    assert message.endswith("fields present: text_<CREDIT_CARD>, data, id_<DIGITS> (and 3 more not shown)")
    for value in ("4539148803436467", "jane", "4155550132", "20240501123", "to@x"):
        assert value not in message


# --- bug 10: CSV line numbers --------------------------------------------------------------------------------

def test_csv_line_numbers_are_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b'id,text\n1,ok\n2,\xff bad\n3,"a\nb"\n4,x,extra\n5,last\n')
    stream = records(path, ["text"])
    got = [(r.line, r.texts[0].text) for r in stream]
    assert got == [(2, "ok"), (4, "a\nb"), (7, "last")]        # a multi-line record: its first line
    assert [(p.line, p.reason.split(" ")[0]) for p in stream.problems] == [(3, "invalid"), (6, "3")]


# --- bug 11: messages ----------------------------------------------------------------------------------------

def test_invalid_control_character_message_reads_well(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"text": "abc\x01"}\n{"text": "ok"}\n')
    stream = records(path, ["text"])
    assert [r.texts[0].text for r in stream] == ["ok"]
    assert stream.problems[0].reason == "invalid JSON (Invalid control character at column 14), skipped"


def test_deeply_nested_json_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"text": "ok"}\n' + "[" * 100_000 + "\n", encoding="utf-8")
    stream = records(path, ["text"])
    assert [r.texts[0].text for r in stream] == ["ok"]
    assert stream.problems[0].line == 2 and "nested too deeply" in stream.problems[0].reason


def test_folder_without_suffix_is_called_a_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(ScanError, match=r"data: is a folder, not a dataset file$"):
        infer_format(tmp_path / "data", None)
    with pytest.raises(ScanError, match="no such file"):
        infer_format(tmp_path / "nosuffix", None)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_refused_without_reading_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    unblock_fifo(fifo)
    with pytest.raises(ScanError, match=r"pipe: not a regular file .*pipe.* not supported"):
        infer_format(fifo, "jsonl")  # must not open it: sniffing the first bytes would consume them


@pytest.mark.parametrize(("header", "hint"), [("a;text", "delimited by ';'"), ("a\ttext", "delimited by tabs")])
def test_single_column_csv_header_hints_at_the_delimiter(tmp_path: Path, header: str, hint: str) -> None:
    path = tmp_path / "semi.csv"
    path.write_text(f"{header}\n1{header[1]}x\n", encoding="utf-8")
    with pytest.raises(ScanError) as info:
        list(records(path, ["text"]))
    assert "fields present: (none) (and 1 more not shown); the header has one column: is the file " + hint \
        in str(info.value)
    path.write_text("id,body\n1,x\n", encoding="utf-8")
    with pytest.raises(ScanError) as info:
        list(records(path, ["text"]))
    assert str(info.value).endswith("fields present: id, body")


# --- bug 6: texts beyond spaCy's max_length ------------------------------------------------------------------

def test_split_text_prefers_line_and_sentence_ends() -> None:
    from auditor.scan.ner import split_text

    text = "alpha beta. gamma delta\nepsilon zeta eta theta"
    pieces = split_text(text, 16)
    assert "".join(p for _, p in pieces) == text
    assert all(len(p) <= 16 for _, p in pieces)
    assert all(text[offset:offset + len(p)] == p for offset, p in pieces)
    assert pieces[0] == (0, "alpha beta. ")
    assert split_text("x" * 40, 16) == [(0, "x" * 16), (16, "x" * 16), (32, "x" * 8)]  # no space: hard cut


def test_ner_runs_long_texts_in_pieces_with_true_offsets() -> None:
    from auditor.scan.ner import NerTier

    tier = NerTier(chunk_chars=200)
    sentence = "Yesterday we met Jane Doe in Berlin. "
    text = sentence * 20
    (spans,) = tier.find_many([text])
    found = [(s.entity, text[s.start:s.end]) for s in spans]
    assert found.count(("PERSON", "Jane Doe")) == 20 and found.count(("LOCATION", "Berlin")) == 20
    assert max(s.start for s in spans) > 600        # well past the first piece


def test_ner_batches_are_bounded_in_characters_whatever_the_record_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """One record of several MB went to the model in one batch of 100,000-character pieces (20 GB for 8 MB)."""
    from auditor.scan import ner

    tier = ner.NerTier()
    batches: list[int] = []
    real_pipe = tier.nlp.pipe

    def pipe(texts: list[str], batch_size: int) -> object:
        batches.append(sum(len(t) for t in texts))
        assert batch_size == len(texts)
        return real_pipe(texts, batch_size=batch_size)

    monkeypatch.setattr(tier, "nlp", type("Nlp", (), {"pipe": staticmethod(pipe)})())
    monkeypatch.setattr(ner, "NER_BATCH_CHARS", 50_000)
    text = "Please call Jane Doe about the parcel to Berlin. " * 4_000     # about 196,000 characters, one record
    (spans,) = tier.find_many([text])
    assert len(batches) >= 4 and max(batches) <= 50_000
    assert sum(1 for s in spans if s.entity == "PERSON") >= 3_000   # the pieces still find the names
