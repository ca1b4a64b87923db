"""``auditor keygen``, ``auditor report`` and ``auditor verify`` driven through click's CliRunner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from tests.report import report_factories as factories


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    from auditor.report.evidence import write_evidence

    folder = tmp_path / "run"
    write_evidence(factories.evidence(tmp_path), folder)
    return folder


def test_keygen_then_report_then_verify(runner: CliRunner, tmp_path: Path, evidence_dir: Path) -> None:
    keys = tmp_path / "keys"
    result = runner.invoke(cli, ["keygen", "--out", str(keys)])
    assert result.exit_code == 0, result.output
    assert "fingerprint: SHA256:" in result.output
    assert stat.S_IMODE((keys / "auditor.key").stat().st_mode) == 0o600

    again = runner.invoke(cli, ["keygen", "--out", str(keys)])
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.output

    result = runner.invoke(cli, ["report", str(evidence_dir), "--key", str(keys / "auditor.key"),
                                 "--format", "html,md"])
    assert result.exit_code == 0, result.output
    assert f"report: {evidence_dir / 'report.html'}" in result.output
    assert sorted(p.name for p in evidence_dir.iterdir()) == [
        "evidence.json", "report.html", "report.intoto.jsonl", "report.md"]

    envelope = evidence_dir / "report.intoto.jsonl"
    ok = runner.invoke(cli, ["verify", str(envelope), "--key", str(keys / "auditor.pub")])
    assert ok.exit_code == 0, ok.output
    assert "verified 3 files; report 00000000-0000-4000-8000-000000000001, verdict pass" in ok.output
    assert "ok   subject report.html" in ok.output

    as_json = runner.invoke(cli, ["verify", str(envelope), "--key", str(keys / "auditor.pub"), "--json"])
    assert json.loads(as_json.output)["ok"] is True

    html = evidence_dir / "report.html"
    html.write_bytes(html.read_bytes().replace(b"PASS", b"FAIL", 1))
    bad = runner.invoke(cli, ["verify", str(envelope), "--key", str(keys / "auditor.pub")])
    assert bad.exit_code == 1
    assert "FAIL subject report.html" in bad.output
    assert bad.output.strip().splitlines()[-1].startswith(f"auditor: {envelope}: verification FAILED: subject "
                                                          "report.html")
    assert "Traceback" not in bad.output


def test_report_without_key_is_loudly_unsigned(runner: CliRunner, evidence_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    result = runner.invoke(cli, ["report", str(evidence_dir), "--format", "md", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "WARNING: this report is UNSIGNED" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["evidence.json", "report.md"]
    assert "UNSIGNED REPORT" in (out / "report.md").read_text()


def test_report_schema_is_printed(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["report", "--schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["title"] == "EvidenceBundle"
    assert {"plan", "gate", "training", "ledger", "scan"} <= set(schema["properties"])


@pytest.mark.parametrize("args, message", [
    (["report"], "missing EVIDENCE_DIR"),
    (["report", "nowhere"], "nowhere: evidence file not found"),
    (["report", "{run}", "--format", "html,docx"], "--format: unknown format docx"),
    (["report", "{run}", "--key", "{run}/evidence.json"], "evidence.json: cannot load the signing key"),
    (["report", "{run}", "--templates", "nowhere"], "nowhere: --templates must be a folder"),
    (["report", "{run}", "--out", "{run}/evidence.json/x"], "evidence.json is a file, not a folder"),
    (["report", "{run}", "--out", "{run}/evidence.json"], "evidence.json: --out must be a folder"),
    (["verify", "{run}/none.intoto.jsonl"], "none.intoto.jsonl: envelope not found"),
    (["verify", "{run}/evidence.json"], "evidence.json: expected exactly one DSSE envelope line"),
])
def test_bad_input_is_one_line_and_exit_2(runner: CliRunner, evidence_dir: Path, args: list[str],
                                          message: str) -> None:
    before = sorted(p.name for p in evidence_dir.iterdir())
    result = runner.invoke(cli, [a.replace("{run}", str(evidence_dir)) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert sorted(p.name for p in evidence_dir.iterdir()) == before


def test_bad_evidence_names_the_field(runner: CliRunner, evidence_dir: Path) -> None:
    path = evidence_dir / "evidence.json"
    data = json.loads(path.read_text())
    del data["plan"]["sha256"]
    path.write_text(json.dumps(data))
    result = runner.invoke(cli, ["report", str(evidence_dir)])
    assert result.exit_code == 2
    assert result.output.strip() == f"auditor: {path}: field plan.sha256: Field required"


def test_verify_trusts_no_key_from_the_folder_it_verifies(runner: CliRunner, evidence_dir: Path,
                                                           tmp_path: Path) -> None:
    """The forgery: edit the report, re-sign with your own key, drop your public key into keys/."""
    import json

    from auditor.report.sign import fingerprint, load_public_key

    keys = tmp_path / "org-keys"  # the organisation's key, published outside the report folder
    assert runner.invoke(cli, ["keygen", "--out", str(keys)]).exit_code == 0
    assert runner.invoke(cli, ["report", str(evidence_dir), "--key", str(keys / "auditor.key"),
                               "--format", "md"]).exit_code == 0
    report = (evidence_dir / "report.md").read_text()
    assert "--fingerprint PUBLISHED-FINGERPRINT" in report and "keys/auditor.pub" not in report
    org = fingerprint(load_public_key(keys / "auditor.pub"))
    envelope = str(evidence_dir / "report.intoto.jsonl")
    assert runner.invoke(cli, ["verify", envelope, "--key", str(keys / "auditor.pub")]).exit_code == 0
    assert runner.invoke(cli, ["verify", envelope, "--fingerprint", org, "--key", str(keys / "auditor.pub")]
                         ).exit_code == 0
    # the forger re-signs an edited evidence.json with their own key and plants it in the folder
    evidence = json.loads((evidence_dir / "evidence.json").read_text())
    evidence["gate"]["verdict"] = "pass"
    (evidence_dir / "evidence.json").write_text(json.dumps(evidence))
    forger = evidence_dir / "keys"
    assert runner.invoke(cli, ["keygen", "--out", str(forger)]).exit_code == 0
    assert runner.invoke(cli, ["report", str(evidence_dir), "--key", str(forger / "auditor.key"),
                               "--format", "md"]).exit_code == 0
    for args in ([], ["--key", str(forger / "auditor.pub")]):
        result = runner.invoke(cli, ["verify", envelope, *args])
        assert result.exit_code == 1 and "signer: unverified" in result.output, result.output
    trust = tmp_path / "trusted-signers.txt"
    trust.write_text(f"# Example GmbH compliance signing key\n{org}  compliance@example.com\n")
    for args in (["--fingerprint", org], ["--trust", str(trust)], ["--key", str(keys / "auditor.pub")]):
        result = runner.invoke(cli, ["verify", envelope, *args])
        assert result.exit_code == 1, result.output  # the forger's key is not the organisation's
    bad = runner.invoke(cli, ["verify", envelope, "--fingerprint", "SHA256:nope"])
    assert bad.exit_code == 2 and "not a key fingerprint" in bad.output


def test_subjects_through_symlinks_are_refused_and_extra_files_are_named(runner: CliRunner, evidence_dir: Path,
                                                                         tmp_path: Path) -> None:
    import os

    from auditor.report.verify import verify_envelope

    keys = tmp_path / "k"
    assert runner.invoke(cli, ["keygen", "--out", str(keys)]).exit_code == 0
    assert runner.invoke(cli, ["report", str(evidence_dir), "--key", str(keys / "auditor.key"),
                               "--format", "md"]).exit_code == 0
    (evidence_dir / "report-final.html").write_text("<script>alert(1)</script>")
    result = runner.invoke(cli, ["verify", str(evidence_dir / "report.intoto.jsonl"), "--key",
                                 str(keys / "auditor.pub")])
    assert result.exit_code == 0 and "report-final.html is in the folder but NOT covered" in result.output
    # a signed subject reached through a symlinked folder must stay inside the report folder
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "report.md").write_bytes((evidence_dir / "report.md").read_bytes())
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("report.intoto.jsonl", "evidence.json"):
        (moved / name).write_bytes((evidence_dir / name).read_bytes())
    os.symlink(outside / "report.md", moved / "report.md")
    checks = verify_envelope(moved / "report.intoto.jsonl", keys / "auditor.pub").failures()
    assert [c.detail for c in checks if c.what == "subject report.md"] == ["name points outside the report folder"]


def test_rerender_without_key_keeps_the_report_signed(runner: CliRunner, evidence_dir: Path, tmp_path: Path) -> None:
    # the folder's own keys/auditor.key (what `auditor audit` makes) signs a re-render without --key
    keys = evidence_dir / "keys"
    assert runner.invoke(cli, ["keygen", "--out", str(keys)]).exit_code == 0
    result = runner.invoke(cli, ["report", str(evidence_dir), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert f"signing with the existing key {keys / 'auditor.key'}" in result.output and "UNSIGNED" not in result.output
    from auditor.report.sign import fingerprint, load_public_key

    ok = runner.invoke(cli, ["verify", str(evidence_dir / "report.intoto.jsonl"), "--fingerprint",
                             fingerprint(load_public_key(keys / "auditor.pub"))])
    assert ok.exit_code == 0, ok.output
    # a signed report whose key is elsewhere is not silently turned unsigned
    other = tmp_path / "k2"
    assert runner.invoke(cli, ["keygen", "--out", str(other)]).exit_code == 0
    signed = tmp_path / "signed"
    signed.mkdir()
    (signed / "evidence.json").write_bytes((evidence_dir / "evidence.json").read_bytes())
    assert runner.invoke(cli, ["report", str(signed), "--key", str(other / "auditor.key"),
                               "--format", "md"]).exit_code == 0
    before = (signed / "report.intoto.jsonl").read_bytes()
    refused = runner.invoke(cli, ["report", str(signed), "--format", "md"])
    assert refused.exit_code == 2, refused.output
    assert "this report is signed and no --key was given" in refused.output
    assert (signed / "report.intoto.jsonl").read_bytes() == before


def _fingerprint_of(public: Path) -> str:
    """What openssl + sha256sum give for the key: the fingerprint every command must show."""
    import base64
    import hashlib

    body = "".join(line for line in public.read_text().splitlines() if not line.startswith("-----"))
    return "SHA256:" + hashlib.sha256(base64.b64decode(body)).hexdigest()


def test_one_fingerprint_everywhere_and_the_claimed_signer_beside_it(runner: CliRunner, tmp_path: Path,
                                                                     evidence_dir: Path) -> None:
    keys = tmp_path / "keys"
    made = runner.invoke(cli, ["keygen", "--out", str(keys), "--name", "Jane Doe", "--role",
                               "Data Protection Officer", "--org", "Example GmbH"])
    assert made.exit_code == 0, made.output
    fp = _fingerprint_of(keys / "auditor.pub")
    assert f"fingerprint: {fp}\n" in made.output
    assert "signer:      Jane Doe (role: Data Protection Officer; organisation: Example GmbH)" in made.output
    assert json.loads((keys / "auditor.signer.json").read_text()) == {
        "name": "Jane Doe", "role": "Data Protection Officer", "organisation": "Example GmbH", "key_fingerprint": fp}

    signed = runner.invoke(cli, ["report", str(evidence_dir), "--key", str(keys / "auditor.key"), "--format",
                                 "html,md", "--signer-role", "DPO"])
    assert signed.exit_code == 0, signed.output
    claim = "Jane Doe (role: DPO; organisation: Example GmbH)"
    envelope = evidence_dir / "report.intoto.jsonl"
    assert f"signed: {envelope} (key {fp})" in signed.output
    assert f"claimed signer: {claim}" in signed.output
    assert f"verify: auditor verify {envelope} --key {keys / 'auditor.pub'} --fingerprint {fp}" in signed.output
    for page in ("report.html", "report.md"):
        text = (evidence_dir / page).read_text()
        assert fp in text and claim in text, page

    pub = ["--key", str(keys / "auditor.pub")]
    for args in (pub, [*pub, "--fingerprint", fp], [*pub, "--fingerprint", fp.upper().replace("SHA256:", "sha256:")]):
        ok = runner.invoke(cli, ["verify", str(envelope), *args])
        assert ok.exit_code == 0, ok.output
        assert f"({fp})" in ok.output and f"key {fp}" in ok.output
        assert ("claimed signer (signed but NOT verified; the key fingerprint is what is checked): "
                f"{claim}") in ok.output
    as_json = json.loads(runner.invoke(cli, ["verify", str(envelope), *pub, "--json"]).output)
    assert as_json["key_fingerprint"] == fp
    assert as_json["claimed_signer"] == {"name": "Jane Doe", "role": "DPO", "organisation": "Example GmbH"}


@pytest.mark.parametrize("args, message", [
    (["verify", "{run}/report.intoto.jsonl", "--fingerprint", "SHA256:" + ":".join(["ab12"] * 16)],
     "--fingerprint: 'SHA256:ab12:ab12"),
    (["verify", "{run}/report.intoto.jsonl", "--fingerprint", "ab" * 32], "prefix the hex with SHA256:"),
    (["report", "{run}", "--key", "{keys}/auditor.key", "--signer-name", "Jane\x1b[2J"],
     "--signer-name: Value error, control or format character U+001B is not allowed"),
    (["report", "{run}", "--key", "{keys}/auditor.key", "--signer-org", "x" * 201],
     "--signer-org: String should have at most 200 characters"),
    (["keygen", "--out", "{run}/k2", "--name", "Jane\nDoe"], "--name: Value error, control or format character"),
])
def test_bad_fingerprint_or_signer_is_one_line_exit_2(runner: CliRunner, evidence_dir: Path, tmp_path: Path,
                                                      args: list[str], message: str) -> None:
    keys = tmp_path / "keys"
    assert runner.invoke(cli, ["keygen", "--out", str(keys)]).exit_code == 0
    assert runner.invoke(cli, ["report", str(evidence_dir), "--key", str(keys / "auditor.key"),
                               "--format", "md"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in evidence_dir.iterdir() if p.is_file()}
    result = runner.invoke(cli, [a.replace("{run}", str(evidence_dir)).replace("{keys}", str(keys)) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert {p.name: p.read_bytes() for p in evidence_dir.iterdir() if p.is_file()} == before
    assert not (evidence_dir / "k2").exists()


def test_a_signer_file_that_is_not_json_names_the_file(runner: CliRunner, evidence_dir: Path,
                                                       tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert runner.invoke(cli, ["keygen", "--out", str(keys), "--name", "Jane Doe"]).exit_code == 0
    (keys / "auditor.signer.json").write_text('{"name": "Jane Doe", "email": "jane@example.com"}')
    result = runner.invoke(cli, ["report", str(evidence_dir), "--key", str(keys / "auditor.key"), "--format", "md"])
    assert result.exit_code == 2
    assert result.output.strip() == (f"auditor: {keys / 'auditor.signer.json'}: field email: Extra inputs are not "
                                     "permitted")


@pytest.mark.parametrize("key_in_folder", [False, True])
def test_the_printed_verify_command_verifies(runner: CliRunner, evidence_dir: Path, tmp_path: Path,
                                             key_in_folder: bool) -> None:
    """Whoever signs copies the 'verify:' line: it must work where the key is, in keys/ or kept elsewhere."""
    import shlex

    keys = evidence_dir / "keys" if key_in_folder else tmp_path / "org-keys"
    assert runner.invoke(cli, ["keygen", "--out", str(keys)]).exit_code == 0
    signed = runner.invoke(cli, ["report", str(evidence_dir), "--key", str(keys / "auditor.key"), "--format", "md"])
    assert signed.exit_code == 0, signed.output
    command = next(line for line in signed.output.splitlines() if line.startswith("verify: auditor verify "))
    assert f"--fingerprint {_fingerprint_of(keys / 'auditor.pub')}" in command
    result = runner.invoke(cli, shlex.split(command.removeprefix("verify: auditor "), posix=True))
    assert result.exit_code == 0, (command, result.output)
