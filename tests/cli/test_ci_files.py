"""action.yml and .pre-commit-hooks.yaml: they parse, and what they run is a real auditor command line."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from click.testing import CliRunner

from auditor.cli import cli
from tests.conftest import MINI_PLAN, REPO

ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
HOOKS = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
#: MINI_PLAN without its DPIA: MINI-35-DPIA (high) fails.
FAILING = MINI_PLAN.replace("assessments:\n  dpia: DPIA-1\n", "")


def _options(name: str) -> set[str]:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    return {opt for param in command.params if isinstance(param, click.Option) for opt in param.opts}


def _steps() -> dict[str, dict[str, Any]]:
    return {step.get("id") or step.get("name") or step["uses"]: step for step in ACTION["runs"]["steps"]}


def _env(step: dict[str, Any], inputs: dict[str, str]) -> dict[str, str]:
    """The step's env as the runner would set it: ``${{ inputs.X }}`` and ``${{ github.action_path }}``."""
    values = {f"inputs.{name}": str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    values |= {f"inputs.{name}": value for name, value in inputs.items()} | {"github.action_path": str(REPO)}
    return {key: EXPRESSION.sub(lambda m: values[m.group(1)], str(value)) for key, value in step["env"].items()}


def test_action_is_a_composite_that_passes_inputs_through_env_only() -> None:
    assert ACTION["runs"]["using"] == "composite" and ACTION["inputs"]["plan"]["required"] is True
    for step in ACTION["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], step["run"]          # no input is ever spliced into a script
            for value in step.get("env", {}).values():
                for expression in EXPRESSION.findall(str(value)):
                    assert expression.startswith(("inputs.", "github.action_path")), expression
                    if expression.startswith("inputs."):
                        assert expression[7:] in ACTION["inputs"], expression
    uses = [step["uses"] for step in ACTION["runs"]["steps"] if "uses" in step]
    assert uses == ["actions/setup-python@v5", "github/codeql-action/upload-sarif@v3"]


def test_action_scripts_use_only_real_options() -> None:
    for step in ACTION["runs"]["steps"]:
        for command in ("scan", "check"):
            script = step.get("run", "")
            if f"auditor {command}" in script or f"args=({command} " in script:
                used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-o)(?![\w-])", script))
                assert used and used <= _options(command), used - _options(command)


def _run_check_step(tmp_path: Path, inputs: dict[str, str]) -> dict[str, str]:
    step = _steps()["check"]
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    env = os.environ | _env(step, inputs) | {"GITHUB_OUTPUT": str(outputs), "RUNNER_TEMP": str(tmp_path),
                                             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path,
                          env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr                     # exit 1 is reported, the upload still runs
    return dict(line.split("=", 1) for line in outputs.read_text().splitlines())


def test_action_check_step_writes_the_sarif_and_reports_the_exit_code(tmp_path: Path, mini_policy: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(FAILING)
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers:\n  - rule: MINI-30-ROPA\n    reason: r\n    approver: a@example.com\n"
                       "    expires: 2099-01-01\n")
    inputs = {"plan": "plans/plan.yaml", "policy": f"{mini_policy}\n", "waivers": str(waivers),
              "category": "auditor/eu", "sarif-waived": "true"}
    outputs = _run_check_step(tmp_path, inputs)
    assert outputs == {"exit-code": "1", "sarif-file": "auditor.sarif"}
    log = json.loads((tmp_path / "auditor.sarif").read_text())
    run = log["runs"][0]
    assert run["automationDetails"] == {"id": "auditor/eu/"}
    # the rule that needs a scan blocks the gate too, so it is in the log as "open" (level none)
    assert {r["ruleId"]: r["level"] for r in run["results"]} == {"MINI-35-DPIA": "error", "MINI-30-ROPA": "note",
                                                               "MINI-9-SPECIAL": "none"}
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "plans/plan.yaml"
    relaxed = _run_check_step(tmp_path, inputs | {"fail-on": "none", "sarif-file": "out/a.sarif"})
    assert relaxed == {"exit-code": "0", "sarif-file": "out/a.sarif"}


def test_action_fails_the_job_only_on_exit_1_after_the_upload() -> None:
    steps = list(_steps())
    assert steps.index("check") < steps.index("Upload to code scanning") < steps.index("Fail on findings")
    assert _steps()["Fail on findings"]["if"] == "steps.check.outputs.exit-code == '1'"
    assert "exit 1" in _steps()["Fail on findings"]["run"]


def test_pre_commit_hook_entry_runs_auditor_check(runner: CliRunner, tmp_path: Path, mini_policy: Path) -> None:
    (hook,) = HOOKS
    assert {"id", "name", "entry", "language"} <= set(hook) and hook["language"] == "python"
    assert re.search(hook["files"], "training/plan.yaml") and not re.search(hook["files"], "README.md")
    program, *command = shlex.split(hook["entry"])
    assert program == "auditor"               # the console script pyproject.toml installs
    assert "auditor = \"auditor.cli:main\"" in (REPO / "pyproject.toml").read_text()
    plan = tmp_path / "plan.yaml"
    plan.write_text(FAILING)
    args = [*command, *hook.get("args", []), str(plan), "--policy", str(mini_policy)]
    failing = runner.invoke(cli, args)
    assert failing.exit_code == 1 and "MINI-35-DPIA" in failing.output
    plan.write_text(MINI_PLAN.replace("  dpia: DPIA-1", "  dpia: DPIA-1\n  ropa: ROPA-1"))
    assert runner.invoke(cli, args).exit_code == 0
