"""Random datasets through both readers (the scan's and training's): exit 0, 1 or 2, never a traceback, bounded
time per input, and no planted value in anything printed or written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.cli import cli
from auditor.errors import AuditorError

#: Values that must never be echoed: an e-mail, a CN resident id, a phone number, an SSN, a name.
CANARIES = ["zq.canary@example.org", "110105198703147359", "+1 415 555 0199", "078-05-1120", "Quackenbush"]
FUZZ = settings(max_examples=40, deadline=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalar = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from(CANARIES), st.text(max_size=12),
                   st.sampled_from(CANARIES).map(lambda c: f"call {c} today"))
value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.sampled_from(["a", "b", "text"]), inner,
                                                                     max_size=3)), max_leaves=8)
record = st.fixed_dictionaries({"text": value, "label": scalar, "customer_id": scalar},
                               optional={"meta": value})


def _write(path: Path, rows: list[dict[str, Any]], fmt: str, raw_tail: bytes) -> None:
    if fmt == "jsonl":
        body = "\n".join(json.dumps(r, allow_nan=True) for r in rows).encode() + b"\n" + raw_tail
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["text", "label", "customer_id", "meta"])
        writer.writeheader()
        for r in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in r.items()})
        body = buffer.getvalue().encode() + raw_tail
    path.write_bytes(body)


def _assert_clean(text: str) -> None:
    assert "Traceback" not in text
    for canary in CANARIES:
        assert canary not in text, canary


@FUZZ
@given(rows=st.lists(record, max_size=12), fmt=st.sampled_from(["jsonl", "csv"]),
       tail=st.sampled_from([b"", b"\xff\xfe not utf-8\n", b'{"text": [[[[', b"\n\n\n", b"\x00\x01"]))
def test_random_datasets_through_scan_check_and_the_training_reader(tmp_path: Path, rows: list[dict[str, Any]],
                                                                   fmt: str, tail: bytes) -> None:
    from auditor.plan import load_plan
    from auditor.train.data import load_training_data

    data = tmp_path / f"d.{fmt}"
    _write(data, rows, fmt, tail)
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"version: 1\nname: fuzz\npurpose: triage\ndata_subjects: {{regions: [EU]}}\n"
                    f"dataset: {{path: {data.name}, text_fields: [text, meta], label_field: label, "
                    "user_id_field: customer_id}\nmodel: {num_labels: 4}\nprivacy: {unit: user}\n",
                    encoding="utf-8")
    out = tmp_path / "scan.json"
    runner = CliRunner()
    scanned = runner.invoke(cli, ["scan", "--plan", str(plan), "-o", str(out), "--no-progress", "--workers", "1"])
    assert scanned.exit_code in (0, 1, 2), scanned.output
    _assert_clean(scanned.output)
    if out.exists():
        _assert_clean(out.read_text(encoding="utf-8"))
        checked = runner.invoke(cli, ["check", str(plan), "--scan", str(out), "--format", "json"])
        assert checked.exit_code in (0, 1, 2), checked.output
        _assert_clean(checked.output)
    try:
        load_training_data(load_plan(plan), bytes(32))
    except AuditorError as exc:
        assert exc.exit_code in (1, 2) and "\n" not in exc.message
        _assert_clean(exc.message)
