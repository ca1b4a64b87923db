"""``auditor policies show``: readable at 80 columns, and as Markdown or JSON."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.policy.load import resolve_policies


@pytest.mark.parametrize("policy_id", ["gdpr", "pipl", "hipaa"])
def test_show_text_wraps_at_80_columns_and_cuts_nothing(policy_id: str) -> None:
    result = CliRunner().invoke(cli, ["policies", "show", policy_id], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "…" not in result.output
    policy = resolve_policies([policy_id])[0]
    flat = "".join(result.output.split())  # wrapped and folded text, compared without the line breaks
    for rule in policy.spec.rules:
        assert f"{rule.id}[{rule.severity}]" in flat
        assert "".join(rule.require.split()) in flat, rule.id
        assert "".join(rule.remediation.split()) in flat, rule.id
    for block in policy.spec.privacy:
        assert block.id in flat


def test_show_markdown_keeps_conditions_whole_in_code_spans() -> None:
    result = CliRunner().invoke(cli, ["policies", "show", "pipl", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    md = result.output
    assert md.startswith("# pipl — ") and "\n## Rules\n" in md and "\n## Privacy requirements\n" in md
    policy = resolve_policies(["pipl"])[0]
    for rule in policy.spec.rules:
        assert f"\n### {rule.id} — " in md
        assert f"- Require: `{' '.join(rule.require.split())}`" in md, rule.id
    assert "||" in md and "&&" in md and "&amp;" not in md


def test_show_json_is_the_policy_as_loaded() -> None:
    result = CliRunner().invoke(cli, ["policies", "show", "gdpr", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    policy = resolve_policies(["gdpr"])[0]
    assert doc["schema_version"] == 1 and doc["sha256"] == policy.sha256 and doc["source"] == "bundled"
    assert [r["id"] for r in doc["policy"]["rules"]] == [r.id for r in policy.spec.rules]
    assert doc["policy"]["rules"][0]["citation"]["url"].startswith("https://")


def test_policies_show_takes_one_rule_id_and_shows_that_rule_alone() -> None:
    from click.testing import CliRunner

    from auditor.cli import cli

    shown = CliRunner().invoke(cli, ["policies", "show", "GDPR-9-SPECIAL-CATEGORY-BASIS"])
    assert shown.exit_code == 0, shown.output
    assert "GDPR-9-SPECIAL-CATEGORY-BASIS" in shown.output and "GDPR-6-1-LAWFUL-BASIS" not in shown.output
    block = CliRunner().invoke(cli, ["policies", "show", "GDPR-DP-BASELINE"])
    assert block.exit_code == 0 and "GDPR-DP-BASELINE" in block.output and "GDPR-5-1-B-PURPOSE" not in block.output
    unknown = CliRunner().invoke(cli, ["policies", "show", "NOPE-1-X"])
    assert unknown.exit_code == 2
