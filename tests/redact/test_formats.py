"""Every format the scan reads round-trips: same records in the same order, non-text fields untouched, only
the detected spans changed -- and the evidence's re-scan is what ``auditor scan`` finds in the output."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import ScanError
from auditor.fsutil import sha256_file
from auditor.redact.entities import direct_identifiers
from auditor.redact.model import RedactionEvidence, evidence_path, read_evidence
from auditor.redact.run import RedactOptions, run_redaction
from auditor.scan.api import scan_dataset
from auditor.scan.read import RecordStream, infer_format
from tests.scan.planted import CARD, CN_ID, CN_ID_2, CN_MOBILE, EMAIL, NAME, ROWS, SSN, US_PHONE, ZH_NAME

#: planted values of types the default redaction replaces, which the scan detects in ROWS
REPLACED = (CN_ID, CN_ID_2, CN_MOBILE, CARD, SSN, EMAIL, US_PHONE, NAME, ZH_NAME)


def rows() -> list[dict[str, Any]]:
    out = []
    for i, row in enumerate(ROWS):
        out.append({"id": row["id"], "user": row["user"], "text": row["text"], "score": 0.5 + i,
                    "ok": i % 2 == 0, "note": None if i % 3 else "n/a"})
    return out


def write(path: Path, fmt: str, compressed: bool) -> Path:
    data = rows()
    if fmt == "jsonl":
        raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data).encode("utf-8")
    elif fmt == "text":
        raw = "\n\n".join(str(r["text"]) for r in data).encode("utf-8") + b"\n"   # blank lines between
    elif fmt == "csv":
        import io

        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["id", "user", "text", "score"])
        for r in data:
            writer.writerow([r["id"], r["user"], f"{r['text']}\nsecond line, with a comma", r["score"]])
        raw = buffer.getvalue().encode("utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([{**r, "when": dt.datetime(2026, 1, 1 + i), "meta": {"n": i, "tag": "t"}}
                                      for i, r in enumerate(data)])
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, row_group_size=3)
        raw = sink.getvalue().to_pybytes()
    path.write_bytes(gzip.compress(raw, mtime=0) if compressed else raw)
    return path


def read_rows(path: Path, field: str = "text") -> list[dict[str, Any]]:
    fmt, compressed = infer_format(path, None)
    stream = RecordStream(path, fmt, compressed, [field], None, all_columns=True)
    return [row for _, row in stream.with_rows()]


SUFFIX = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet", "text": ".txt"}
CASES = [(fmt, gz) for fmt in SUFFIX for gz in (False, True)]


def redact(source: Path, out: Path, mode: str = "mask", **kw: Any) -> RedactionEvidence:
    options = RedactOptions(path=source, output=out, text_fields=("text",), mode=mode,  # type: ignore[arg-type]
                            entities=tuple(direct_identifiers()), workers=1, progress=False, **kw)
    return run_redaction(options).evidence


@pytest.mark.parametrize(("fmt", "compressed"), CASES, ids=[f"{f}{'.gz' if g else ''}" for f, g in CASES])
def test_each_format_round_trips_with_only_the_spans_changed(tmp_path: Path, fmt: str, compressed: bool) -> None:
    suffix = SUFFIX[fmt] + (".gz" if compressed else "")
    source = write(tmp_path / f"in{suffix}", fmt, compressed)
    out = tmp_path / "out" / f"red{suffix}"
    evidence = redact(source, out, key_path=tmp_path / "k.key")
    before, after = read_rows(source), read_rows(out)
    assert len(after) == len(before) == evidence.records == len(ROWS)
    assert infer_format(out, None) == (fmt, compressed)
    for old, new in zip(before, after, strict=True):
        assert {k: v for k, v in old.items() if k != "text"} == {k: v for k, v in new.items() if k != "text"}
        assert not any(value in str(new["text"]) for value in REPLACED)
        if not any(value in str(old["text"]) for value in REPLACED):
            assert new["text"] == old["text"]        # nothing detected: the record is as it was
    assert evidence.records_changed == 4
    assert evidence.output.sha256 == sha256_file(out) and evidence.source.sha256 == sha256_file(source)
    assert read_evidence(evidence_path(out)) == evidence
    # the evidence's re-scan is what the scan of the output finds
    scan = scan_dataset(out, text_fields=["text"], workers=1, progress=False)
    assert {k: (v.count, v.records) for k, v in scan.entities.items()} == \
        {k: (v.spans, v.records) for k, v in evidence.residual.entities.items()}
    assert scan.records == evidence.residual.records
    assert not set(scan.entities) & set(direct_identifiers())


def test_text_files_keep_their_blank_lines(tmp_path: Path) -> None:
    source = write(tmp_path / "in.txt", "text", False)
    out = tmp_path / "red.txt"
    redact(source, out)
    assert out.read_text(encoding="utf-8").count("\n") == source.read_text(encoding="utf-8").count("\n")


def test_csv_keeps_its_header_line_endings_and_quoting(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "csv", False)
    out = tmp_path / "red.csv"
    redact(source, out)
    raw = out.read_bytes()
    assert raw.startswith(b"id,user,text,score\r\n") and b"\nsecond line, with a comma" in raw


def test_the_same_input_and_key_give_the_same_bytes(tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl.gz", "jsonl", True)
    one = redact(source, tmp_path / "a" / "red.jsonl.gz", mode="pseudonym", key_path=tmp_path / "k.key")
    two = redact(source, tmp_path / "b" / "red.jsonl.gz", mode="pseudonym", key_path=tmp_path / "k.key")
    other = redact(source, tmp_path / "c" / "red.jsonl.gz", mode="pseudonym", key_path=tmp_path / "other.key")
    assert one.output.sha256 == two.output.sha256 != other.output.sha256
    assert one.key_id == two.key_id != other.key_id


def test_pseudonyms_are_stable_across_records(tmp_path: Path) -> None:
    data = [{"id": i, "text": f"Message {i} from {EMAIL}, phone {US_PHONE}."} for i in range(5)]
    data.append({"id": 9, "text": "Message from somebody.else@example.org."})
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
    out = tmp_path / "red.jsonl"
    redact(source, out, mode="pseudonym", key_path=tmp_path / "k.key")
    texts = [r["text"] for r in read_rows(out)]
    tokens = {t.split(" from ")[1].split(",")[0] for t in texts[:5]}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("<EMAIL_ADDRESS_")
    assert next(iter(tokens)) not in texts[5]


def test_nested_fields_and_numbers_are_rewritten_in_place(tmp_path: Path) -> None:
    row = {"messages": [{"role": "user", "content": f"I am {NAME}, card {CARD}"},
                        {"role": "agent", "content": "Thanks, noted."}], "phone": 4153729061, "keep": 4153729061}
    source = tmp_path / "chat.jsonl"
    source.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "red.jsonl"
    run_redaction(RedactOptions(path=source, output=out, text_fields=("messages.content", "phone"),
                                entities=tuple(direct_identifiers()), workers=1, progress=False))
    [new] = read_rows(out, "messages.content")
    assert new["messages"][0]["role"] == "user" and new["messages"][1] == row["messages"][1]
    assert CARD not in new["messages"][0]["content"] and "<CREDIT_CARD>" in new["messages"][0]["content"]
    assert new["phone"] == "<PHONE_NUMBER>" and new["keep"] == 4153729061


def test_a_dataset_that_changes_during_the_run_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.redact import run as run_module

    source = write(tmp_path / "in.jsonl", "jsonl", False)
    digests = iter(["0" * 64, "1" * 64])
    monkeypatch.setattr(run_module, "sha256_file", lambda _path: next(digests))
    with pytest.raises(ScanError, match="changed while it was being redacted"):
        redact(source, tmp_path / "out.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
