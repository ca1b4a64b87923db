from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import jsonschema

from auditor.facts import ScanFacts
from auditor.findings import GateResult
from auditor.gate import run_gate
from auditor.output import FORMATS, RenderContext, SarifOptions, render_check
from auditor.plan import load_plan

SCHEMA = json.loads((Path(__file__).parent / "sarif_required.schema.json").read_text())
SCAN = ScanFacts(records=500, records_with_personal_data=50, categories={"gdpr_special": 3})
WAIVER = """\
waivers:
  - rule: MINI-30-ROPA
    reason: ROPA entry being drafted
    approver: dpo@example.com
    expires: 2099-01-01
"""


def result_with_waiver(mini_plan: Path, mini_policy: Path, write: Callable[[str, str], Path]) -> GateResult:
    return run_gate(load_plan(mini_plan), SCAN, [str(mini_policy)], write("w.yaml", WAIVER))


def test_json_schema_v1_contract(mini_plan: Path, mini_policy: Path, write: Callable[[str, str], Path]) -> None:
    data = json.loads(render_check(result_with_waiver(mini_plan, mini_policy, write), "json"))
    assert set(data) >= {"verdict", "exit_code", "policies", "findings", "privacy_requirements"}
    assert data["verdict"] == "fail" and data["exit_code"] == 1
    assert data["policies"][0]["id"] == "mini" and len(data["policies"][0]["sha256"]) == 64
    finding = next(f for f in data["findings"] if f["rule"] == "MINI-9-SPECIAL")
    keys = {"policy", "rule", "status", "severity", "citation", "url", "message", "facts", "remediation"}
    assert keys <= set(finding)
    assert finding["citation"] == "GDPR Art. 9(2)" and finding["facts"]["facts.categories.gdpr_special"] == 3
    req = data["privacy_requirements"]
    assert req["max_epsilon"] == 8.0 and req["max_delta"] == 1 / 500
    assert req["bound_by"]["max_epsilon"] == "mini/MINI-DP"


def test_sarif_meets_required_structure_and_suppresses_waived(mini_plan: Path, mini_policy: Path,
                                                              write: Callable[[str, str], Path]) -> None:
    ctx = RenderContext(plan_path="plan.yaml", plan_lines={"assessments.dpia": 7, "legal": 4},
                        sarif=SarifOptions(all_results=True))
    log = json.loads(render_check(result_with_waiver(mini_plan, mini_policy, write), "sarif", ctx))
    jsonschema.validate(log, SCHEMA)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["MINI-9-SPECIAL", "MINI-35-DPIA", "MINI-30-ROPA", "MINI-DP"]
    help_text = rules[0]["help"]["text"]
    assert "GDPR Art. 9(2)" in help_text and "Record the Art. 9(2) condition." in help_text
    results = {r["ruleId"]: r for r in run["results"]}
    assert results["MINI-9-SPECIAL"]["level"] == "error" and results["MINI-9-SPECIAL"]["kind"] == "fail"
    assert results["MINI-35-DPIA"]["kind"] == "pass"
    assert results["MINI-35-DPIA"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 7
    waived = results["MINI-30-ROPA"]
    assert waived["level"] == "note"
    assert waived["suppressions"][0]["kind"] == "external" and "dpo@example.com" in waived["suppressions"][0][
        "justification"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_junit_one_testcase_per_rule(mini_plan: Path, mini_policy: Path, write: Callable[[str, str], Path]) -> None:
    root = ET.fromstring(render_check(result_with_waiver(mini_plan, mini_policy, write), "junit"))
    cases = root.findall(".//testcase")
    assert len(cases) == 4
    by_name = {c.get("name", "").split(":")[0]: c for c in cases}
    assert by_name["MINI-9-SPECIAL"].find("failure") is not None
    assert by_name["MINI-35-DPIA"].find("failure") is None and by_name["MINI-35-DPIA"].find("skipped") is None
    skipped = by_name["MINI-30-ROPA"].find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("waived")
    assert root.get("failures") == "1"


def test_markdown_and_table_show_citations(mini_plan: Path, mini_policy: Path,
                                           write: Callable[[str, str], Path]) -> None:
    result = result_with_waiver(mini_plan, mini_policy, write)
    md = render_check(result, "markdown")
    assert "[GDPR Art. 9(2)](https://eur-lex.europa.eu/eli/reg/2016/679/oj)" in md
    assert "🟡 waived" in md
    table = render_check(result, "table", RenderContext(width=200))
    assert "MINI-9-SPECIAL" in table and "GDPR Art. 9(2)" in table
    assert "FAIL: 1 blocking at --fail-on high" in table
    assert set(FORMATS) == {"table", "json", "sarif", "junit", "markdown"}


def _no_scan(mini_plan: Path, mini_policy: Path, plan_only: bool = False) -> GateResult:
    return run_gate(load_plan(mini_plan), None, [str(mini_policy)], plan_only=plan_only)


def test_needs_a_scan_is_its_own_status_in_every_format(mini_plan: Path, mini_policy: Path) -> None:
    result = _no_scan(mini_plan, mini_policy)
    data = json.loads(render_check(result, "json"))
    assert {f["rule"]: f["status"] for f in data["findings"]}["MINI-9-SPECIAL"] == "needs_scan"
    assert data["verdict"] == "fail" and data["plan_only"] is False
    table = render_check(result, "table", RenderContext(width=80))
    assert "NEEDS A" in table and "1 needs a scan" in table and "0 not applicable" in table
    md = render_check(result, "markdown")
    assert "| 🔍 needs a scan | critical | `MINI-9-SPECIAL`" in md and "1 needs a scan" in md
    root = ET.fromstring(render_check(result, "junit"))
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("MINI-9-SPECIAL"))
    failure = case.find("failure")  # it blocks the gate, so the dashboard shows it failing
    assert failure is not None and failure.get("type") == "needs-scan"
    sarif = json.loads(render_check(result, "sarif"))
    assert next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "MINI-9-SPECIAL")["kind"] == "open"
    jsonschema.validate(sarif, SCHEMA)
    linted = ET.fromstring(render_check(_no_scan(mini_plan, mini_policy, plan_only=True), "junit"))
    case = next(c for c in linted.iter("testcase") if c.get("name", "").startswith("MINI-9-SPECIAL"))
    skipped = case.find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("needs a scan")
    assert linted.get("failures") == "1"  # MINI-30-ROPA only


def test_table_shows_remediation_and_deciding_plan_line_at_80_columns(mini_plan: Path, mini_policy: Path,
                                                                      write: Callable[[str, str], Path]) -> None:
    doc = load_plan(mini_plan)
    result = run_gate(doc, SCAN, [str(mini_policy)])
    lines = {".".join(str(p) for p in key): line for key, line in doc.lines.items()}
    table = render_check(result, "table", RenderContext(plan_path="plan.yaml", plan_lines=lines, width=80))
    assert max(len(line) for line in table.splitlines()) <= 80
    text = " ".join(table.split())
    assert "Fix: Record the Art. 9(2) condition." in text
    # MINI-9-SPECIAL reads plan.legal.gdpr.special_category_condition, absent from the plan: no line to point
    # at; MINI-30-ROPA's assessments.ropa is absent too, so it points at the plan's assessments: section
    assert f"Plan: plan.yaml:{doc.line_of('assessments')}" in text
    assert lines["assessments"] == 6
    sarif = json.loads(render_check(result, "sarif", RenderContext(plan_path="plan.yaml", plan_lines=lines)))
    ropa = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "MINI-30-ROPA")
    assert ropa["locations"][0]["physicalLocation"]["region"]["startLine"] == 6  # the same line as the table


def test_markdown_summary_keeps_conditions_readable(mini_plan: Path, mini_policy: Path) -> None:
    clean = ScanFacts(records=500, records_with_personal_data=50)
    md = render_check(run_gate(load_plan(mini_plan), clean, [str(mini_policy)]), "markdown")
    assert "condition 'facts.categories.gdpr\\_special > 0' is false" in md
    assert "&gt;" not in md and "&lt;" not in md


def test_the_plan_line_is_the_field_the_fix_names_before_the_fields_the_rule_reads() -> None:
    from auditor.findings import Finding
    from auditor.output.order import plan_fields, plan_line

    finding = Finding(policy="pipl", rule="PIPL-38-EXPORT-MECHANISM", title="t", status="fail", severity="critical",
                      citation="PIPL Art. 38", url="https://www.npc.gov.cn/", message="m",
                      facts={"plan.data_subjects.count": 2400, "facts.cn_subjects": True},
                      remediation="Record the CAC mechanism in transfers.mechanism (e.g. cac_standard_contract).")
    assert plan_fields(finding) == ["transfers.mechanism", "data_subjects.count"]
    lines = {"data_subjects": 9, "data_subjects.count": 11, "transfers": 55, "transfers.compute_region": 57}
    assert plan_line(finding, lines) == 55  # transfers.mechanism is unset: its section's line
    assert plan_line(finding.model_copy(update={"remediation": "Fix it."}), lines) == 11
