"""The gate refuses a scan of another dataset, and a sample scan can only make it stricter."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.errors import InputError
from auditor.facts import ScanFacts, build_facts
from auditor.fsutil import sha256_file
from auditor.gate import run_gate
from auditor.plan import load_plan
from auditor.scan.model import (
    CategoryStats,
    DatasetInfo,
    EngineInfo,
    EntityStats,
    SampleInfo,
    ScanResult,
    UserStats,
)
from tests.conftest import MINI_PLAN


def fake_scan(dataset: Path | str, sha256: str, *, sample: SampleInfo | None = None, records: int = 100,
              scanned: int | None = None, hits: int = 0) -> ScanResult:
    """A scan result as `auditor scan` writes it, for a dataset at ``dataset`` with digest ``sha256``."""
    entities = {"EMAIL_ADDRESS": EntityStats(count=hits, records=hits)} if hits else {}
    categories = {"personal_data": CategoryStats(records=hits, count=hits)} if hits else {}
    return ScanResult(
        dataset=DatasetInfo(path=str(dataset), sha256=sha256, format="jsonl", bytes=10, text_fields=["text"]),
        records=records, records_scanned=scanned if scanned is not None else records,
        records_with_personal_data=hits, entities=entities, categories=categories, sample=sample,
        engine=EngineInfo(auditor="test"), started_at="2026-01-01T00:00:00+00:00", duration_s=0.0,
        records_per_s=0.0, mb_per_s=0.0)


@pytest.fixture
def plan_with_data(mini_plan: Path) -> Path:
    (mini_plan.parent / "data.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    return mini_plan


def test_scan_of_another_file_is_exit_2_naming_both_paths(runner: CliRunner, plan_with_data: Path,
                                                          mini_policy: Path, tmp_path: Path) -> None:
    other = tmp_path / "clean.txt"
    other.write_text("hello world\n", encoding="utf-8")
    scan = tmp_path / "clean.scan.json"
    scan.write_text(fake_scan(other, sha256_file(other)).model_dump_json(), encoding="utf-8")
    result = runner.invoke(cli, ["check", str(plan_with_data), "--scan", str(scan), "--policy", str(mini_policy)])
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1
    assert f"{scan} describes {other}" in line and str(plan_with_data.parent / "data.jsonl") in line
    assert sha256_file(other)[:12] in line and line.endswith("rescan")


def test_same_name_but_changed_content_is_refused(plan_with_data: Path) -> None:
    doc = load_plan(plan_with_data)
    with pytest.raises(InputError, match="sha256"):
        run_gate(doc, fake_scan(doc.dataset_path, "0" * 64), [], scan_source="s.json")


def test_matching_scan_passes_silently(plan_with_data: Path, mini_policy: Path) -> None:
    doc = load_plan(plan_with_data)
    warnings: list[str] = []
    result = run_gate(doc, fake_scan(doc.dataset_path, sha256_file(doc.dataset_path)), [str(mini_policy)],
                      warn=warnings.append)
    assert result.scan_used and warnings == []


def test_missing_dataset_falls_back_to_names_with_a_warning(mini_plan: Path, mini_policy: Path) -> None:
    doc = load_plan(mini_plan)  # data.jsonl is not there: scan made in another CI job
    warnings: list[str] = []
    run_gate(doc, fake_scan("/ci/job1/data.jsonl", "a" * 64), [str(mini_policy)], scan_source="scan.json",
             warn=warnings.append)
    assert len(warnings) == 1 and "scan.json could not be verified" in warnings[0]
    with pytest.raises(InputError, match=r"scan.json describes /ci/job1/other.jsonl.*different file name"):
        run_gate(doc, fake_scan("/ci/job1/other.jsonl", "a" * 64), [str(mini_policy)], scan_source="scan.json",
                 warn=warnings.append)


def test_cli_warns_on_stderr_when_dataset_is_absent(mini_plan: Path, mini_policy: Path, tmp_path: Path) -> None:
    scan = tmp_path / "scan.json"
    scan.write_text(fake_scan("elsewhere/data.jsonl", "a" * 64).model_dump_json(), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(mini_plan), "--scan", str(scan), "--policy", str(mini_policy),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "could not be verified" in result.stderr
    assert json.loads(result.stdout)["verdict"] == "pass"


SAMPLE = SampleInfo(sampled_records=2, population_records=3000, seed=1)


def test_sample_with_no_hits_is_not_no_personal_data(mini_plan: Path) -> None:
    doc = load_plan(mini_plan)
    facts = build_facts(doc.plan, fake_scan("data.jsonl", "a" * 64, sample=SAMPLE, records=3000, scanned=2))
    view = facts.cel_view()
    assert facts.scan_sampled and view["scan_sampled"] is True
    assert view["records"] == 3000
    assert view["records_with_personal_data"] > 0
    assert view["categories"]["personal_data"] > 0 and view["categories"]["gdpr_special"] > 0


def test_sample_uses_the_upper_bound_not_the_raw_count(mini_plan: Path) -> None:
    scan = fake_scan("data.jsonl", "a" * 64, sample=SampleInfo(sampled_records=1000, population_records=100_000,
                                                               seed=0), records=100_000, scanned=1000, hits=10)
    scan = scan.model_copy(update={"entities": {"EMAIL_ADDRESS": EntityStats(
        count=10, records=10, estimate_records=1000.0, upper95_records=1830.4)}})
    facts = ScanFacts.from_scan(scan)
    assert facts.entities == {"EMAIL_ADDRESS": 1831}
    assert 1000 < facts.records_with_personal_data <= 100_000  # bound, not the 10 sampled hits
    assert facts.categories["personal_data"] == facts.records_with_personal_data
    full = ScanFacts.from_scan(scan.model_copy(update={"sample": None}))
    assert full.records_with_personal_data == 10 and not full.sampled


def test_sample_scan_makes_the_gate_require_dp(runner: CliRunner, plan_with_data: Path, mini_policy: Path,
                                               tmp_path: Path) -> None:
    doc = load_plan(plan_with_data)
    sha = sha256_file(doc.dataset_path)
    scan = tmp_path / "s1.json"
    scan.write_text(fake_scan(doc.dataset_path, sha, sample=SAMPLE, records=3000, scanned=2).model_dump_json(),
                    encoding="utf-8")
    result = runner.invoke(cli, ["check", str(plan_with_data), "--scan", str(scan), "--policy", str(mini_policy),
                                 "--format", "json"])
    data = json.loads(result.stdout)
    assert data["privacy_requirements"]["dp_required"] is True
    assert "sample scan (2 of 3,000 records)" in result.stderr


def test_plan_dataset_fixture_has_no_dataset(write: Callable[[str, str], Path]) -> None:
    # Guard for the fallback tests above: MINI_PLAN's dataset is relative and absent unless written.
    assert not load_plan(write("p.yaml", "version: 1\nname: x\ndataset: {path: data.jsonl}\n")).dataset_path.exists()


def _users(repeated: int, distinct: int = 2400, most: int = 6) -> UserStats:
    return UserStats(field="customer_id", normalisation="casefold", distinct=distinct,
                     with_multiple_records=repeated, max_records_per_user=most if repeated else 1)


@pytest.mark.parametrize("unit", ["record", "user"])
def test_people_with_several_records_fail_record_level_dp(write: Callable[[str, str], Path], unit: str) -> None:
    plan = write("p.yaml", MINI_PLAN.replace("  path: data.jsonl", "  path: data.jsonl\n  user_id_field: customer_id")
                 + f"  unit: {unit}\n")
    scan = fake_scan("data.jsonl", "a" * 64, records=3000, hits=2000)
    scan = scan.model_copy(update={"users": _users(408), "distinct_users": 2400})
    findings = {f.rule: f for f in run_gate(load_plan(plan), scan, ["gdpr"], warn=lambda _: None).findings}
    unit_finding = findings["GDPR-4-1-PRIVACY-UNIT"]
    if unit == "record":
        assert unit_finding.status == "fail" and unit_finding.severity == "high"
        assert "408 of 2400 people" in unit_finding.message and "up to 6" in unit_finding.message
        assert "privacy.unit: user" in unit_finding.remediation
    else:
        assert unit_finding.status == "not_applicable"
    clean = scan.model_copy(update={"users": _users(0)})
    assert {f.rule: f for f in run_gate(load_plan(plan), clean, ["gdpr"], warn=lambda _: None).findings}[
        "GDPR-4-1-PRIVACY-UNIT"].status == ("pass" if unit == "record" else "not_applicable")


def test_a_scan_without_records_per_person_is_an_error_asking_for_a_rescan(write: Callable[[str, str], Path]) -> None:
    plan = write("p.yaml", MINI_PLAN.replace("  path: data.jsonl", "  path: data.jsonl\n  user_id_field: customer_id"))
    scan = fake_scan("data.jsonl", "a" * 64, records=3000, hits=2000)        # an older scan: no users block
    finding = {f.rule: f for f in run_gate(load_plan(plan), scan, ["gdpr"], warn=lambda _: None).findings}[
        "GDPR-4-1-PRIVACY-UNIT"]
    assert finding.status == "error" and "rescan" in finding.message


def test_record_level_dp_without_a_user_id_field_is_a_medium_note(mini_plan: Path) -> None:
    result = run_gate(load_plan(mini_plan), None, ["gdpr"])
    finding = {f.rule: f for f in result.findings}["GDPR-4-1-PRIVACY-UNIT-DECLARED"]
    assert finding.status == "fail" and finding.severity == "medium"
    assert finding not in result.blocking()             # visible, but not blocking at the default --fail-on high


def test_users_facts_reach_cel_only_when_the_scan_counted_them(mini_plan: Path) -> None:
    plan = load_plan(mini_plan).plan
    counted = fake_scan("data.jsonl", "a" * 64).model_copy(update={"users": _users(3, distinct=40, most=2)})
    view = build_facts(plan, counted).cel_view()
    assert view["users_with_multiple_records"] == 3 and view["max_records_per_user"] == 2
    assert "users_with_multiple_records" not in build_facts(plan, fake_scan("data.jsonl", "a" * 64)).cel_view()
    assert "users_with_multiple_records" not in build_facts(plan, None).cel_view()
