"""Training reads datasets through the scan's readers: files the scan reads never make training crash, and the
two agree on which records there are."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from auditor.errors import TrainingInputError
from auditor.plan import load_plan
from auditor.train.data import load_training_data

ROWS = [{"text": f"refund invoice {i}", "label": i % 4, "customer_id": f"c{i}"} for i in range(150)]
LINES = [json.dumps(r) for r in ROWS]


def _plan(tmp_path: Path, data: Path) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"version: 1\nname: t\ndataset: {{path: {data.name}, label_field: label, user_id_field: "
                    "customer_id}\nmodel: {num_labels: 4}\nprivacy: {unit: user}\n", encoding="utf-8")
    return plan


def _jsonl(tmp_path: Path, bad: bytes, name: str = "d.jsonl", gz: bool = False) -> Path:
    data = ("\n".join(LINES[:3]) + "\n").encode() + bad + b"\n" + ("\n".join(LINES[3:]) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("label", [b"Infinity", b"1e400", b"-Infinity", b"NaN", b"true", b'"12345678901"'])
def test_a_label_no_integer_can_be_is_exit_2_naming_the_line_not_the_value(tmp_path: Path, label: bytes) -> None:
    data = _jsonl(tmp_path, b'{"text": "x", "label": ' + label + b', "customer_id": "z"}')
    with pytest.raises(TrainingInputError, match=r"d.jsonl:4: label field 'label' is (not an integer|outside)") \
            as err:
        load_training_data(load_plan(_plan(tmp_path, data)), bytes(32))
    assert "12345678901" not in err.value.message


@pytest.mark.parametrize("bad", [b'{"text": "\xff\xfe", "label": 1, "customer_id": "q"}',
                                 b'{"text": "x", "label": 1, "customer_id": "d", "extra": ' + b"[" * 100_000
                                 + b"]" * 100_000 + b"}"])
def test_lines_the_scan_counts_as_read_errors_are_skipped_and_counted(tmp_path: Path, bad: bytes) -> None:
    from auditor.scan.api import scan_plan_dataset

    plan = _plan(tmp_path, _jsonl(tmp_path, bad))
    data = load_training_data(load_plan(plan), bytes(32))
    assert (data.records, data.unreadable_lines, data.unreadable_first) == (150, 1, (4,))
    scan = scan_plan_dataset(load_plan(plan), progress=False)
    assert scan.records_scanned == data.records and scan.read_errors_total == 1  # the same records


def test_gzip_by_content_and_huge_csv_fields_read_as_the_scan_reads_them(tmp_path: Path) -> None:
    gz = load_training_data(load_plan(_plan(tmp_path, _jsonl(tmp_path, LINES[0].encode(), gz=True))), bytes(32))
    assert gz.records == 151
    wide = tmp_path / "wide.csv"
    with wide.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label", "customer_id"])
        writer.writeheader()
        writer.writerows([*ROWS[:3], {"text": "a" * 200_000, "label": 1, "customer_id": "w"}, *ROWS[3:]])
    assert load_training_data(load_plan(_plan(tmp_path, wide)), bytes(32)).records == 151


def test_object_valued_text_fields_train_on_every_leaf_the_scan_scanned(tmp_path: Path) -> None:
    rows = [json.dumps({"msg": {"subject": f"late parcel {i}", "body": ["where is it", "please"]}, "label": 1,
                        "customer_id": f"c{i}"}) for i in range(120)]
    data_file = tmp_path / "d.jsonl"
    data_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    plan = _plan(tmp_path, data_file)
    plan.write_text(plan.read_text().replace("label_field: label", "label_field: label, text_fields: [msg]"))
    data = load_training_data(load_plan(plan), bytes(32))
    text = data.units[0].examples[0].text
    assert "late parcel" in text and "where is it" in text and "please" in text
