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
from auditor.policy.load import load_policy, resolve_policies
from auditor.privacy.requirements import PrivacyBounds, merge
from tests.conftest import MINI_PLAN, MINI_POLICY

SCAN = ScanFacts(records=1000, records_with_personal_data=120, categories={"gdpr_special": 7})


def by_rule(result: GateResult) -> dict[str, Finding]:
    return {f.rule: f for f in result.findings}


def gate(plan: Path, policy: Path, scan: ScanFacts | None = SCAN, **kw: object) -> GateResult:
    return run_gate(load_plan(plan), scan, [str(policy)], **kw)  # type: ignore[arg-type]


def test_statuses_and_deciding_facts(mini_plan: Path, mini_policy: Path) -> None:
    result = gate(mini_plan, mini_policy)
    found = by_rule(result)
    assert found["MINI-9-SPECIAL"].status == "fail"
    assert found["MINI-9-SPECIAL"].message == "7 records hold special category data."
    assert found["MINI-9-SPECIAL"].facts == {"facts.categories.gdpr_special": 7,
                                             "plan.legal.gdpr.special_category_condition": None}
    assert found["MINI-35-DPIA"].status == "pass"
    assert found["MINI-30-ROPA"].status == "fail" and found["MINI-30-ROPA"].severity == "low"
    assert result.verdict == "fail" and result.exit_code == 1
    assert [f.rule for f in result.blocking()] == ["MINI-9-SPECIAL"]


def test_fail_on_threshold(mini_plan: Path, mini_policy: Path) -> None:
    assert gate(mini_plan, mini_policy, fail_on="critical").exit_code == 1
    assert gate(mini_plan, mini_policy, fail_on="none").exit_code == 0
    clean = ScanFacts(records=10, records_with_personal_data=1)
    assert gate(mini_plan, mini_policy, clean).exit_code == 0
    assert gate(mini_plan, mini_policy, clean, fail_on="low").exit_code == 1


def test_without_scan_dataset_rules_need_a_scan(mini_plan: Path, mini_policy: Path) -> None:
    result = gate(mini_plan, mini_policy, None)
    found = by_rule(result)
    assert found["MINI-9-SPECIAL"].status == "needs_scan"
    assert "Needs a scan" in found["MINI-9-SPECIAL"].message
    assert found["MINI-35-DPIA"].status == "pass"
    # a pre-training gate that has not seen the data does not pass it: the critical rule blocks ...
    assert result.exit_code == 1 and [f.rule for f in result.blocking()] == ["MINI-9-SPECIAL"]
    assert gate(mini_plan, mini_policy, None, fail_on="none").exit_code == 0  # ... at its severity
    # ... unless the plan alone is being linted
    linted = gate(mini_plan, mini_policy, None, plan_only=True)
    assert linted.exit_code == 0 and linted.plan_only and by_rule(linted)["MINI-9-SPECIAL"].status == "needs_scan"


def test_policy_whose_applicability_needs_a_scan_leaves_its_rules_undecided(
        write: Callable[[str, str], Path], mini_plan: Path) -> None:
    policy = write("p.yaml", MINI_POLICY.replace('applies_when: "facts.eea_subjects"',
                                                 'applies_when: "facts.categories.health > 0"'))
    result = gate(mini_plan, policy, None)
    assert {f.status for f in result.findings if not f.rule.endswith("-DP")} == {"needs_scan"}
    assert result.policies[0].applies is False and "without a scan" in result.policies[0].reason
    assert {f.status for f in gate(mini_plan, policy).findings} == {"not_applicable"}  # the scan decides


def test_absent_fact_is_an_error_naming_it(write: Callable[[str, str], Path], mini_plan: Path) -> None:
    policy = write("p.yaml", MINI_POLICY.replace('require: "has(plan.assessments.ropa)"',
                                                 'require: "facts.entities.US_SSN == 0"'))
    finding = by_rule(gate(mini_plan, policy))["MINI-30-ROPA"]
    assert finding.status == "error"
    assert "facts.entities.US_SSN" in finding.message


def test_non_boolean_result_is_an_error(write: Callable[[str, str], Path], mini_plan: Path) -> None:
    policy = write("p.yaml", MINI_POLICY.replace('require: "has(plan.assessments.ropa)"', 'require: "facts.records"'))
    assert by_rule(gate(mini_plan, policy))["MINI-30-ROPA"].status == "error"


def test_policy_not_applicable_outside_its_regions(write: Callable[[str, str], Path], mini_policy: Path) -> None:
    plan = write("plan2.yaml", MINI_PLAN.replace("regions: [EU]", "regions: [CN]"))
    result = gate(plan, mini_policy)
    assert {f.status for f in result.findings} == {"not_applicable"}
    assert result.policies[0].applies is False and "eea_subjects=False" in result.policies[0].reason
    assert result.privacy_requirements.dp_required is False


def test_cel_syntax_error_names_file_line_rule_and_column(write: Callable[[str, str], Path]) -> None:
    policy = write("p.yaml", MINI_POLICY.replace('require: "has(plan.assessments.dpia)"',
                                                 'require: "has(plan.assessments.dpia) &&& true"'))
    with pytest.raises(PolicyLoadError) as info:
        load_policy(policy)
    message = str(info.value)
    assert message.startswith(f"{policy}:18: rule MINI-35-DPIA: require: CEL syntax error at column 31")


def test_unknown_field_and_bad_severity(write: Callable[[str, str], Path]) -> None:
    with pytest.raises(PolicyLoadError, match=r"p\.yaml:9: rules\.0\.severity: Input should be"):
        load_policy(write("p.yaml", MINI_POLICY.replace("severity: critical", "severity: apocalyptic")))
    with pytest.raises(PolicyLoadError, match=r"q\.yaml:7: rules\.0\.titel: unknown field"):
        load_policy(write("q.yaml", MINI_POLICY.replace("    title: Special category", "    titel: x\n"
                                                                                       "    title: Special category")))


def test_duplicate_rule_ids_across_policies_rejected(write: Callable[[str, str], Path], mini_policy: Path) -> None:
    other = write("other.yaml", MINI_POLICY.replace("id: mini", "id: other"))
    with pytest.raises(PolicyLoadError, match="MINI-9-SPECIAL is also defined by policy 'mini'"):
        resolve_policies([str(mini_policy), str(other)])


def test_later_policy_with_same_id_replaces_earlier(write: Callable[[str, str], Path], mini_policy: Path) -> None:
    stricter = write("mine.yaml", MINI_POLICY.replace("max_epsilon: 8.0", "max_epsilon: 2.0"))
    loaded = resolve_policies([str(mini_policy), str(stricter)])
    assert len(loaded) == 1 and loaded[0].source == stricter


def test_strictest_wins_and_records_what_bound_each_value() -> None:
    merged = merge([
        ("gdpr/GDPR-DP", PrivacyBounds(max_epsilon=8.0, max_delta="1/n", max_grad_norm=1.0, sampling="poisson")),
        ("pipl/PIPL-DP", PrivacyBounds(max_epsilon=4.0, max_delta=1e-6, max_grad_norm=2.0)),
        ("hipaa/HIPAA-DP", PrivacyBounds(max_epsilon=6.0, max_delta=1e-5, max_grad_norm=0.5)),
    ])
    assert merged.max_epsilon == 4.0 and merged.bound_by["max_epsilon"] == "pipl/PIPL-DP"
    assert merged.max_grad_norm == 0.5 and merged.bound_by["max_grad_norm"] == "hipaa/HIPAA-DP"
    assert merged.max_delta == 1e-6 and merged.bound_by["max_delta"] == "pipl/PIPL-DP"
    assert merged.delta_for(100) == 1e-6       # 1/100 is looser than 1e-6
    assert merged.delta_for(10_000_000) == 1e-7  # 1/n is stricter for large n
    assert merged.dp_required and merged.sampling == "poisson"


def test_a_bound_several_policies_set_alike_names_them_all() -> None:
    merged = merge([
        ("ccpa/CCPA-DP-SPI", PrivacyBounds(max_epsilon=4.0, min_units=100)),
        ("gdpr/GDPR-DP-SPECIAL", PrivacyBounds(max_epsilon=4.0, min_units=100)),
        ("gdpr/GDPR-DP-SPECIAL", PrivacyBounds(max_epsilon=4.0)),
        ("pipl/PIPL-DP-BASELINE", PrivacyBounds(max_epsilon=8.0, min_units=50)),
    ])
    assert merged.bound_by["max_epsilon"] == "ccpa/CCPA-DP-SPI, gdpr/GDPR-DP-SPECIAL"
    assert merged.bound_by["min_units"] == "ccpa/CCPA-DP-SPI, gdpr/GDPR-DP-SPECIAL"
    same_delta = merge([("ccpa/A", PrivacyBounds(max_delta="min(1e-5, 1/(10*n))")),
                        ("gdpr/B", PrivacyBounds(max_delta="min(1e-5, 1/(10*n))"))])
    assert same_delta.delta_origin(2400) == "ccpa/A, gdpr/B" and len(same_delta.delta_bounds) == 1
    stricter = merge([("ccpa/A", PrivacyBounds(max_epsilon=4.0)), ("gdpr/B", PrivacyBounds(max_epsilon=3.0))])
    assert stricter.bound_by["max_epsilon"] == "gdpr/B"


def test_plan_exceeding_privacy_bounds_fails_at_check_time(write: Callable[[str, str], Path],
                                                           mini_policy: Path) -> None:
    plan = write("p.yaml", MINI_PLAN.replace("target_epsilon: 3.0", "target_epsilon: 12.0"))
    finding = by_rule(gate(plan, mini_policy))["MINI-DP"]
    assert finding.status == "fail" and "target_epsilon 12.0 > max 8.0" in finding.message
    none_plan = write("q.yaml", MINI_PLAN + "  mechanism: none\n")
    assert "DP is required" in by_rule(gate(none_plan, mini_policy))["MINI-DP"].message
    delta_plan = write("r.yaml", MINI_PLAN + "  target_delta: 0.01\n")
    assert "1/n" in by_rule(gate(delta_plan, mini_policy))["MINI-DP"].message


def test_delta_resolves_against_privacy_units(mini_plan: Path, mini_policy: Path) -> None:
    result = gate(mini_plan, mini_policy)
    assert result.privacy_units == 1000
    assert result.to_json_v1()["privacy_requirements"]["max_delta"] == pytest.approx(1e-3)
    assert gate(mini_plan, mini_policy, None).to_json_v1()["privacy_requirements"]["max_delta"] == "1/n"


def test_user_level_units_use_distinct_users(write: Callable[[str, str], Path], mini_policy: Path) -> None:
    plan = write("p.yaml", MINI_PLAN + "  unit: user\n")
    scan = ScanFacts(records=1000, records_with_personal_data=10, distinct_users=250)
    assert gate(plan, mini_policy, scan).privacy_units == 250



BUNDLED_DELTA = "min(1e-5, 1/(10*n))"
BUNDLED_MINI = MINI_POLICY.replace('max_delta: "1/n"', f'max_delta: "{BUNDLED_DELTA}", min_units: 100')


@pytest.mark.parametrize("bound", [BUNDLED_DELTA, "1/n", "1e-5", "max(1e-9, min(1e-5, 1 / (10 * n)))",
                                   "-(-1)/(100*n)"])
def test_delta_bounds_in_the_whitelist_load(write: Callable[[str, str], Path], bound: str) -> None:
    policy = load_policy(write("mini.yaml", MINI_POLICY.replace('max_delta: "1/n"', f'max_delta: "{bound}"')))
    assert policy.privacy[0].spec.require.max_delta == bound


@pytest.mark.parametrize(("bound", "why"), [
    ("__import__('os')", "the only functions are min() and max()"),
    ("__import__('os').system('true')", "attribute access is not allowed"),
    ("(1).__class__", "attribute access is not allowed"),
    ("x/n", "unknown name 'x'"),
    ("1/len(n)", "the only functions are min() and max()"),
    ("n**2", "only + - * / are allowed"),
    ("[n][0]", "is not allowed"),
    ("lambda: 1", "is not allowed"),
    ("min(1e-5, 1/(10*n)", "not an arithmetic expression"),
    ("1/(n-n)", "divides by zero"),
    ("1e-5 - 1", "not a positive bound"),
])
def test_delta_bound_outside_the_whitelist_fails_at_load_naming_file_and_rule(
        write: Callable[[str, str], Path], bound: str, why: str) -> None:
    path = write("bad.yaml", MINI_POLICY.replace('max_delta: "1/n"', f'max_delta: "{bound}"'))
    with pytest.raises(PolicyLoadError) as err:
        load_policy(path)
    message = str(err.value)
    assert message.startswith(f"{path}:") and "privacy MINI-DP" in message and "max_delta" in message
    assert why in message


def test_delta_bound_is_never_evaluated_as_python(write: Callable[[str, str], Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bound = f"__import__('pathlib').Path('{marker}').touch()"
    with pytest.raises(PolicyLoadError):
        load_policy(write("evil.yaml", MINI_POLICY.replace('max_delta: "1/n"', f'max_delta: "{bound}"')))
    assert not marker.exists()


def test_delta_bounds_and_min_units_merge_strictest_wins() -> None:
    merged = merge([
        ("gdpr/GDPR-DP", PrivacyBounds(max_delta=BUNDLED_DELTA, min_units=100)),
        ("pipl/PIPL-DP", PrivacyBounds(max_delta="1/(100*n)", min_units=500)),
        ("hipaa/HIPAA-DP", PrivacyBounds(max_delta=2e-6, min_units=50)),
    ])
    assert merged.min_units == 500 and merged.bound_by["min_units"] == "pipl/PIPL-DP"
    assert merged.max_delta == 2e-6 and merged.bound_by["max_delta"] == "hipaa/HIPAA-DP"  # holds for every n
    assert merged.delta_for(1000) == pytest.approx(2e-6)             # hipaa's number binds at n = 1000
    assert merged.delta_origin(1000) == "hipaa/HIPAA-DP"
    assert merged.delta_for(10**6) == pytest.approx(1e-8)            # pipl's 1/(100n) binds for large n
    assert merged.delta_origin(10**6) == "pipl/PIPL-DP"
    assert merged.units_problem(499) is not None and "pipl/PIPL-DP" in (merged.units_problem(499) or "")
    assert merged.units_problem(500) is None
    assert merged.delta_shown(None) == "min(2e-06, min(1e-5, 1/(10*n)), 1/(100*n))"
    same = merge([("gdpr/A", PrivacyBounds(max_delta=BUNDLED_DELTA)),
                  ("pipl/B", PrivacyBounds(max_delta=BUNDLED_DELTA))])
    assert [b.origin for b in same.delta_bounds] == ["gdpr/A, pipl/B"] and same.delta_shown(None) == BUNDLED_DELTA


def test_legacy_requirement_with_delta_one_over_n_still_reads() -> None:
    from auditor.privacy.requirements import PrivacyRequirement

    old = PrivacyRequirement.model_validate({"max_delta": 1e-5, "delta_one_over_n": True,
                                             "bound_by": {"max_delta": "a/X", "delta_one_over_n": "b/Y"}})
    assert old.delta_for(10) == pytest.approx(1e-5) and old.delta_for(10**6) == pytest.approx(1e-6)
    assert old.delta_origin(10**6) == "b/Y" and "delta_one_over_n" not in old.bound_by


def test_plan_delta_is_judged_against_the_bound_at_n(write: Callable[[str, str], Path]) -> None:
    policy = write("mini.yaml", BUNDLED_MINI)
    plan = write("p.yaml", MINI_PLAN + "  target_delta: 2.0e-5\n")     # below 1/n = 1e-3, above 1e-5
    finding = by_rule(gate(plan, policy))["MINI-DP"]
    assert finding.status == "fail" and "target_delta 2e-05 > max δ 1e-05" in finding.message
    assert "mini/MINI-DP" in finding.message and "n=1000" in finding.message
    no_scan = by_rule(gate(plan, policy, None))["MINI-DP"]
    assert no_scan.status == "fail" and "for any n" in no_scan.message       # above the 1e-5 cap for every n
    ok = write("q.yaml", MINI_PLAN + "  target_delta: 1.0e-5\n")
    assert by_rule(gate(ok, policy))["MINI-DP"].status == "pass"


def test_too_few_privacy_units_fail_the_privacy_block(write: Callable[[str, str], Path], mini_plan: Path) -> None:
    policy = write("mini.yaml", BUNDLED_MINI)
    small = ScanFacts(records=99, records_with_personal_data=10)
    finding = by_rule(gate(mini_plan, policy, small))["MINI-DP"]
    assert finding.status == "fail" and finding.severity == "high"
    assert "n=99 privacy units is below the 100 that mini/MINI-DP requires for a meaningful guarantee at ε≤8" \
        in finding.message
    enough = ScanFacts(records=100, records_with_personal_data=10)
    assert by_rule(gate(mini_plan, policy, enough))["MINI-DP"].status == "pass"


def test_check_json_shows_delta_for_known_n_else_the_expression(write: Callable[[str, str], Path],
                                                                 mini_plan: Path) -> None:
    policy = write("mini.yaml", BUNDLED_MINI)
    big = ScanFacts(records=10**6, records_with_personal_data=10)
    req = gate(mini_plan, policy, big).to_json_v1()["privacy_requirements"]
    assert req["max_delta"] == pytest.approx(1e-7) and req["privacy_units"] == 10**6
    assert req["min_units"] == 100 and req["bound_by"]["max_delta"] == "mini/MINI-DP"
    assert gate(mini_plan, policy, None).to_json_v1()["privacy_requirements"]["max_delta"] == BUNDLED_DELTA


WAIVERS = """\
waivers:
  - rule: MINI-9-SPECIAL
    reason: Art. 9(2)(a) consent being collected, DPO sign-off pending
    approver: dpo@example.com
    expires: {expires}
    scope: {{plan: "mini-*"}}
"""


def test_active_waiver_waives_and_stays_visible(write: Callable[[str, str], Path], mini_plan: Path,
                                                mini_policy: Path) -> None:
    waivers = write("w.yaml", WAIVERS.format(expires="2030-01-01"))
    result = gate(mini_plan, mini_policy, waivers=waivers, today=dt.date(2026, 11, 23))
    finding = by_rule(result)["MINI-9-SPECIAL"]
    assert finding.status == "waived" and finding.waiver is not None
    assert finding.waiver.approver == "dpo@example.com"
    assert result.exit_code == 0


def test_expired_waiver_does_not_apply_and_is_reported(write: Callable[[str, str], Path], mini_plan: Path,
                                                       mini_policy: Path) -> None:
    waivers = write("w.yaml", WAIVERS.format(expires="2026-01-31"))
    result = gate(mini_plan, mini_policy, waivers=waivers, today=dt.date(2026, 11, 23))
    found = by_rule(result)
    assert found["MINI-9-SPECIAL"].status == "fail"
    expired = found["WAIVER-EXPIRED-MINI-9-SPECIAL"]
    assert expired.status == "fail" and expired.severity == "critical" and "2026-01-31" in expired.message
    assert result.exit_code == 1


def test_waiver_scope_limits_it(write: Callable[[str, str], Path], mini_plan: Path, mini_policy: Path) -> None:
    waivers = write("w.yaml", WAIVERS.format(expires="2030-01-01").replace("mini-*", "other-*"))
    assert by_rule(gate(mini_plan, mini_policy, waivers=waivers))["MINI-9-SPECIAL"].status == "fail"


def test_bad_waiver_file(write: Callable[[str, str], Path], mini_plan: Path, mini_policy: Path) -> None:
    waivers = write("w.yaml", WAIVERS.format(expires="someday"))
    with pytest.raises(PolicyLoadError, match=r"w\.yaml:5: waivers\.0\.expires"):
        gate(mini_plan, mini_policy, waivers=waivers)


def test_method_calls_are_not_fact_paths_and_guarded_leaves_are_not_blamed() -> None:
    from auditor.policy.celx import compile_expr, first_missing

    expr = compile_expr('has(plan.purpose) && plan.purpose.matches("\\\\S") && facts.transfer_mechanisms.exists('
                        'm, m == "scc") && facts.categories.health > 0')
    assert expr.paths == ("plan.purpose", "facts.transfer_mechanisms", "facts.categories.health")
    context = {"plan": {"data_subjects": {}}, "facts": {"transfer_mechanisms": []}}
    guarded = compile_expr("has(plan.data_subjects.minors) && facts.categories.minors > 0")
    assert first_missing(context, guarded) == "facts.categories"


def test_guarded_plan_leaf_before_scan_fact_still_needs_a_scan(write: Callable[[str, str], Path],
                                                               mini_plan: Path) -> None:
    policy = write("p.yaml", MINI_POLICY.replace(
        'require: "has(plan.assessments.ropa)"',
        'require: "(has(plan.data_subjects.minors) && plan.data_subjects.minors) || facts.categories.minors == 0"'))
    finding = by_rule(gate(mini_plan, policy, None))["MINI-30-ROPA"]
    assert finding.status == "needs_scan" and "Needs a scan" in finding.message


def test_yaml_norway_region_is_a_region(write: Callable[[str, str], Path]) -> None:
    doc = load_plan(write("p.yaml", MINI_PLAN.replace("regions: [EU]", "regions: [NO, CN]")))
    assert doc.plan.data_subjects.regions == ["NO", "CN"]
