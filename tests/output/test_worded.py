"""SARIF and JUnit carry the rule's sentence as the table and Markdown show it ("access control no"), not the
raw template values ("access control False"): a CI annotation is read by the same people as the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from tests.conftest import EXAMPLE_PLAN


@pytest.mark.parametrize("fmt", ["sarif", "junit"])
def test_ci_formats_say_the_finding_in_words(tmp_path: Path, fmt: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(EXAMPLE_PLAN.read_text(encoding="utf-8").replace("access_control: true", "access_control: false"),
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(plan), "--plan-only", "--format", fmt])
    assert result.exit_code == 1, result.output
    text = result.stdout if fmt == "junit" else json.dumps(json.loads(result.stdout))
    assert "access control no" in text and "access control False" not in text
    assert "Not applicable: Not applicable" not in text and "not applicable: Not applicable" not in text
