"""`auditor train` through click's CliRunner: gate first, enforced run, ledger refusal, bad input, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli

POLICY = """id: testdp
title: Test DP policy
version: "1"
applies_when: "true"
rules:
  - id: TEST-PURPOSE
    title: A purpose is declared
    citation: {ref: "Test Art. 1", url: "https://example.org/test"}
    severity: high
    require: "has(plan.purpose)"
    explain: "The plan declares no purpose."
    remediation: "Add purpose."
privacy:
  - id: TEST-DP
    title: DP for everything
    citation: {ref: "Test Art. 2", url: "https://example.org/test"}
    when: "true"
    require: {dp_required: true, max_epsilon: 4.5, max_delta: 1.0e-4, max_grad_norm: 1.0, sampling: poisson}
"""


@pytest.fixture
def setup(make_plan: Any, tmp_path: Path) -> tuple[Path, Path, Path]:
    from auditor.plan import load_plan
    from auditor.scan.api import save_scan, scan_plan_dataset

    plan = make_plan(n=120, epochs=1, batch=40, epsilon=4.0, **{"name: tiny\n": "name: tiny\npurpose: triage\n"})
    policy = tmp_path / "testdp.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    scan = tmp_path / "scan.json"
    save_scan(scan_plan_dataset(load_plan(plan), progress=False), scan)
    return plan, policy, scan


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_train_then_a_second_run_over_budget_is_refused(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    plan, policy, scan = setup
    common = ["--scan", str(scan), "--policy", str(policy), "--ledger", str(tmp_path / "ledger"), "--no-progress"]
    first = _run("train", str(plan), "--out", str(tmp_path / "one"), *common)
    assert first.exit_code == 0, first.output
    assert "trained 3/3 steps (completed)" in first.output and "opacus rdp" in first.output
    evidence = json.loads((tmp_path / "one" / "training.json").read_text())
    assert evidence["requirement"]["bound_by"]["max_epsilon"] == "testdp/TEST-DP"
    assert evidence["epsilon"] <= 4.0 and (tmp_path / "one" / "model" / "model.safetensors").is_file()
    second = _run("train", str(plan), "--out", str(tmp_path / "two"), *common)
    assert second.exit_code == 1
    assert "privacy ledger" in second.output and "the maximum ε=4.5" in second.output
    assert "Traceback" not in second.output and not (tmp_path / "two" / "training.json").exists()


def test_gate_refusal_lists_blocking_findings_and_exits_1(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    plan, policy, scan = setup
    plan.write_text(plan.read_text().replace("purpose: triage\n", ""), encoding="utf-8")
    result = _run("train", str(plan), "--scan", str(scan), "--policy", str(policy), "--out", str(tmp_path / "o"),
                  "--ledger", str(tmp_path / "l"), "--no-progress")
    assert result.exit_code == 1
    assert "testdp/TEST-PURPOSE" in result.output and "gate refused" in result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "l").exists()


def test_bad_label_is_exit_2_with_one_line(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    plan, policy, _ = setup
    data = plan.parent / "data.jsonl"
    lines = data.read_text().splitlines()
    record = json.loads(lines[4])
    record["label"] = 9
    lines[4] = json.dumps(record)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _run("train", str(plan), "--policy", str(policy), "--out", str(tmp_path / "o"),
                  "--ledger", str(tmp_path / "l"), "--no-progress")  # no --scan: scans the changed data first
    assert result.exit_code == 2, result.output
    assert "data.jsonl:5: label field 'label' is outside 0..3" in result.output
    assert "9" not in result.output.split("outside")[0].split("data.jsonl:5")[1]  # the value is never echoed
    assert record["text"] not in result.output and "Traceback" not in result.output


def test_stale_scan_is_refused(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    plan, policy, scan = setup
    with (plan.parent / "data.jsonl").open("a") as handle:
        handle.write(json.dumps({"text": "late parcel", "label": 3, "customer_id": "x"}) + "\n")
    result = _run("train", str(plan), "--scan", str(scan), "--policy", str(policy), "--out", str(tmp_path / "o"),
                  "--ledger", str(tmp_path / "l"), "--no-progress")
    assert result.exit_code == 2, result.output
    assert f"{scan} describes" in result.output and "rescan" in result.output
    assert not (tmp_path / "o").exists()


def test_help_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; from auditor.cli import main\ntry:\n    main(['train', '--help'])\nexcept SystemExit:\n"
            "    pass\nassert 'torch' not in sys.modules and 'opacus' not in sys.modules, 'heavy import'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "--resume" in result.stdout and "--ledger" in result.stdout


def test_unusable_out_is_refused_before_training_or_the_ledger(setup: tuple[Path, Path, Path],
                                                                 tmp_path: Path) -> None:
    plan, policy, scan = setup
    common = ["--scan", str(scan), "--policy", str(policy), "--ledger", str(tmp_path / "ledger"), "--no-progress"]
    (tmp_path / "afile").write_text("x")
    result = _run("train", str(plan), "--out", str(tmp_path / "afile"), *common)
    assert result.exit_code == 2, result.output
    assert "--out must be a folder" in result.output and "Traceback" not in result.output
    foreign = tmp_path / "mine" / "model"
    foreign.mkdir(parents=True)
    (foreign / "weights.bin").write_text("precious")
    result = _run("train", str(plan), "--out", str(tmp_path / "mine"), *common)
    assert result.exit_code == 2, result.output
    assert "model/ that auditor did not write" in result.output
    assert (foreign / "weights.bin").read_text() == "precious"
    assert not (tmp_path / "ledger").exists() or not any((tmp_path / "ledger").glob("*.jsonl"))
