"""Findings in words: ``Finding.conclusion`` and ``PolicyRef.reason`` read as sentences, not as CEL or facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.errors import PolicyLoadError
from auditor.facts import ScanFacts
from auditor.findings import Finding, GateResult
from auditor.gate import run_gate
from auditor.plan import load_plan
from auditor.policy.load import load_policy
from tests.conftest import MINI_PLAN

WORDED = """\
id: worded
title: Worded test policy
version: "1"
applies_when: "facts.eea_subjects"
applies_text: "Applies: the plan names data subjects in {{ facts.regions }}."
not_applies_text: "Does not apply: the plan names no data subjects in the EU or EEA."
not_covered: ["Data-subject rights handling (Arts. 12-22)", "UK GDPR"]
rules:
  - id: WORDED-9-SPECIAL
    title: Special category data needs a condition
    citation: {ref: "GDPR Art. 9(2)", url: "https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_9"}
    severity: critical
    when: "facts.categories.gdpr_special > 0"
    require: "has(plan.legal.gdpr.special_category_condition)"
    explain: "{{ facts.categories.gdpr_special }} records hold special category data and no condition is recorded."
    met: >-
      The plan records condition {{ plan.legal.gdpr.special_category_condition }} for the
      {{ facts.records_with_personal_data }} records.
    not_applicable: "Not applicable: the scan found no special category data."
    remediation: "Record the Art. 9(2) condition."
privacy:
  - id: WORDED-DP
    title: DP for personal data
    citation: {ref: "GDPR Art. 25", url: "https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_25"}
    when: "facts.records_with_personal_data > 0"
    require: {dp_required: true, max_epsilon: 8.0, max_delta: "1e-5", max_grad_norm: 1.0, sampling: poisson}
    met: "The plan's DP-SGD settings meet this policy's project default (no law fixes ε)."
    not_applicable: "Not applicable: the scan found no personal data."
"""

SPECIAL = ScanFacts(records=1000, records_with_personal_data=1200, categories={"gdpr_special": 7})


@pytest.fixture
def worded(write: Callable[[str, str], Path]) -> Path:
    return write("worded.yaml", WORDED)


def gate(write: Callable[[str, str], Path], policy: Path, scan: ScanFacts | None = SPECIAL, plan: str = MINI_PLAN,
         **kw: object) -> GateResult:
    path = write("plan.yaml", plan)
    return run_gate(load_plan(path), scan, [str(policy)], **kw)  # type: ignore[arg-type]


def by_rule(result: GateResult) -> dict[str, Finding]:
    return {f.rule: f for f in result.findings}


def test_failure_concludes_with_the_rendered_explain(write: Callable[[str, str], Path], worded: Path) -> None:
    found = by_rule(gate(write, worded))["WORDED-9-SPECIAL"]
    assert found.status == "fail"
    assert found.conclusion == found.message == "7 records hold special category data and no condition is recorded."


def test_pass_concludes_with_met_and_keeps_the_old_message(write: Callable[[str, str], Path], worded: Path) -> None:
    plan = MINI_PLAN.replace("assessments:", "legal: {gdpr: {special_category_condition: explicit_consent}}\n"
                                             "assessments:")
    found = by_rule(gate(write, worded, plan=plan))["WORDED-9-SPECIAL"]
    assert found.status == "pass"
    assert found.conclusion == "The plan records condition explicit_consent for the 1,200 records."
    assert found.message == "Met: Special category data needs a condition."


def test_not_applicable_concludes_in_words_not_cel(write: Callable[[str, str], Path], worded: Path) -> None:
    clean = ScanFacts(records=1000, records_with_personal_data=0)
    found = by_rule(gate(write, worded, clean))
    assert found["WORDED-9-SPECIAL"].status == "not_applicable"
    assert found["WORDED-9-SPECIAL"].conclusion == "Not applicable: the scan found no special category data."
    assert "facts.categories.gdpr_special > 0" in found["WORDED-9-SPECIAL"].message  # message unchanged
    assert found["WORDED-DP"].conclusion == "Not applicable: the scan found no personal data."


def test_privacy_block_pass_concludes_with_met_and_the_resolved_delta(write: Callable[[str, str], Path],
                                                                      worded: Path) -> None:
    found = by_rule(gate(write, worded))["WORDED-DP"]
    assert found.status == "pass"
    assert found.conclusion == ("The plan's DP-SGD settings meet this policy's project default (no law fixes ε). "
                                "At n=1,000 privacy units the δ bound is 1e-05.")
    assert found.message.startswith("The plan's DP settings meet dp_required=True")


def test_policy_reason_is_a_sentence_and_not_covered_is_exposed(write: Callable[[str, str], Path],
                                                                worded: Path) -> None:
    applying = gate(write, worded)
    assert applying.policies[0].reason == "Applies: the plan names data subjects in EU."
    assert applying.policies[0].not_covered == ["Data-subject rights handling (Arts. 12-22)", "UK GDPR"]
    elsewhere = gate(write, worded, plan=MINI_PLAN.replace("regions: [EU]", "regions: [CN]"))
    ref = elsewhere.policies[0]
    assert ref.applies is False
    assert ref.reason == "Does not apply: the plan names no data subjects in the EU or EEA."
    for finding in elsewhere.findings:
        assert finding.conclusion == ref.reason
        assert finding.message == "Policy worded does not apply: facts.eea_subjects=False."   # unchanged
    assert elsewhere.to_json_v1()["policies"][0]["not_covered"] == ref.not_covered


def test_without_the_texts_the_old_wording_stays(write: Callable[[str, str], Path], mini_policy: Path) -> None:
    result = gate(write, mini_policy, ScanFacts(records=10, records_with_personal_data=1))
    found = by_rule(result)
    assert found["MINI-9-SPECIAL"].conclusion == found["MINI-9-SPECIAL"].message
    assert found["MINI-35-DPIA"].conclusion == "Met: A DPIA is recorded."
    assert "eea_subjects=True" in result.policies[0].reason and result.policies[0].not_covered == []


def test_waived_conclusion_is_the_explain_plus_who_waived_it(write: Callable[[str, str], Path],
                                                             worded: Path) -> None:
    waivers = write("waivers.yaml", "waivers:\n  - rule: WORDED-9-SPECIAL\n    reason: consent being collected\n"
                                    "    approver: dpo@example.com\n    expires: 2099-01-01\n")
    found = by_rule(gate(write, worded, waivers=waivers, today=dt.date(2026, 1, 1)))["WORDED-9-SPECIAL"]
    assert found.status == "waived"
    assert found.conclusion == ("7 records hold special category data and no condition is recorded. "
                                "Waived by dpo@example.com until 2099-01-01: consent being collected")


def test_expired_waiver_note_has_a_conclusion(write: Callable[[str, str], Path], worded: Path) -> None:
    waivers = write("waivers.yaml", "waivers:\n  - rule: WORDED-9-SPECIAL\n    reason: consent being collected\n"
                                    "    approver: dpo@example.com\n    expires: 2025-01-01\n")
    found = by_rule(gate(write, worded, waivers=waivers, today=dt.date(2026, 1, 1)))
    note = found["WAIVER-EXPIRED-WORDED-9-SPECIAL"]
    assert note.conclusion == note.message and "expired on 2025-01-01" in note.conclusion


def test_not_applicable_text_without_when_fails_at_load(write: Callable[[str, str], Path]) -> None:
    policy = write("p.yaml", WORDED.replace('    when: "facts.categories.gdpr_special > 0"\n', ""))
    with pytest.raises(PolicyLoadError, match=r"p\.yaml.*rules\.0.*not_applicable is only shown when"):
        load_policy(policy)


@pytest.mark.parametrize("url", ["http://eur-lex.europa.eu/eli/reg/2016/679/oj", "eur-lex.europa.eu", "https://"])
def test_citation_urls_must_be_https(write: Callable[[str, str], Path], url: str) -> None:
    policy = write("p.yaml", WORDED.replace("https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_9", url))
    with pytest.raises(PolicyLoadError, match=r"rules\.0\.citation\.url"):
        load_policy(policy)


def test_sentences_render_values_in_prose_and_say_when_a_scan_is_missing(write: Callable[[str, str], Path],
                                                                           worded: Path) -> None:
    policy = write("p.yaml", WORDED.replace(
        'not_applies_text: "Does not apply: the plan names no data subjects in the EU or EEA."',
        'not_applies_text: "Does not apply: regions {{ facts.regions }}, measures {{ facts.technical_measures }}, '
        'DP {{ facts.dp_planned }}, minors {{ facts.categories.minors }}, storage {{ facts.storage_region }}."'))
    plan = MINI_PLAN.replace("regions: [EU]", "regions: [CN, US-CA]")
    ref = gate(write, policy, None, plan=plan).policies[0]
    assert ref.reason == ("Does not apply: regions CN, US-CA, measures differential_privacy, DP yes, minors (no scan), "
                          "storage (not set).")
