"""The bundled policies: they load, their cases pass with full coverage, and they cite the law."""

from __future__ import annotations

import pytest

from auditor.policy.load import bundled_ids, resolve_policies
from auditor.policy.testing import run_tests

MINIMUM_RULES = {"gdpr": 8, "pipl": 8, "ccpa": 5, "hipaa": 5, "eu_ai_act": 5}


def test_all_five_jurisdictions_ship() -> None:
    assert set(bundled_ids()) == set(MINIMUM_RULES)


@pytest.mark.parametrize("policy_id", sorted(MINIMUM_RULES))
def test_rule_counts_citations_and_privacy_blocks(policy_id: str) -> None:
    (policy,) = resolve_policies([policy_id])
    assert len(policy.rules) >= MINIMUM_RULES[policy_id]
    assert policy.privacy, f"{policy_id} states no DP requirement"
    prefix = policy_id.split("_")[0].upper()
    for rule in policy.rules:
        assert rule.spec.id.startswith(prefix), rule.spec.id
        assert rule.spec.citation.url.startswith(("https://", "http://"))
        assert any(ch.isdigit() for ch in rule.spec.citation.ref), f"{rule.spec.id} cites no article"
        assert rule.spec.remediation, f"{rule.spec.id} has no remediation"


def test_bundled_cases_pass_with_a_pass_and_a_fail_case_per_rule() -> None:
    report = run_tests()
    assert not report.failed, [f"{r.case.rule}: {r.problem}" for r in report.failed]
    assert not report.uncovered, report.uncovered
    assert len(report.results) >= 2 * sum(MINIMUM_RULES.values())
