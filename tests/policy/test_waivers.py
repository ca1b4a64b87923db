"""Waiver problems are never silent: blank accountability fields fail, unknown targets are reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli

WAIVER = """\
waivers:
  - rule: {rule}
    reason: {reason}
    approver: {approver}
    expires: {expires}
{extra}"""


def waiver(write: Callable[[str, str], Path], rule: str = "MINI-35-DPIA", reason: str = "in review",
           approver: str = "dpo@example.com", expires: str = "2099-12-31", extra: str = "") -> Path:
    return write("waivers.yaml", WAIVER.format(rule=rule, reason=reason, approver=approver, expires=expires,
                                               extra=extra))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"reason": '" "'}, "waivers.yaml:3: waivers.0.reason: must not be blank"),
        ({"approver": '"  "'}, "waivers.yaml:4: waivers.0.approver: must not be blank"),
        ({"expires": "20271231"}, "waivers.yaml:5: waivers.0.expires: expected a date YYYY-MM-DD"),
    ],
)
def test_bad_waiver_field_is_one_line_exit_2(runner: CliRunner, write: Callable[[str, str], Path], mini_plan: Path,
                                            mini_policy: Path, fields: dict[str, str], expected: str) -> None:
    path = waiver(write, **fields)
    result = runner.invoke(cli, ["check", str(mini_plan), "--policy", str(mini_policy), "--waivers", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"auditor: {path.parent / expected}"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"rule": "MINI-35-DPIAX"}, "no loaded policy has a rule 'MINI-35-DPIAX'"),
        ({"extra": "    scope: {policy: other}\n"}, "scope.policy 'other' is not a loaded policy"),
    ],
)
def test_unknown_target_warns_when_policies_are_filtered(runner: CliRunner, write: Callable[[str, str], Path],
                                                         mini_plan: Path, mini_policy: Path,
                                                         fields: dict[str, str], expected: str) -> None:
    path = waiver(write, **fields)
    result = runner.invoke(cli, ["check", str(mini_plan), "--policy", str(mini_policy), "--waivers", str(path),
                                 "--fail-on", "medium", "--plan-only"])
    assert result.exit_code == 0, result.output  # a warning, not an error: the gate still runs
    assert f"auditor: warning: {path}:2: waiver: {expected}" in result.stderr


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"rule": "mini-35-dpia"}, "rule 'mini-35-dpia' does not match rule id MINI-35-DPIA (ids are case-sensitive)"),
        ({"extra": "    scope: {policy: MINI}\n"}, "scope.policy 'MINI' does not match policy id 'mini'"),
    ],
)
def test_case_mismatch_is_an_error_even_when_filtered(runner: CliRunner, write: Callable[[str, str], Path],
                                                      mini_plan: Path, mini_policy: Path,
                                                      fields: dict[str, str], expected: str) -> None:
    path = waiver(write, **fields)
    result = runner.invoke(cli, ["check", str(mini_plan), "--policy", str(mini_policy), "--waivers", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith(f"auditor: {path}:2: waiver: {expected}")


def test_unknown_rule_is_an_error_with_every_bundled_policy(runner: CliRunner, write: Callable[[str, str], Path],
                                                            mini_plan: Path) -> None:
    path = waiver(write, rule="GDPR-35-DPIAX")
    result = runner.invoke(cli, ["check", str(mini_plan), "--waivers", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"auditor: {path}:2: waiver: no loaded policy has a rule 'GDPR-35-DPIAX'; " \
                                    "the waiver never applies"
    ok = runner.invoke(cli, ["check", str(mini_plan), "--waivers", str(waiver(write, rule="GDPR-35-DPIA"))])
    assert ok.exit_code in (0, 1) and "waiver:" not in ok.output, ok.output
