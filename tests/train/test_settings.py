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


def test_delta_resolves_against_n_and_takes_the_minimum(tmp_path: Path) -> None:
    req = merge([("gdpr/G", PrivacyBounds(max_epsilon=8.0, max_delta="1/n"))])
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n  target_delta: 0.01\n  max_grad_norm: 5.0\n"))
    s = resolve_settings(doc, req, 2500)
    assert s.delta == pytest.approx(1 / 2500)
    assert "gdpr/G" in s.settings["delta"].source and "n=2500" in s.settings["delta"].source
    assert s.max_grad_norm == 5.0 and s.settings["max_grad_norm"].source == "plan"
    tighter = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n  target_delta: 1.0e-7\n"))
    assert resolve_settings(tighter, req, 2500).delta == 1e-7


def test_auto_delta_without_any_policy_is_one_over_n(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  target_epsilon: 1.0\n"))
    s = resolve_settings(doc, PrivacyRequirement(), 400)
    assert s.delta == pytest.approx(1 / 400) and s.max_epsilon_allowed is None


def test_mechanism_none_is_refused_when_a_policy_requires_dp(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  mechanism: none\n"))
    with pytest.raises(GateFailed, match="gdpr/GDPR-DP-BASELINE"):
        resolve_settings(doc, STRICT, 100)
    assert resolve_settings(doc, PrivacyRequirement(), 100).dp is False


def test_no_epsilon_anywhere_is_bad_input(tmp_path: Path) -> None:
    doc = load_plan(_plan(tmp_path, "  accountant: prv\n"))
    with pytest.raises(TrainingInputError, match="target_epsilon"):
        resolve_settings(doc, PrivacyRequirement(dp_required=True), 100)
