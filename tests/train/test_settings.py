"""Requirements → settings, with hand-built requirements: the policies bound the plan, never the reverse."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import GateFailed, TrainingInputError
from auditor.plan import load_plan
from auditor.privacy.requirements import PrivacyBounds, PrivacyRequirement, merge
from auditor.train.settings import resolve_settings

STRICT = merge([("gdpr/GDPR-DP-BASELINE", PrivacyBounds(max_epsilon=8.0, max_delta="1/n", max_grad_norm=1.0)),
                ("pipl/PIPL-DP-SENSITIVE", PrivacyBounds(max_epsilon=2.0, max_delta=1e-6))])


def _plan(tmp_path: Path, privacy: str) -> Path:
    (tmp_path / "plan.yaml").write_text(
        "version: 1\nname: t\ndataset: {path: d.jsonl, label_field: label}\nprivacy:\n" + privacy,
        encoding="utf-8")
    return tmp_path / "plan.yaml"


def test_plan_epsilon_above_required_maximum_is_refused_naming_both_numbers_and_rule(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 3.0\n"))
    with pytest.raises(GateFailed) as err:
        resolve_settings(doc, STRICT, 1000)
    assert "3" in err.value.message and "ε=2" in err.value.message
    assert "pipl/PIPL-DP-SENSITIVE" in err.value.message
    assert err.value.exit_code == 1


def test_silent_plan_gets_the_required_values_and_their_sources(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  accountant: rdp\n"))
    s = resolve_settings(doc, STRICT, 1000)
    assert s.dp and s.target_epsilon == 2.0 and s.max_epsilon_allowed == 2.0
    assert s.settings["epsilon"].source == "pipl/PIPL-DP-SENSITIVE"
    assert s.delta == 1e-6 and s.settings["delta"].source == "pipl/PIPL-DP-SENSITIVE"
    assert s.max_grad_norm == 1.0 and s.settings["max_grad_norm"].source == "gdpr/GDPR-DP-BASELINE"
    assert s.accountant == "rdp"


BUNDLED_DELTA = "min(1e-5, 1/(10*n))"
BUNDLED = merge([("gdpr/GDPR-DP-BASELINE", PrivacyBounds(max_epsilon=8.0, max_delta=BUNDLED_DELTA, min_units=100)),
                 ("pipl/PIPL-DP-SENSITIVE", PrivacyBounds(max_epsilon=4.0, max_delta=BUNDLED_DELTA, min_units=100))])


def test_auto_delta_is_the_bound_at_n_well_below_one_over_n(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n  target_delta: auto\n"))
    small = resolve_settings(doc, BUNDLED, 2500)
    assert small.delta == pytest.approx(1e-5)           # 1/(10n) = 4e-5 is looser than the 1e-5 cap
    assert small.settings["delta"].source == f"gdpr/GDPR-DP-BASELINE, pipl/PIPL-DP-SENSITIVE ({BUNDLED_DELTA}, n=2500)"
    large = resolve_settings(doc, BUNDLED, 1_000_000)
    assert large.delta == pytest.approx(1e-7)           # 1/(10n): ten times below 1/n


def test_explicit_delta_within_the_bound_is_kept(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n  target_delta: 1.0e-7\n  max_grad_norm: 5.0\n"))
    s = resolve_settings(doc, BUNDLED, 2500)
    assert s.delta == 1e-7 and s.settings["delta"].source == "plan"
    assert s.max_grad_norm == 5.0 and s.settings["max_grad_norm"].source == "plan"


def test_explicit_delta_above_the_bound_is_refused_naming_the_rule(tmp_path: Path) -> None:
    # 1e-4 was accepted under δ ≤ 1/n (n = 2500 gives 4e-4); the bound at n is now 1e-5
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n  target_delta: 1.0e-4\n"))
    with pytest.raises(GateFailed) as err:
        resolve_settings(doc, BUNDLED, 2500)
    assert err.value.exit_code == 1
    assert "gdpr/GDPR-DP-BASELINE" in err.value.message and "0.0001" in err.value.message
    assert "n=2500" in err.value.message and BUNDLED_DELTA in err.value.message


def test_legacy_one_over_n_still_refuses_a_larger_delta(tmp_path: Path) -> None:
    req = merge([("gdpr/G", PrivacyBounds(max_epsilon=8.0, max_delta="1/n"))])
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n  target_delta: 0.01\n"))
    with pytest.raises(GateFailed, match=r"0.0004 \(1/n at n=2500, set by gdpr/G\)"):
        resolve_settings(doc, req, 2500)
    # and auto stays at most min(1e-5, 1/(10n)) even when the policy would allow 1/n
    auto = resolve_settings(load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n")), req, 2500)
    assert auto.delta == pytest.approx(1e-5) and auto.settings["delta"].source.startswith("auto")


def test_too_few_privacy_units_is_refused_with_the_reason_and_the_rule(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n"))
    with pytest.raises(GateFailed) as err:
        resolve_settings(doc, BUNDLED, 99)
    assert err.value.exit_code == 1
    assert "n=99 privacy units is below the 100" in err.value.message
    assert "gdpr/GDPR-DP-BASELINE" in err.value.message and "ε≤4" in err.value.message
    assert resolve_settings(doc, BUNDLED, 100).delta == pytest.approx(1e-5)
    assert resolve_settings(doc, PrivacyRequirement(), 10).delta == pytest.approx(1e-5)  # no policy, no minimum


def test_auto_delta_without_any_policy_is_well_below_one_over_n(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n"))
    s = resolve_settings(doc, PrivacyRequirement(), 400)
    assert s.delta == pytest.approx(1e-5) and s.max_epsilon_allowed is None       # not 1/400
    assert s.settings["delta"].source == f"auto ({BUNDLED_DELTA}, n=400)"
    assert resolve_settings(doc, PrivacyRequirement(), 10**6).delta == pytest.approx(1e-7)


def test_mechanism_none_is_refused_when_a_policy_requires_dp(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  mechanism: none\n"))
    with pytest.raises(GateFailed, match="gdpr/GDPR-DP-BASELINE"):
        resolve_settings(doc, STRICT, 100)
    assert resolve_settings(doc, PrivacyRequirement(), 100).dp is False


def test_no_epsilon_anywhere_is_bad_input(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  accountant: prv\n"))
    with pytest.raises(TrainingInputError, match="target_epsilon"):
        resolve_settings(doc, PrivacyRequirement(dp_required=True), 100)


def test_a_policy_bound_undefined_at_this_n_is_refused_not_a_crash(tmp_path: Path) -> None:
    # passes the load-time probes (n = 1, 2, 10, ...) but divides by zero at n = 50
    req = merge([("mine/ODD", PrivacyBounds(max_epsilon=8.0, max_delta="max(1e-9, 1/((n-50)*(n-50)*n))"))])
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n"))
    with pytest.raises(GateFailed, match=r"mine/ODD.*undefined at n=50"):
        resolve_settings(doc, req, 50)
    assert resolve_settings(doc, req, 51).delta == pytest.approx(1e-5)   # 1/51 there: auto caps it at 1e-5
