"""The gate's side: the sha256 chain from the evidence to the dataset, facts.redaction, and the GDPR-5-1-C rules
passing with verified evidence and failing with evidence that is not of the dataset that trains."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from auditor.errors import PlanError
from auditor.findings import GateResult
from auditor.gate import run_gate
from auditor.plan import load_plan
from auditor.redact.chain import check_redaction
from auditor.redact.entities import direct_identifiers
from auditor.redact.run import RedactOptions, run_redaction
from auditor.scan.api import scan_dataset
from auditor.scan.model import ScanResult
from tests.scan.planted import write_jsonl

PLAN = """\
version: 1
name: redacted-tickets
purpose: Route customer support tickets to the right team
data_subjects: {{regions: [EU], count: 6}}
legal: {{gdpr: {{lawful_basis: legitimate_interests, legitimate_interest_assessment: LIA-1}}}}
assessments: {{dpia: DPIA-1, ropa: ROPA-1}}
dataset:
  path: {path}
  text_fields: [{fields}]
  redaction_evidence: {evidence}
measures: {{redaction: true, access_control: true, encryption_at_rest: true}}
privacy: {{mechanism: dp-sgd, target_epsilon: 3.0}}
"""


@pytest.fixture(scope="module")
def redacted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chain")
    source = write_jsonl(folder / "tickets.jsonl")
    run_redaction(RedactOptions(path=source, output=folder / "tickets.red.jsonl", text_fields=("text",),
                                entities=tuple(direct_identifiers()), workers=1, progress=False))
    return folder


def plan(folder: Path, path: str = "tickets.red.jsonl", evidence: str = "tickets.red.jsonl.redaction.json",
         fields: str = "text") -> Path:
    target = folder / "plan.yaml"
    target.write_text(PLAN.format(path=path, evidence=evidence, fields=fields), encoding="utf-8")
    return target


def copy(folder: Path, tmp_path: Path) -> Path:
    for name in ("tickets.jsonl", "tickets.red.jsonl", "tickets.red.jsonl.redaction.json"):
        shutil.copy(folder / name, tmp_path / name)
    return tmp_path


def gate(plan_path: Path, scan: ScanResult | None) -> GateResult:
    return run_gate(load_plan(plan_path), scan, policies=["gdpr"])


def statuses(result: GateResult) -> dict[str, str]:
    return {f.rule: f.status for f in result.findings if f.rule.startswith("GDPR-5-1-C")}


def scan_of(path: Path) -> ScanResult:
    return scan_dataset(path, text_fields=["text"], workers=1, progress=False)


def test_verified_evidence_passes_gdpr_5_1_c(redacted: Path) -> None:
    scan = scan_of(redacted / "tickets.red.jsonl")
    result = gate(plan(redacted), scan)
    assert result.redaction is not None and result.redaction.verified, result.redaction
    assert result.redaction.output_sha256 == result.redaction.dataset_sha256 == scan.dataset.sha256
    assert statuses(result) == {"GDPR-5-1-C-MINIMISATION": "not_applicable", "GDPR-5-1-C-MEASURE-CONFIRMED": "pass",
                                "GDPR-5-1-C-REDACTION-VERIFIED": "pass"}
    assert result.redaction.replaced["CN_RESIDENT_ID"] == 2 and result.redaction.residual_direct_identifier == 0


def test_the_redacted_data_with_another_files_evidence_fails_gdpr_5_1_c(redacted: Path, tmp_path: Path) -> None:
    folder = copy(redacted, tmp_path)
    other = folder / "other.jsonl"
    other.write_text(json.dumps({"text": "Call Margaret Thatcherly at wanda.quist77@example.com"}) + "\n",
                     encoding="utf-8")
    run_redaction(RedactOptions(path=other, output=folder / "other.red.jsonl", text_fields=("text",),
                                entities=tuple(direct_identifiers()), workers=1, progress=False))
    result = gate(plan(folder, evidence="other.red.jsonl.redaction.json"), scan_of(folder / "tickets.red.jsonl"))
    assert result.redaction is not None and not result.redaction.verified
    assert "evidence of another file" in result.redaction.problem
    assert statuses(result)["GDPR-5-1-C-REDACTION-VERIFIED"] == "fail" and result.exit_code == 1


def test_the_source_passed_off_as_redacted_fails_gdpr_5_1_c(redacted: Path, tmp_path: Path) -> None:
    folder = copy(redacted, tmp_path)
    result = gate(plan(folder, path="tickets.jsonl"), scan_of(folder / "tickets.jsonl"))
    assert statuses(result) == {"GDPR-5-1-C-MINIMISATION": "fail", "GDPR-5-1-C-MEASURE-CONFIRMED": "fail",
                                "GDPR-5-1-C-REDACTION-VERIFIED": "fail"}
    minimisation = next(f for f in result.findings if f.rule == "GDPR-5-1-C-MINIMISATION")
    assert "verified redaction evidence: no" in minimisation.conclusion


def test_an_edited_residual_count_does_not_match_the_scan(redacted: Path, tmp_path: Path) -> None:
    folder = copy(redacted, tmp_path)
    evidence_file = folder / "tickets.red.jsonl.redaction.json"
    data = json.loads(evidence_file.read_text(encoding="utf-8"))
    data["residual"]["entities"]["HEALTH"]["spans"] = 0
    evidence_file.write_text(json.dumps(data), encoding="utf-8")
    result = gate(plan(folder), scan_of(folder / "tickets.red.jsonl"))
    assert result.redaction is not None and "does not match this scan" in result.redaction.problem
    assert statuses(result)["GDPR-5-1-C-REDACTION-VERIFIED"] == "fail"


@pytest.mark.parametrize("edit", ["records_with_personal_data", "categories", "records", "scanner"])
def test_every_count_of_the_residual_and_its_scanner_are_held_to_the_scan(redacted: Path, tmp_path: Path,
                                                                          edit: str) -> None:
    """Found by a QA pass: these edits passed, and an edited scanner version skipped the comparison."""
    folder = copy(redacted, tmp_path)
    evidence_file = folder / "tickets.red.jsonl.redaction.json"
    data = json.loads(evidence_file.read_text(encoding="utf-8"))
    if edit == "records_with_personal_data":
        data["residual"]["records_with_personal_data"] += 1
    elif edit == "categories":
        data["residual"]["categories"]["direct_identifier"] = 0
        data["residual"]["categories"]["special_category"] = 0
    elif edit == "records":
        data["records"] += 1
    else:
        data["engine"]["auditor"] = "0.0.9"
        data["residual"]["entities"] = {}
    evidence_file.write_text(json.dumps(data), encoding="utf-8")
    result = gate(plan(folder), scan_of(folder / "tickets.red.jsonl"))
    assert result.redaction is not None and not result.redaction.verified, edit
    expected = "another scanner" if edit == "scanner" else "does not match this scan"
    assert expected in result.redaction.problem
    assert statuses(result)["GDPR-5-1-C-REDACTION-VERIFIED"] == "fail"


def test_a_trained_field_the_redaction_did_not_cover_is_not_verified(redacted: Path, tmp_path: Path) -> None:
    folder = copy(redacted, tmp_path)
    facts = check_redaction(load_plan(plan(folder, fields="text, user")), None)
    assert facts is not None and not facts.verified and "the plan trains on user" in facts.problem


def test_without_the_dataset_the_chain_uses_the_scans_digest(redacted: Path, tmp_path: Path) -> None:
    folder = copy(redacted, tmp_path)
    scan = scan_of(folder / "tickets.red.jsonl")
    (folder / "tickets.red.jsonl").unlink()
    doc = load_plan(plan(folder))
    facts = check_redaction(doc, scan)
    assert facts is not None and facts.verified and facts.dataset_sha256 == scan.dataset.sha256
    alone = check_redaction(doc, None)
    assert alone is not None and not alone.verified and "not here" in alone.problem


def test_a_missing_or_invalid_evidence_file_is_bad_input(redacted: Path, tmp_path: Path) -> None:
    folder = copy(redacted, tmp_path)
    with pytest.raises(PlanError, match=r"plan.yaml:10: dataset.redaction_evidence: .*nope.json not found"):
        gate(plan(folder, evidence="nope.json"), None)
    (folder / "bad.json").write_text('{"schema_version": 1}', encoding="utf-8")
    with pytest.raises(PlanError, match=r"bad\.json: redaction evidence"):
        gate(plan(folder, evidence="bad.json"), None)


def test_plans_without_evidence_carry_no_redaction_block(redacted: Path) -> None:
    path = plan(redacted)
    text = path.read_text(encoding="utf-8").replace("  redaction_evidence: tickets.red.jsonl.redaction.json\n", "")
    path.write_text(text, encoding="utf-8")
    result = gate(path, None)
    assert result.redaction is None and result.to_json_v1()["redaction"] is None
    assert statuses(result)["GDPR-5-1-C-REDACTION-VERIFIED"] == "not_applicable"
