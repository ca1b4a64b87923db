"""The shipped JSON Schemas are what the models generate now, and real outputs validate against them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.facts import ScanFacts
from auditor.gate import run_gate
from auditor.output import render_check
from auditor.plan import load_plan
from auditor.schemas import SCHEMAS, dumps, generate, shipped
from tests.conftest import EXAMPLE_PLAN
from tests.report import report_factories as factories


def validate(name: str, document: Any) -> None:
    schema = json.loads(shipped(name))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_shipped_schema_is_what_the_models_generate(name: str) -> None:
    assert shipped(name) == dumps(generate(name)), f"run `python -m auditor.schemas` to regenerate {name}"


def test_check_json_carries_its_schema_version_and_validates(mini_plan: Path, mini_policy: Path) -> None:
    doc = load_plan(mini_plan)
    for scan, plan_only in ((None, False), (None, True), (ScanFacts(records=300, records_with_personal_data=30,
                                                                     categories={"gdpr_special": 2}), False)):
        data = json.loads(render_check(run_gate(doc, scan, [str(mini_policy)], plan_only=plan_only), "json"))
        assert data["schema_version"] == 1 and next(iter(data)) == "schema_version"
        validate("check", data)
    bundled = CliRunner().invoke(cli, ["check", str(EXAMPLE_PLAN), "--format", "json"])
    validate("check", json.loads(bundled.stdout))
    wrong = json.loads(bundled.stdout) | {"verdict": "maybe"}
    with pytest.raises(jsonschema.ValidationError):
        validate("check", wrong)


def test_evidence_training_and_scan_files_validate(tmp_path: Path) -> None:
    ev = factories.evidence(tmp_path)
    evidence = json.loads(ev.to_json())
    assert evidence["schema_version"] == 1
    validate("evidence", evidence)
    assert ev.training is not None and ev.scan is not None
    validate("training", json.loads(ev.training.model_dump_json()))
    validate("scan", json.loads(ev.scan.model_dump_json()))
    assert json.loads(ev.scan.model_dump_json())["schema_version"] == 1


def test_plan_schema_accepts_the_example_plan_and_refuses_a_typo(write: Callable[[str, str], Path]) -> None:
    import yaml

    plan = yaml.safe_load(EXAMPLE_PLAN.read_text(encoding="utf-8"))
    validate("plan", plan)
    with pytest.raises(jsonschema.ValidationError):
        validate("plan", plan | {"purpse": "typo"})


def test_schema_command_prints_the_shipped_file() -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["schema", "check"])
    assert printed.exit_code == 0 and printed.output == shipped("check")
    listing = runner.invoke(cli, ["schema"])
    assert listing.exit_code == 0 and all(name in listing.output for name in SCHEMAS)
    unknown = runner.invoke(cli, ["schema", "nope"])
    assert unknown.exit_code == 2 and unknown.output.count("\n") == 1 and "check, scan" in unknown.output
