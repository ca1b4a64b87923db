"""SARIF for GitHub code scanning: only what needs fixing, repository-relative URIs, stable fingerprints."""

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
from auditor.output import RenderContext, SarifOptions, render_check
from auditor.output.location import PlanLocation, find_repo_root, locate_plan
from auditor.plan import load_plan
from tests.conftest import EXAMPLE_PLAN, MINI_PLAN, REPO

SCHEMA = json.loads((Path(__file__).parent / "sarif_required.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
#: MINI_PLAN without its DPIA: MINI-35-DPIA (high) and MINI-30-ROPA (low) fail without a scan.
TWO_FAILURES = MINI_PLAN.replace("assessments:\n  dpia: DPIA-1\n", "")
WAIVE_ROPA = """\
waivers:
  - rule: MINI-30-ROPA
    reason: ROPA entry being drafted
    approver: dpo@example.com
    expires: 2099-01-01
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def sarif(runner: CliRunner, plan: Path, *args: str) -> tuple[dict[str, Any], str]:
    # --plan-only unless a test says otherwise: these plans have no data, and rules needing a scan are
    # tested on their own below
    extra = [] if "--blocking-needs-scan" in args else ["--plan-only"]
    args = tuple(a for a in args if a != "--blocking-needs-scan")
    result = runner.invoke(cli, ["check", str(plan), "--format", "sarif", *extra, *args])
    assert result.exit_code in (0, 1), result.output
    log = json.loads(result.stdout)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(log)]
    assert not errors, errors
    return log, result.stderr


def results(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["ruleId"]: r for r in log["runs"][0]["results"]}


def test_a_compliant_plan_opens_no_alert_unless_all_results_are_asked_for(runner: CliRunner) -> None:
    log, _ = sarif(runner, EXAMPLE_PLAN, "--fail-on", "low")
    run = log["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    everything, _ = sarif(runner, EXAMPLE_PLAN, "--fail-on", "low", "--sarif-all")
    kinds = {r["kind"] for r in everything["runs"][0]["results"]}
    # open: the rules that need a scan
    assert kinds == {"pass", "notApplicable", "open"} and len(everything["runs"][0]["results"]) > 60
    assert {r["level"] for r in everything["runs"][0]["results"]} == {"none"}


def test_only_failures_by_default_at_their_level(runner: CliRunner, repo: Path, mini_policy: Path) -> None:
    plan = repo / "plan.yaml"
    plan.write_text(TWO_FAILURES)
    log, _ = sarif(runner, plan, "--policy", str(mini_policy))
    found = results(log)
    assert set(found) == {"MINI-35-DPIA", "MINI-30-ROPA"}      # MINI-9 needs a scan, MINI-DP passes
    assert found["MINI-35-DPIA"]["level"] == "error" and found["MINI-30-ROPA"]["level"] == "note"
    assert {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]} == set(found)
    for result in log["runs"][0]["results"]:
        assert log["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_waived_findings_are_left_out_unless_asked_for_then_notes_with_suppressions(
        runner: CliRunner, repo: Path, mini_policy: Path, write: Callable[[str, str], Path]) -> None:
    plan = repo / "plan.yaml"
    plan.write_text(MINI_PLAN)
    waivers = write("waivers.yaml", WAIVE_ROPA)
    default, _ = sarif(runner, plan, "--policy", str(mini_policy), "--waivers", str(waivers), "--fail-on", "low")
    assert default["runs"][0]["results"] == []
    shown, _ = sarif(runner, plan, "--policy", str(mini_policy), "--waivers", str(waivers), "--fail-on", "low",
                     "--sarif-waived")
    waived = results(shown)["MINI-30-ROPA"]
    assert waived["level"] == "note" and waived["kind"] == "fail"
    assert waived["suppressions"] == [{"kind": "external", "status": "accepted", "justification":
                                       "ROPA entry being drafted (approved by dpo@example.com, expires 2099-01-01)"}]


def test_a_plan_named_with_a_space_and_a_hash_is_a_valid_relative_uri_from_any_folder(
        runner: CliRunner, repo: Path, mini_policy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = repo / "plans" / "my plan#1.yaml"
    plan.parent.mkdir()
    plan.write_text(TWO_FAILURES)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)       # the argument as typed is absolute; the uri is still repository-relative
    log, _ = sarif(runner, plan, "--policy", str(mini_policy))
    run = log["runs"][0]
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "plans/my%20plan%231.yaml", "uriBaseId": "%SRCROOT%"}
    assert "uri" not in run["originalUriBaseIds"]["%SRCROOT%"]     # the root is the checkout, never a local path
    assert str(tmp_path) not in json.dumps(log)


def test_today_the_uri_as_typed_fails_the_schema() -> None:
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"},
           "locations": [{"physicalLocation": {"artifactLocation": {"uri": "my plan#1.yaml"}}}]}]}]}
    assert not VALIDATOR.is_valid(bad)       # proves the format check runs (rfc3986-validator installed)


@pytest.mark.parametrize(("name", "uri"), [("plän ü.yaml", "pl%C3%A4n%20%C3%BC.yaml"), ("a:b.yaml", "a%3Ab.yaml"),
                                           ("100%.yaml", "100%25.yaml"), ("x?y.yaml", "x%3Fy.yaml")])
def test_uris_are_percent_encoded_per_rfc_3986(repo: Path, name: str, uri: str) -> None:
    plan = repo / name
    plan.write_text(MINI_PLAN)
    location = locate_plan(plan)
    assert (location.uri, location.path, location.base_id) == (uri, name, "%SRCROOT%")
    assert jsonschema.Draft202012Validator.FORMAT_CHECKER.conforms(location.uri, "uri-reference")


def test_repo_root_is_found_by_walking_up_for_git_including_a_worktree_file(tmp_path: Path) -> None:
    root = tmp_path / "wt"
    (root / "a" / "b").mkdir(parents=True)
    (root / ".git").write_text("gitdir: /elsewhere/.git/worktrees/wt\n")
    assert find_repo_root(root / "a" / "b") == root
    assert find_repo_root(REPO / "tests") == REPO


def test_repo_root_option_and_a_plan_outside_it(runner: CliRunner, repo: Path, mini_policy: Path,
                                               tmp_path: Path) -> None:
    plan = repo / "sub" / "plan.yaml"
    plan.parent.mkdir()
    plan.write_text(TWO_FAILURES)
    log, _ = sarif(runner, plan, "--policy", str(mini_policy), "--repo-root", str(repo / "sub"))
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "plan.yaml"
    outside = tmp_path / "outside" / "plan.yaml"
    outside.parent.mkdir()
    outside.write_text(TWO_FAILURES)
    log, stderr = sarif(runner, outside, "--policy", str(mini_policy), "--repo-root", str(repo))
    run = log["runs"][0]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "plan.yaml"}
    assert "originalUriBaseIds" not in run
    note = run["invocations"][0]["toolExecutionNotifications"][0]
    assert note["level"] == "warning" and "outside the repository root" in note["message"]["text"]
    assert str(tmp_path) not in json.dumps(log)
    assert "outside the repository root" in stderr and "warning" in stderr


def test_fingerprints_are_stable_across_runs_and_line_moves_and_differ_per_rule(
        runner: CliRunner, repo: Path, mini_policy: Path) -> None:
    plan = repo / "plan.yaml"
    plan.write_text(TWO_FAILURES)
    first = results(sarif(runner, plan, "--policy", str(mini_policy))[0])
    second = results(sarif(runner, plan, "--policy", str(mini_policy))[0])
    plan.write_text("# moved down by a comment\n\n" + TWO_FAILURES)
    moved = results(sarif(runner, plan, "--policy", str(mini_policy))[0])
    prints = {rule: r["partialFingerprints"]["primaryLocationLineHash"] for rule, r in first.items()}
    assert prints == {rule: r["partialFingerprints"]["primaryLocationLineHash"] for rule, r in second.items()}
    assert prints == {rule: r["partialFingerprints"]["primaryLocationLineHash"] for rule, r in moved.items()}
    assert len(set(prints.values())) == 2
    renamed = repo / "other.yaml"
    renamed.write_text(TWO_FAILURES)
    other = results(sarif(runner, renamed, "--policy", str(mini_policy))[0])
    assert other["MINI-30-ROPA"]["partialFingerprints"] != first["MINI-30-ROPA"]["partialFingerprints"]


def test_category_sets_automation_details_and_defaults_to_the_plan_path(runner: CliRunner, repo: Path,
                                                                          mini_policy: Path) -> None:
    plan = repo / "plans" / "my plan#1.yaml"
    plan.parent.mkdir()
    plan.write_text(MINI_PLAN)
    default, _ = sarif(runner, plan, "--policy", str(mini_policy))
    assert default["runs"][0]["automationDetails"] == {"id": "auditor/plans/my plan#1.yaml/"}
    named, _ = sarif(runner, plan, "--policy", str(mini_policy), "--category", "auditor/eu-plan")
    assert named["runs"][0]["automationDetails"] == {"id": "auditor/eu-plan/"}


def test_sarif_options_with_another_format_or_a_bad_value_are_one_line_exit_2(runner: CliRunner, mini_plan: Path,
                                                                             tmp_path: Path) -> None:
    cases = {("--format", "json", "--sarif-all"): "--sarif-all only applies to --format sarif",
             ("-o", str(tmp_path / "r.xml"), "--category", "x"): "--category only applies to --format sarif",
             ("--format", "sarif", "--category", " "): "--category: empty",
             ("--format", "sarif", "--repo-root", str(tmp_path / "nope")): "--repo-root",
             ("--format", "sarif", "--repo-root", str(mini_plan)): "is not a folder"}
    for args, message in cases.items():
        result = runner.invoke(cli, ["check", str(mini_plan), *args])
        assert result.exit_code == 2, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1 and message in result.output, (args, result.output)
    assert not (tmp_path / "r.xml").exists()


def test_rules_carry_precision_and_the_driver_its_information_uri(mini_plan: Path, mini_policy: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.output.sarif as sarif_module

    scan = ScanFacts(records=500, records_with_personal_data=50, categories={"gdpr_special": 3})
    result = run_gate(load_plan(mini_plan), scan, [str(mini_policy)])
    ctx = RenderContext(plan_location=PlanLocation(uri="plan.yaml", path="plan.yaml"),
                        sarif=SarifOptions(all_results=True))
    monkeypatch.setattr(sarif_module, "information_uri", lambda: "https://example.org/auditor")
    log = json.loads(render_check(result, "sarif", ctx))
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://example.org/auditor"
    precision = {r["id"]: r["properties"]["precision"] for r in driver["rules"]}
    assert precision["MINI-35-DPIA"] == "very-high"     # a fact the plan declares
    assert precision["MINI-9-SPECIAL"] == "high"        # counted by the scan's recognizers
    sampled = json.loads(render_check(result, "sarif", RenderContext(scan_sampled=True,
                                                                     sarif=SarifOptions(all_results=True))))
    rules = {r["id"]: r for r in sampled["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["MINI-9-SPECIAL"]["properties"]["precision"] == "medium"   # a 95% upper bound from a sample
    assert rules["MINI-35-DPIA"]["properties"]["precision"] == "very-high"


def test_information_uri_comes_from_the_package_metadata_or_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from auditor.output.sarif import information_uri

    class Meta:
        def __init__(self, urls: list[str]) -> None:
            self.urls = urls

        def get_all(self, key: str, default: Any = None) -> list[str] | None:
            return self.urls if key == "Project-URL" else default

    information_uri.cache_clear()
    monkeypatch.setattr(importlib.metadata, "metadata", lambda _: Meta(["Source, https://example.org/src"]))
    assert information_uri() == "https://example.org/src"
    information_uri.cache_clear()
    monkeypatch.setattr(importlib.metadata, "metadata", lambda _: Meta(["Changelog, not a uri"]))
    assert information_uri() is None
    information_uri.cache_clear()


def test_the_sarif_options_are_documented_in_help_and_readme(runner: CliRunner) -> None:
    shown = runner.invoke(cli, ["check", "--help"], terminal_width=200).output
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for option in ("--sarif-all", "--sarif-waived", "--category", "--repo-root"):
        assert option in shown and option in readme, option


def test_a_rule_that_needs_a_scan_is_in_the_log_where_it_blocks(runner: CliRunner, repo: Path,
                                                                 mini_policy: Path) -> None:
    plan = repo / "plan.yaml"
    plan.write_text(MINI_PLAN)
    blocking, _ = sarif(runner, plan, "--policy", str(mini_policy), "--blocking-needs-scan")
    found = results(blocking)
    assert found["MINI-9-SPECIAL"]["kind"] == "open" and found["MINI-9-SPECIAL"]["level"] == "none"
    linted, _ = sarif(runner, plan, "--policy", str(mini_policy))  # --plan-only: listed, not blocking
    assert "MINI-9-SPECIAL" not in results(linted)
