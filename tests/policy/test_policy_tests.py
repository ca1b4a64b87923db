"""`auditor policies test`: what it says when pointed at the wrong folder or when cases fail."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from auditor.cli import cli
from auditor.policy.testing import run_tests

BUNDLED = Path(__file__).resolve().parents[2] / "policies"


def test_a_policy_folder_is_not_taken_for_test_files() -> None:
    result = CliRunner().invoke(cli, ["policies", "test", str(BUNDLED)])
    assert result.exit_code == 2, result.output
    assert "is a policy, not a policy test file" in result.output and "tests/ folder" in result.output


def test_failing_cases_still_count_as_coverage(tmp_path: Path) -> None:
    # flip every expectation of one rule: its cases fail, but "no pass and no fail case" would be false
    tests = tmp_path / "gdpr.yaml"
    shutil.copy(BUNDLED / "tests" / "gdpr.yaml", tests)
    text = tests.read_text(encoding="utf-8")
    tests.write_text(text.replace("expect: pass", "expect: PASS_").replace("expect: fail", "expect: pass")
                     .replace("expect: PASS_", "expect: fail"), encoding="utf-8")
    report = run_tests(tests)
    assert any(not r.ok for r in report.results)
    assert not [u for u in report.uncovered if "no pass and no fail" in u]


def test_a_case_can_assert_on_the_conclusion(tmp_path: Path) -> None:
    tests = tmp_path / "gdpr.yaml"
    tests.write_text(
        "policy: gdpr\n"
        "base_plan: {version: 1, name: t, dataset: {path: d.jsonl}, data_subjects: {regions: [EU]}}\n"
        "cases:\n"
        "  - name: the conclusion says what was missing\n"
        "    rule: GDPR-6-1-LAWFUL-BASIS\n"
        "    expect: fail\n"
        "    expect_conclusion: No Art. 6(1) lawful basis is recorded\n"
        "  - name: a conclusion that does not say it is a mismatch\n"
        "    rule: GDPR-6-1-LAWFUL-BASIS\n"
        "    expect: fail\n"
        "    expect_conclusion: lawful basis consent is recorded\n", encoding="utf-8")
    results = run_tests(tests).results
    assert [r.ok for r in results] == [True, False]
    assert results[1].problem.startswith("conclusion lacks 'lawful basis consent is recorded': No Art. 6(1)")
