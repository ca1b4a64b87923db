"""Records per person: the scan normalises user ids as training does, counts exactly, and never keeps an id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.facts import ScanFacts
from auditor.scan.model import ScanResult
from auditor.scan.scanner import ScanOptions, run_scan
from auditor.units import UserIdNormalisation

#: Seven records: " Alice ", "alice" and "ALICE" are one person once trimmed and case-folded; "bob" and
#: "Bob" another; one record has no id and one an id that is blank once trimmed.
IDS: list[str | None] = [" Alice ", "alice", "ALICE", "bob", "Bob", None, "   "]


def _dataset(tmp_path: Path, ids: list[str | None]) -> Path:
    path = tmp_path / "tickets.jsonl"
    rows = [{"text": "my parcel is late", **({"uid": uid} if uid is not None else {})} for uid in ids]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _scan(path: Path, mode: UserIdNormalisation = "casefold", sample: int | None = None) -> ScanResult:
    options = ScanOptions(path=path, text_fields=("text",), user_id_field="uid", user_id_normalisation=mode,
                          workers=1, progress=False, ner=False, sample=sample)
    return run_scan(options)


@pytest.mark.parametrize(("mode", "distinct", "repeated", "most", "without"), [
    ("casefold", 2, 2, 3, 2),   # {alice: 3, bob: 2}; None and the blank id have no person
    ("trim", 5, 0, 1, 2),       # "Alice" and "alice" differ once case is kept
    ("exact", 6, 0, 1, 1),      # " Alice " != "alice"; "   " is an id of its own
])
def test_records_per_user_after_normalisation(tmp_path: Path, mode: UserIdNormalisation, distinct: int,
                                              repeated: int, most: int, without: int) -> None:
    result = _scan(_dataset(tmp_path, IDS), mode)
    users = result.users
    assert users is not None and users.field == "uid" and users.normalisation == mode
    assert (users.distinct, users.with_multiple_records, users.max_records_per_user, users.records_without_id) \
        == (distinct, repeated, most, without)
    assert result.distinct_users == distinct


def test_ids_are_never_written(tmp_path: Path) -> None:
    text = _scan(_dataset(tmp_path, IDS)).model_dump_json()
    assert "alice" not in text.lower() and "bob" not in text.lower()


def test_without_a_user_id_field_there_is_no_users_block(tmp_path: Path) -> None:
    options = ScanOptions(path=_dataset(tmp_path, IDS), text_fields=("text",), workers=1, progress=False,
                          ner=False)
    result = run_scan(options)
    assert result.users is None and result.distinct_users is None
    facts = ScanFacts.from_scan(result)
    assert facts.users_with_multiple_records is None and facts.max_records_per_user is None


def test_a_sample_scan_counts_people_over_every_record(tmp_path: Path) -> None:
    ids: list[str | None] = [f"user-{i % 50}" for i in range(300)]       # 50 people, 6 records each
    result = _scan(_dataset(tmp_path, ids), sample=20)
    users = result.users
    assert users is not None and result.sample is not None and result.records_scanned == 20
    assert (users.distinct, users.with_multiple_records, users.max_records_per_user) == (50, 50, 6)
    facts = ScanFacts.from_scan(result)
    assert facts.users_with_multiple_records == 50 and facts.max_records_per_user == 6  # exact, not a bound


def test_worker_processes_do_not_change_the_counts(tmp_path: Path) -> None:
    ids: list[str | None] = [f" User-{i % 300} " if i % 2 else f"user-{i % 300}" for i in range(1200)]
    path = _dataset(tmp_path, ids)
    options = ScanOptions(path=path, text_fields=("text",), user_id_field="uid", workers=2, progress=False,
                          ner=False)
    result = run_scan(options)
    assert result.engine.workers == 2
    assert result.users is not None
    assert (result.users.distinct, result.users.with_multiple_records, result.users.max_records_per_user) \
        == (300, 300, 4)
