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


def _mutate(doc: Any, path: list[Any], value: Any) -> Any:
    """``doc`` with the node at ``path`` (as far as it exists) replaced by ``value``."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    key = path[0]
    if isinstance(doc, dict):
        name = sorted(doc)[key % len(doc)] if isinstance(key, int) else key
        return {**doc, name: _mutate(doc[name], path[1:], value)}
    index = key % len(doc) if isinstance(key, int) else 0
    return [*doc[:index], _mutate(doc[index], path[1:], value), *doc[index + 1:]]


hostile = st.one_of(scalar, st.just(float("inf")), st.just(10**400), st.just("x" * 200_000),
                    st.just([[[[[[[[[[[[[]]]]]]]]]]]]]), st.dictionaries(st.text(max_size=5), scalar, max_size=3))


@FUZZ
@given(path=st.lists(st.integers(0, 40), min_size=1, max_size=5), value=hostile)
def test_hostile_scan_and_evidence_json_are_exit_0_1_or_2(tmp_path: Path, path: list[int], value: Any) -> None:
    from tests.report.report_factories import evidence, scan_result

    runner = CliRunner()
    scan = json.loads(scan_result().model_dump_json())
    (tmp_path / "scan.json").write_text(json.dumps(_mutate(scan, path, value)), encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nname: t\ndata_subjects: {regions: [EU]}\ndataset: {path: missing.jsonl}\n",
                    encoding="utf-8")
    checked = runner.invoke(cli, ["check", str(plan), "--scan", str(tmp_path / "scan.json"), "--format", "json"])
    assert checked.exit_code in (0, 1, 2), checked.output
    assert "Traceback" not in checked.output
    folder = tmp_path / "ev"
    folder.mkdir(exist_ok=True)
    bundle = json.loads(evidence(folder).to_json())
    (folder / "evidence.json").write_text(json.dumps(_mutate(bundle, path, value), allow_nan=True),
                                          encoding="utf-8")
    rendered = runner.invoke(cli, ["report", str(folder), "--format", "md", "--out", str(tmp_path / "r")])
    assert rendered.exit_code in (0, 2), rendered.output
    assert "Traceback" not in rendered.output


TEMPLATE_BITS = ["{{ evidence.gate.verdict }}", "{% for f in view.findings %}{{ f.rule }}{% endfor %}",
                 "{{ 'a' * 10**8 }}", "{{ range(10**9) | list }}", "{% include 'report.html.j2' %}",
                 "{{ ''.__class__ }}", "{{ 2 ** 99999 }}", "{{ '%99999999d' % 1 }}", "{% if %}", "{{ x }}",
                 "{{ view.title | upper }}", "{% raw %}{{{% endraw %}", "{{ 1 / 0 }}", "{{ [1, 2] * 3 }}",
                 "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}"]


@FUZZ
@given(parts=st.lists(st.sampled_from(TEMPLATE_BITS), min_size=1, max_size=4))
def test_random_user_templates_are_exit_0_or_2(tmp_path: Path, parts: list[str]) -> None:
    from tests.report.report_factories import evidence

    folder = tmp_path / "ev"
    folder.mkdir(exist_ok=True)
    evidence(folder)
    from auditor.report.evidence import write_evidence

    write_evidence(evidence(folder), folder)
    templates = tmp_path / "t"
    templates.mkdir(exist_ok=True)
    (templates / "report.html.j2").write_text("".join(parts), encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(folder), "--format", "html", "--templates", str(templates),
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
