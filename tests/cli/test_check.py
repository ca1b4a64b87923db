from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from auditor.cli import cli
from tests.conftest import EXAMPLE_PLAN, MINI_PLAN


def test_check_exit_codes(runner: CliRunner, mini_plan: Path, mini_policy: Path,
                          write: Callable[[str, str], Path]) -> None:
    # Without a scan MINI-9-SPECIAL (critical) needs one and blocks; --plan-only lists it without blocking,
    # leaving MINI-30-ROPA (low): below --fail-on medium, at --fail-on low.
    gate = runner.invoke(cli, ["check", str(mini_plan), "--policy", str(mini_policy), "--fail-on", "medium"])
    assert gate.exit_code == 1, gate.output
    assert "FAIL: 1 blocking" in gate.output and "1 needs a scan" in gate.output
    args = ["check", str(mini_plan), "--policy", str(mini_policy), "--plan-only"]
    medium = runner.invoke(cli, [*args, "--fail-on", "medium"])
    assert medium.exit_code == 0, medium.output
    assert "MINI-30-ROPA" in medium.output and "NEEDS A" in medium.output and "--plan-only" in medium.output
    low = runner.invoke(cli, [*args, "--fail-on", "low"])
    assert low.exit_code == 1
    plan = write("full.yaml", MINI_PLAN.replace("  dpia: DPIA-1", "  dpia: DPIA-1\n  ropa: ROPA-1"))
    clean = runner.invoke(cli, ["check", str(plan), "--policy", str(mini_policy), "--fail-on", "low", "--plan-only"])
    assert clean.exit_code == 0, clean.output
    assert "PASS: 0 blocking" in clean.output


def test_check_json_to_file_and_suffix_inference(runner: CliRunner, mini_plan: Path, mini_policy: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "out" / "result.sarif"
    result = runner.invoke(cli, ["check", str(mini_plan), "--policy", str(mini_policy), "-o", str(out),
                                 "--fail-on", "low"])
    assert result.exit_code == 1
    assert json.loads(out.read_text())["version"] == "2.1.0"
    assert not list(out.parent.glob(".*.tmp"))


def test_bad_input_is_one_line_exit_2_and_writes_nothing(runner: CliRunner, mini_plan: Path, tmp_path: Path,
                                                         write: Callable[[str, str], Path]) -> None:
    out = tmp_path / "out.json"
    bad_policy = write("bad.yaml", "id: x\nrules: [\n")
    cases = [
        ["check", str(tmp_path / "missing.yaml")],
        ["check", str(tmp_path)],
        ["check", str(mini_plan), "--policy", str(bad_policy), "-o", str(out)],
        ["check", str(mini_plan), "--policy", "no-such-policy"],
        ["check", str(mini_plan), "--scan", str(bad_policy)],
    ]
    for args in cases:
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert result.output.startswith("auditor: ")
    assert not out.exists()


def test_internal_errors_exit_3_without_traceback_unless_debug(runner: CliRunner, mini_plan: Path,
                                                               monkeypatch: object) -> None:
    import auditor.gate

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(auditor.gate, "run_gate", boom)  # type: ignore[attr-defined]
    result = runner.invoke(cli, ["check", str(mini_plan)])
    assert result.exit_code == 3 and "internal error: RuntimeError" in result.output
    assert "Traceback" not in result.output
    debug = runner.invoke(cli, ["--debug", "check", str(mini_plan)])
    assert isinstance(debug.exception, RuntimeError)


def test_check_example_plan_with_bundled_policies(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", str(EXAMPLE_PLAN), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.output)
    assert {p["id"] for p in data["policies"]} == {"gdpr", "ccpa", "pipl", "hipaa", "eu_ai_act", "uk_gdpr",
                                                   "us_states", "lgpd", "dpdp", "canada", "korea_pipa",
                                                   "japan_appi", "dp_audit"}
    # EU, CN and US-CA people, a provider putting the model into service in the EU, no HIPAA role; dp_audit is
    # decided after training
    assert {p["id"] for p in data["policies"] if p["applies"]} == {"gdpr", "ccpa", "pipl", "eu_ai_act"}
    assert all(f["citation"] for f in data["findings"])


def test_help_does_not_import_heavy_libraries() -> None:
    import subprocess
    import sys

    code = ("import sys; from auditor.cli import cli\n"
            "try: cli.main(['check', '--help'], prog_name='auditor')\nexcept SystemExit: pass\n"
            "heavy=[m for m in ('torch','transformers','opacus','spacy','presidio_analyzer') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_check_json_imports_only_what_the_gate_uses(tmp_path: Path) -> None:
    import subprocess
    import sys

    plan = tmp_path / "plan.yaml"
    plan.write_text(MINI_PLAN)
    code = ("import sys; from auditor.cli import cli\n"
            "try: cli.main(['check', " + repr(str(plan)) + ", '--format', 'json'], prog_name='auditor')\n"
            "except SystemExit: pass\n"
            "lazy=('auditor.cli.scan','auditor.cli.train','auditor.cli.report','auditor.cli.audit',"
            "'auditor.cli.policies','auditor.policy.waivers','auditor.fsutil','auditor.output.table','rich')\n"
            "print('LOADED', [m for m in lazy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out, out


def test_entry_point_ends_a_gate_run_with_its_exit_code_and_complete_output(mini_plan: Path, mini_policy: Path,
                                                                             tmp_path: Path) -> None:
    # `python -m auditor check` skips interpreter teardown (os._exit): what it printed or wrote must still
    # be whole, and the exit code the gate's.
    import subprocess
    import sys

    args = [sys.executable, "-m", "auditor", "check", str(mini_plan), "--policy", str(mini_policy)]
    failing = subprocess.run([*args, "--fail-on", "low", "--format", "json"], capture_output=True, text=True,
                             check=False)
    assert failing.returncode == 1, failing.stderr
    assert json.loads(failing.stdout)["verdict"] == "fail"
    passing = subprocess.run([*args, "--fail-on", "high", "--plan-only", "-o", str(tmp_path / "r.sarif")],
                             capture_output=True, text=True, check=False)
    assert passing.returncode == 0, passing.stderr
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    bad = subprocess.run([*args[:4], str(tmp_path / "missing.yaml")], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("auditor: ") and "Traceback" not in bad.stderr
    code = "from auditor.cli import main\nmain(['policies', 'list'])\nprint('AFTER MAIN')"
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert listed.returncode == 0 and "gdpr" in listed.stdout and "AFTER MAIN" not in listed.stdout


def test_entry_point_keeps_gc_and_normal_exit_for_long_running_commands() -> None:
    import subprocess
    import sys

    code = ("import gc\nfrom auditor.cli import main\ntry:\n    main(['scan', '--help'])\n"
            "except SystemExit as exc:\n    print('EXIT', exc.code, gc.isenabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "EXIT 0 True" in out, out


def test_bad_output_path_is_one_line_exit_2_before_the_gate(runner: CliRunner, mini_plan: Path,
                                                            mini_policy: Path, tmp_path: Path,
                                                            monkeypatch: object) -> None:
    import auditor.gate

    def gate_must_not_run(*_: object, **__: object) -> None:
        raise AssertionError("the gate ran before the output path was checked")

    monkeypatch.setattr(auditor.gate, "run_gate", gate_must_not_run)  # type: ignore[attr-defined]
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    cases = {
        str(tmp_path / "adir"): "is a directory; the gate result needs a file path",
        str(tmp_path / "afile" / "x.json"): "afile is a file, not a folder",
        "": "not a file name for the gate result",
        str(mini_plan): "would overwrite an input file",
    }
    for out, message in cases.items():
        result = runner.invoke(cli, ["check", str(mini_plan), "--policy", str(mini_policy), "-o", out])
        assert result.exit_code == 2, (out, result.output)
        assert len(result.output.strip().splitlines()) == 1 and message in result.output, (out, result.output)
    assert mini_plan.read_text().startswith("version: 1")


def test_unwritable_output_folder_is_exit_2(runner: CliRunner, mini_plan: Path, mini_policy: Path,
                                            monkeypatch: object) -> None:
    import tempfile

    def denied(*_: object, **__: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # type: ignore[attr-defined]
    result = runner.invoke(cli, ["check", str(mini_plan), "--policy", str(mini_policy), "-o", "/sys/x.json"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "auditor: /sys/x.json: cannot write the gate result: Permission denied"


EXAMPLE_DATA = EXAMPLE_PLAN.parent / "data" / "tickets.jsonl"


def _statuses(output: str) -> dict[str, str]:
    return {f["rule"]: f["status"] for f in json.loads(output)["findings"]}


def test_example_plan_passes_with_its_scan_and_its_one_waiver(runner: CliRunner, tmp_path: Path) -> None:
    # without the scan the data rules are undecided: they block the gate, and --plan-only lists them only
    without = runner.invoke(cli, ["check", str(EXAMPLE_PLAN), "--format", "json", "--fail-on", "low"])
    assert without.exit_code == 1, without.output
    undecided = {rule for rule, status in _statuses(without.stdout).items() if status == "needs_scan"}
    assert {"GDPR-9-SPECIAL-CATEGORY-BASIS", "PIPL-31-MINORS-DECLARED"} <= undecided
    assert set(_statuses(without.stdout).values()) <= {"pass", "not_applicable", "needs_scan"}
    linted = runner.invoke(cli, ["check", str(EXAMPLE_PLAN), "--format", "json", "--fail-on", "low", "--plan-only"])
    assert linted.exit_code == 0, linted.output
    assert {r for r, s in _statuses(linted.stdout).items() if s == "needs_scan"} == undecided
    scan = tmp_path / "scan.json"
    scanned = runner.invoke(cli, ["scan", "--plan", str(EXAMPLE_PLAN), "-o", str(scan), "--no-progress"])
    assert scanned.exit_code == 0, scanned.output
    users = json.loads(scan.read_text())["users"]
    assert users["distinct"] == 2400 and users["with_multiple_records"] == 408 and users["normalisation"] == "casefold"
    # the synthetic data keeps its identifiers and the plan claims no step: minimisation fails unless waived
    unwaived = runner.invoke(cli, ["check", str(EXAMPLE_PLAN), "--scan", str(scan), "--format", "json",
                                   "--fail-on", "low"])
    assert unwaived.exit_code == 1
    assert {r for r, s in _statuses(unwaived.stdout).items() if s not in ("pass", "not_applicable")} == {
        "GDPR-5-1-C-MINIMISATION"}
    with_scan = runner.invoke(cli, ["check", str(EXAMPLE_PLAN), "--scan", str(scan), "--format", "json",
                                    "--fail-on", "low", "--waivers", str(EXAMPLE_PLAN.parent / "waivers.yaml")])
    assert with_scan.exit_code == 0, with_scan.output
    statuses = _statuses(with_scan.stdout)
    assert set(statuses.values()) <= {"pass", "not_applicable", "waived"}
    assert [r for r, s in statuses.items() if s == "waived"] == ["GDPR-5-1-C-MINIMISATION"]
    # claiming the step instead is contradicted by the scan: the claim is a finding, not a pass
    claimed = tmp_path / "claimed.yaml"
    claimed.write_text(EXAMPLE_PLAN.read_text(encoding="utf-8").replace("pseudonymisation: false",
                                                                        "pseudonymisation: true"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tickets.jsonl").write_bytes(EXAMPLE_DATA.read_bytes())
    contradicted = runner.invoke(cli, ["check", str(claimed), "--scan", str(scan), "--format", "json"])
    assert contradicted.exit_code == 1
    findings = {f["rule"]: f for f in json.loads(contradicted.stdout)["findings"]}
    assert {r for r, f in findings.items() if f["status"] == "fail"} == {"GDPR-5-1-C-MEASURE-CONFIRMED",
                                                                         "PIPL-51-DEIDENTIFICATION-CONFIRMED"}
    assert "direct identifiers in 2,011 of 3,000 records" in findings["GDPR-5-1-C-MEASURE-CONFIRMED"]["conclusion"]
    from tests.output.test_schemas import validate  # a real scan and a real gate, against the shipped schemas

    validate("scan", json.loads(scan.read_text()))
    validate("check", json.loads(with_scan.stdout))
    requirement = json.loads(with_scan.stdout)["privacy_requirements"]
    assert requirement["privacy_units"] == 2400 and requirement["max_delta"] == 1e-5   # min(1e-5, 1/24000)
    assert requirement["min_units"] == 100

    # the same data at unit: record protects 408 customers only at about k·ε: the gate says so and blocks
    record = tmp_path / "plan.yaml"
    record.write_text(EXAMPLE_PLAN.read_text(encoding="utf-8")
                      .replace("  path: data/tickets.jsonl", f"  path: {EXAMPLE_DATA}")
                      .replace("  unit: user", "  unit: record  #"), encoding="utf-8")
    refused = runner.invoke(cli, ["check", str(record), "--scan", str(scan), "--format", "json"])
    assert refused.exit_code == 1, refused.output
    findings = {f["rule"]: f for f in json.loads(refused.stdout)["findings"]}
    for rule in ("GDPR-4-1-PRIVACY-UNIT", "PIPL-4-PRIVACY-UNIT", "CCPA-140-I-PRIVACY-UNIT"):
        assert findings[rule]["status"] == "fail" and findings[rule]["severity"] == "high"
        assert "408 of 2400" in findings[rule]["message"]


def test_plan_delta_above_the_bound_at_n_is_exit_1_naming_the_rule(runner: CliRunner,
                                                                  write: Callable[[str, str], Path]) -> None:
    plan = write("plan.yaml", EXAMPLE_PLAN.read_text(encoding="utf-8")
                 .replace("  path: data/tickets.jsonl", f"  path: {EXAMPLE_DATA}")
                 .replace("  target_delta: auto", "  target_delta: 1.0e-4"))   # below 1/n, above 1e-5
    result = runner.invoke(cli, ["check", str(plan), "--format", "json"])
    assert result.exit_code == 1, result.output
    finding = {f["rule"]: f for f in json.loads(result.stdout)["findings"]}["GDPR-DP-BASELINE"]
    assert finding["status"] == "fail" and "target_delta 0.0001 > max δ 1e-05" in finding["message"]
    assert "gdpr/GDPR-DP-BASELINE" in finding["message"]


def test_check_without_scan_warns_when_the_plans_dataset_is_missing(runner: CliRunner, mini_plan: Path,
                                                                    mini_policy: Path) -> None:
    args = ["check", str(mini_plan), "--policy", str(mini_policy), "--plan-only"]
    missing = runner.invoke(cli, args)
    assert missing.exit_code == 0, missing.output
    warning = [line for line in missing.stderr.splitlines() if "dataset.path" in line]
    assert warning == [f"auditor: warning: {mini_plan}:9: dataset.path: {mini_plan.parent / 'data.jsonl'} not "
                       "found (dataset.path is relative to the plan's folder); this gate has not seen the data"]
    (mini_plan.parent / "data.jsonl").write_text('{"text": "hello"}\n')
    present = runner.invoke(cli, args)
    assert present.exit_code == 0 and "dataset.path" not in present.stderr, present.output


def test_plan_only_with_a_scan_is_exit_2(runner: CliRunner, mini_plan: Path, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["check", str(mini_plan), "--plan-only", "--scan", str(tmp_path / "scan.json")])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "--plan-only" in result.output


def test_table_follows_the_terminal_width(mini_plan: Path, mini_policy: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run([sys.executable, "-m", "auditor", "check", str(mini_plan), "--policy", str(mini_policy)],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 1, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 80, out.stdout
    assert "Fix: Record the Art. 9(2) condition." not in out.stdout  # it needs a scan: no fix for a failure
    assert "Plan: " in out.stdout and "NEEDS A" in out.stdout


def test_the_chat_example_is_reproducible_and_passes_with_its_waiver(runner: CliRunner, tmp_path: Path) -> None:
    """examples/chat: the committed chats are what the generator writes, every turn is scanned, and the plan
    passes the gate only with its one documented waiver."""
    import subprocess
    import sys

    chat = EXAMPLE_PLAN.parent / "chat"
    regenerated = tmp_path / "chats.jsonl"
    subprocess.run([sys.executable, str(chat / "make_chats.py"), "--out", str(regenerated)], check=True,
                   capture_output=True)
    assert regenerated.read_bytes() == (chat / "data" / "chats.jsonl").read_bytes()
    scan = tmp_path / "scan.json"
    scanned = runner.invoke(cli, ["scan", "--plan", str(chat / "plan.yaml"), "-o", str(scan), "--no-progress"])
    assert scanned.exit_code == 0, scanned.output
    result = json.loads(scan.read_text())
    assert result["users"]["distinct"] == 600 and result["records_scanned"] == 720
    assert {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"} <= set(result["entities"])
    unwaived = runner.invoke(cli, ["check", str(chat / "plan.yaml"), "--scan", str(scan), "--format", "json"])
    assert unwaived.exit_code == 1
    assert {r for r, s in _statuses(unwaived.stdout).items() if s not in ("pass", "not_applicable")} == {
        "GDPR-5-1-C-MINIMISATION"}
    waived = runner.invoke(cli, ["check", str(chat / "plan.yaml"), "--scan", str(scan), "--format", "json",
                                 "--fail-on", "low", "--waivers", str(chat / "waivers.yaml")])
    assert waived.exit_code == 0, waived.output
