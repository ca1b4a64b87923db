"""The public Python API: its names, that ``import auditor`` stays light, and that the CLI calls it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import auditor

EXAMPLE_PLAN = Path(__file__).resolve().parents[1] / "examples" / "plan.yaml"


def test_the_public_names_are_functions_and_errors() -> None:
    for name in ("scan", "check", "train", "audit", "report", "verify"):
        assert callable(getattr(auditor, name)) and getattr(auditor, name).__doc__, name
    for error in (auditor.GateFailed, auditor.InputError, auditor.PlanError, auditor.ScanError,
                  auditor.TrainingInputError, auditor.VerificationFailed, auditor.InternalError):
        assert issubclass(error, auditor.AuditorError)
    assert auditor.GateFailed("x").exit_code == 1 and auditor.InputError("x").exit_code == 2
    assert set(auditor.__all__) >= {"scan", "check", "train", "audit", "report", "verify", "AuditorError"}


def test_import_auditor_loads_no_ml_library_and_keeps_its_functions() -> None:
    code = ("import json, sys, auditor; import auditor.scan.model, auditor.report.evidence; "
            "heavy = [m for m in ('torch', 'transformers', 'opacus', 'presidio_analyzer', 'spacy') "
            "if m in sys.modules]; "
            "print(json.dumps([heavy, [callable(auditor.scan), callable(auditor.train), callable(auditor.report)]]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    heavy, functions = json.loads(out.stdout)
    # importing the subpackages did not replace the public functions that share their names
    assert heavy == [] and functions == [True, True, True]


def test_the_subpackages_stay_reachable_through_the_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.scan.api as scan_api
    import auditor.train.evidence as evidence

    assert auditor.scan.api is scan_api and auditor.train.evidence is evidence
    assert auditor.report.evidence.EVIDENCE_NAME == "evidence.json"
    monkeypatch.setattr("auditor.scan.api.load_scan", lambda path: "patched")
    assert scan_api.load_scan(Path("x")) == "patched"
    with pytest.raises(AttributeError):
        auditor.train.no_such_module  # noqa: B018


def test_check_returns_the_gate_result_and_the_cli_prints_the_same(tmp_path: Path) -> None:
    from auditor.cli import cli

    result = auditor.check(EXAMPLE_PLAN, plan_only=True)
    assert result.verdict in ("pass", "fail") and result.plan_only
    run = CliRunner().invoke(cli, ["check", str(EXAMPLE_PLAN), "--plan-only", "--format", "json"])
    assert json.loads(run.output)["verdict"] == result.verdict and run.exit_code == result.exit_code
    with pytest.raises(auditor.InputError, match="--plan-only"):
        auditor.check(EXAMPLE_PLAN, tmp_path / "scan.json", plan_only=True)


@pytest.mark.parametrize(("argv", "name"), [
    (["check", "PLAN", "--plan-only"], "check"),
    (["verify", "ENVELOPE", "--key", "KEY"], "verify"),
    (["scan", "DATA.jsonl"], "scan"),
    (["train", "PLAN", "--scan", "SCAN"], "train"),
    (["audit", "PLAN"], "audit"),
    (["report", "DIR", "--key", "KEY"], "report"),
])
def test_each_cli_command_calls_its_api_function(argv: list[str], name: str, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """The CLI parses, calls ``auditor.api.<name>``, prints: a stand-in function sees the call."""
    import shutil

    from auditor import api
    from auditor.cli import cli

    shutil.copytree(EXAMPLE_PLAN.parent, tmp_path / "ex")
    paths = {"PLAN": str(tmp_path / "ex" / "plan.yaml"), "DATA.jsonl": str(tmp_path / "data.jsonl"),
             "SCAN": str(tmp_path / "scan.json"), "DIR": str(tmp_path), "ENVELOPE": str(tmp_path / "e.jsonl"),
             "KEY": str(tmp_path / "k")}
    calls: list[tuple[Any, ...]] = []

    class Called(Exception):
        pass

    def stand_in(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise Called

    monkeypatch.setattr(api, name, stand_in)
    run = CliRunner().invoke(cli, [paths.get(a, a) for a in argv])
    assert calls and "internal error: Called" in run.output, run.output


def test_report_of_a_training_folder_needs_both_plan_and_scan(tmp_path: Path) -> None:
    from auditor.cli import cli

    run = CliRunner().invoke(cli, ["report", str(tmp_path), "--plan", str(EXAMPLE_PLAN)])
    assert run.exit_code == 2 and "--plan and --scan go together" in run.output
    with pytest.raises(auditor.InputError, match=r"training\.json: not found"):
        auditor.report(tmp_path, plan=EXAMPLE_PLAN, scan=None)
