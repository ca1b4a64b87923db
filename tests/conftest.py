"""Shared fixtures: small policies and plans written to tmp_path, and a CLI runner."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PLAN = REPO / "examples" / "plan.yaml"


@pytest.fixture(autouse=True)
def own_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own user config folder: `auditor audit` keeps the signing key it makes there."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder

MINI_POLICY = """\
id: mini
title: Mini test policy
version: "1"
applies_when: "facts.eea_subjects"
rules:
  - id: MINI-9-SPECIAL
    title: Special category data needs a condition
    citation: {ref: "GDPR Art. 9(2)", url: "https://eur-lex.europa.eu/eli/reg/2016/679/oj"}
    severity: critical
    when: "facts.categories.gdpr_special > 0"
    require: "has(plan.legal.gdpr.special_category_condition)"
    explain: "{{ facts.categories.gdpr_special }} records hold special category data."
    remediation: "Record the Art. 9(2) condition."
  - id: MINI-35-DPIA
    title: A DPIA is recorded
    citation: {ref: "GDPR Art. 35", url: "https://eur-lex.europa.eu/eli/reg/2016/679/oj"}
    severity: high
    require: "has(plan.assessments.dpia)"
    remediation: "Record the DPIA reference."
  - id: MINI-30-ROPA
    title: A record of processing is referenced
    citation: {ref: "GDPR Art. 30", url: "https://eur-lex.europa.eu/eli/reg/2016/679/oj"}
    severity: low
    require: "has(plan.assessments.ropa)"
privacy:
  - id: MINI-DP
    title: DP for personal data
    citation: {ref: "GDPR Art. 25", url: "https://eur-lex.europa.eu/eli/reg/2016/679/oj"}
    when: "facts.records_with_personal_data > 0"
    require: {dp_required: true, max_epsilon: 8.0, max_delta: "1/n", max_grad_norm: 1.0, sampling: poisson}
"""

MINI_PLAN = """\
version: 1
name: mini-plan
purpose: testing
data_subjects:
  regions: [EU]
assessments:
  dpia: DPIA-1
dataset:
  path: data.jsonl
privacy:
  target_epsilon: 3.0
  max_grad_norm: 1.0
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def mini_policy(write: Callable[[str, str], Path]) -> Path:
    return write("mini.yaml", MINI_POLICY)


@pytest.fixture
def mini_plan(write: Callable[[str, str], Path]) -> Path:
    return write("plan.yaml", MINI_PLAN)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def ray_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local Ray instance for every test that needs one (starting Ray takes seconds), offline: no
    dashboard, no usage statistics, its session folder (logs included) in a test folder this yields, so
    tests can read what Ray wrote. The ray engine uses a connection that already exists as it is."""
    import os
    import tempfile

    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # short: Ray's unix sockets live under this folder, and their paths are limited to ~107 bytes
    folder = Path(tempfile.mkdtemp(prefix="ray-t-"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             _temp_dir=str(folder))
    try:
        yield folder
    finally:
        ray.shutdown()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
