"""``auditor audit`` end to end through the CLI: signed reports for pass, refusal and training runs.

Training is replaced by a fake ``auditor.train.api`` that writes a small model folder, and the scan by a
hand-made result (both are tested by their own suites, and the real example scan takes half a minute); the
planted-PII test uses the real scanner, so it greps what the real pipeline lets through.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.errors import InputError
from auditor.pipeline import Stages, run_audit
from tests.report import report_factories as factories

REPO = Path(__file__).resolve().parents[2]



def _real_scan_available() -> bool:
    try:
        return importlib.util.find_spec("auditor.scan.api") is not None
    except ImportError:
        return False


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


HAVE_SCAN = _real_scan_available()
TRAIN_CALLS: list[dict[str, Any]] = []


def _fake_run_training(doc: Any, *, requirement: Any, out_dir: Path, ledger_dir: Path | None = None,
                       progress: bool = True, dataset_sha256: str | None = None, **_: Any) -> Any:
    TRAIN_CALLS.append({"out_dir": out_dir, "requirement": requirement, "dataset_sha256": dataset_sha256})
    model = Path(out_dir) / "model"
    model.mkdir(parents=True, exist_ok=True)
    weights = b"\x00fake-weights" * 64
    (model / "model.safetensors").write_bytes(weights)
    (model / "config.json").write_text('{"num_labels": 4}')
    evidence = factories.training_evidence(weights_sha=hashlib.sha256(weights).hexdigest())
    (Path(out_dir) / "training.json").write_text(evidence.model_dump_json())
    return evidence


def _fake_scan(doc: Any, *, progress: bool = True, **_: Any) -> Any:
    from auditor.fsutil import sha256_file

    base = factories.scan_result()
    dataset = base.dataset.model_copy(update={"sha256": sha256_file(doc.dataset_path)})
    return base.model_copy(update={"dataset": dataset})


@pytest.fixture(autouse=True)
def fake_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    train_api = types.ModuleType("auditor.train.api")
    train_api.run_training = _fake_run_training  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "auditor.train.api", train_api)
    scan_api = types.ModuleType("auditor.scan.api")
    scan_api.scan_plan_dataset = _fake_scan  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "auditor.scan.api", scan_api)
    TRAIN_CALLS.clear()


PLAN = """\
version: 1
name: tiny-triage
purpose: Route support tickets
controller: Example GmbH
data_subjects: {{regions: [US], count: 40, minors: false}}
assessments: {{ropa: ROPA-1}}
dataset: {{path: data.jsonl, text_fields: [text], label_field: label, retention_days: 30,
          source: test, original_purpose: support}}
measures: {{pseudonymisation: true, encryption_at_rest: true, access_control: true}}
model: {{num_labels: 2}}
privacy: {{mechanism: dp-sgd, target_epsilon: 2.0, max_grad_norm: 1.0}}
{extra}"""


def _dataset(tmp_path: Path, texts: list[str]) -> Path:
    rows = [json.dumps({"text": t, "label": i % 2}, ensure_ascii=False) for i, t in enumerate(texts)]
    (tmp_path / "data.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(extra=""), encoding="utf-8")
    return plan


def _verify(runner: CliRunner, out: Path) -> Any:
    """As the signer does right after the audit: the key in the folder, trusted by the fingerprint it printed."""
    from auditor.report.sign import fingerprint, load_public_key

    trusted = fingerprint(load_public_key(out / "keys" / "auditor.pub"))
    return runner.invoke(cli, ["verify", str(out / "report.intoto.jsonl"), "--fingerprint", trusted])


def test_example_plan_no_train_yields_a_signed_verifiable_report(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "audit-out"
    result = runner.invoke(cli, ["audit", str(REPO / "examples" / "plan.yaml"), "--out", str(out), "--no-train",
                                 "--format", "html,md"])
    assert result.exit_code in (0, 1), result.output
    assert f"report: {out / 'report.html'}" in result.output
    assert "generated your signing key" in result.output
    assert not (out / "keys" / "auditor.key").exists()  # never in a folder that gets copied to reviewers
    assert (out / "keys" / "auditor.pub").is_file()
    assert TRAIN_CALLS == []
    evidence = json.loads((out / "evidence.json").read_text())
    assert evidence["training_outcome"]["status"] in ("skipped", "refused")
    assert evidence["plan"]["sha256"] == hashlib.sha256((REPO / "examples" / "plan.yaml").read_bytes()).hexdigest()
    assert {a["path"] for a in evidence["artifacts"]} == {"scan.json", "check.json"}
    verified = _verify(runner, out)
    assert verified.exit_code == 0, verified.output
    assert "verified 5 files" in verified.output
    assert "keys/auditor.key" not in verified.output  # the private key is never a subject
    # Everything a reviewer reads is readable beyond its writer (umask permitting); only the private key is not.
    for path in (p for p in out.rglob("*") if p.is_file()):
        expected = 0o600 if path.name == "auditor.key" else 0o666 & ~_umask()
        assert path.stat().st_mode & 0o777 == expected, path

    again = runner.invoke(cli, ["audit", str(REPO / "examples" / "plan.yaml"), "--out", str(out), "--no-train",
                                "--format", "md", "--force"])
    assert "signing with your key" in again.output  # the same key: one fingerprint to publish
    assert _verify(runner, out).exit_code == 0


def test_failing_gate_refuses_training_and_still_signs(tmp_path: Path) -> None:
    runner = CliRunner()
    plan = _dataset(tmp_path, ["hello, the app crashes"] * 40)
    # An EU subject without a lawful basis and compute outside the EEA: the GDPR rules block.
    plan.write_text(PLAN.format(extra="transfers: {storage_region: EU, compute_region: US}\n")
                    .replace("regions: [US]", "regions: [EU]"), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(cli, ["audit", str(plan), "--out", str(out), "--format", "html,md"])
    assert result.exit_code == 1, result.output
    assert "verdict: FAIL (exit 1); training REFUSED" in result.output
    assert "blocking:" in result.output
    assert TRAIN_CALLS == []
    md = (out / "report.md").read_text()
    assert "Training was refused" in md
    evidence = json.loads((out / "evidence.json").read_text())
    assert evidence["gate"]["verdict"] == "fail"
    assert evidence["training"] is None
    assert _verify(runner, out).exit_code == 0


def test_passing_gate_trains_and_signs_the_model(tmp_path: Path) -> None:
    runner = CliRunner()
    plan = _dataset(tmp_path, ["the app crashes on start"] * 40)
    out = tmp_path / "out"
    keys = tmp_path / "mykeys"
    assert runner.invoke(cli, ["keygen", "--out", str(keys)]).exit_code == 0
    result = runner.invoke(cli, ["audit", str(plan), "--out", str(out), "--key", str(keys / "auditor.key"),
                                 "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "training completed" in result.output
    assert len(TRAIN_CALLS) == 1 and TRAIN_CALLS[0]["out_dir"] == out
    assert not (out / "keys").exists()
    envelope = out / "report.intoto.jsonl"
    statement = json.loads(__import__("base64").b64decode(json.loads(envelope.read_text())["payload"]))
    names = {s["name"] for s in statement["subject"]}
    assert {"model/model.safetensors", "model/config.json", "training.json", "report.md", "evidence.json",
            "scan.json", "check.json"} == names
    assert statement["predicate"]["training"] == "completed"
    assert statement["predicate"]["epsilon_spent"] == pytest.approx(2.9)
    ok = runner.invoke(cli, ["verify", str(envelope), "--key", str(keys / "auditor.pub")])
    assert ok.exit_code == 0, ok.output

    # Re-rendering from the saved evidence re-signs the same model files.
    again = runner.invoke(cli, ["report", str(out), "--key", str(keys / "auditor.key"), "--format", "html"])
    assert again.exit_code == 0, again.output
    assert "report.md is from an earlier render and is NOT covered by the new signature" in again.output
    statement = json.loads(__import__("base64").b64decode(json.loads(envelope.read_text())["payload"]))
    assert {s["name"] for s in statement["subject"]} == {"model/model.safetensors", "model/config.json",
                                                         "training.json", "report.html", "evidence.json",
                                                         "scan.json", "check.json"}
    assert runner.invoke(cli, ["verify", str(envelope), "--key", str(keys / "auditor.pub")]).exit_code == 0
    weights = out / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")
    bad = runner.invoke(cli, ["verify", str(envelope), "--key", str(keys / "auditor.pub")])
    assert bad.exit_code == 1
    assert "subject model/model.safetensors" in bad.output


def test_training_refused_by_the_ledger_after_a_passing_gate_exits_1_and_says_so(tmp_path: Path) -> None:
    from auditor.errors import GateFailed

    def refuse(*_: Any, **__: Any) -> Any:
        raise GateFailed("privacy ledger L: this dataset has already composed ε=3 over 1 run(s)")

    sys.modules["auditor.train.api"].run_training = refuse  # type: ignore[attr-defined]
    runner = CliRunner()
    plan = _dataset(tmp_path, ["the app crashes on start"] * 40)
    out = tmp_path / "out"
    result = runner.invoke(cli, ["audit", str(plan), "--out", str(out), "--format", "md"])
    assert result.exit_code == 1, result.output
    assert "verdict: PASS (exit 1); training REFUSED: privacy ledger L" in result.output
    assert _verify(runner, out).exit_code == 0  # the refusal is itself signed


def test_a_ledger_refusal_is_shown_as_a_refusal_with_its_fix_and_no_local_path(tmp_path: Path) -> None:
    from auditor.errors import GateFailed

    ledger = tmp_path / "home" / "someone" / ".local" / "share" / "auditor" / "ledger"
    out = tmp_path / "out"

    def refuse(*_: Any, **__: Any) -> Any:
        raise GateFailed(f"privacy ledger {ledger / 'ledger.jsonl'}: this run would take them to ε=4.4, past the "
                         f"maximum ε=4; lower privacy.target_epsilon to at most 2.730 (checkpoint {out}/ckpt, "
                         f"cache /var/tmp/x/y.npz)")

    sys.modules["auditor.train.api"].run_training = refuse  # type: ignore[attr-defined]
    plan = _dataset(tmp_path, ["the app crashes on start"] * 40)
    result = CliRunner().invoke(cli, ["audit", str(plan), "--out", str(out), "--ledger", str(ledger),
                                      "--format", "html,md"])
    assert result.exit_code == 1, result.output
    evidence = json.loads((out / "evidence.json").read_text())
    assert evidence["training_outcome"]["status"] == "refused"
    for name in ("report.html", "report.md", "evidence.json"):
        text = (out / name).read_text()
        assert str(tmp_path) not in text and "/var/tmp" not in text, name
        shown = html.unescape(text).replace("\\<", "<")  # as HTML and Markdown readers display it
        assert "privacy ledger <ledger folder>/ledger.jsonl: " in shown and "at most 2.730" in text, name
        if name != "evidence.json":
            assert "TRAINING REFUSED — the policy gate passed" in text, name
            assert "PASS — no unwaived finding" not in text, name
    assert 'class="verdict verdict-refused"' in (out / "report.html").read_text()


def test_an_earlier_audit_is_never_overwritten_without_force(tmp_path: Path) -> None:
    runner = CliRunner()
    plan = _dataset(tmp_path, ["the app crashes on start"] * 40)
    out = tmp_path / "out"
    first = runner.invoke(cli, ["audit", str(plan), "--out", str(out), "--format", "md"])
    assert first.exit_code == 0, first.output
    signed = {name: (out / name).read_bytes() for name in ("report.md", "report.intoto.jsonl", "evidence.json")}
    again = runner.invoke(cli, ["audit", str(plan), "--out", str(out), "--format", "md"])
    assert again.exit_code == 2
    assert again.output.strip().splitlines()[-1].startswith(f"auditor: {out}: holds an earlier audit")
    assert "--force" in again.output
    assert {name: (out / name).read_bytes() for name in signed} == signed  # untouched
    assert len(TRAIN_CALLS) == 1

    # --force replaces it, and a refused second run leaves none of the first run's model beside its report
    from auditor.errors import GateFailed

    def refuse(*_: Any, **__: Any) -> Any:
        raise GateFailed("privacy ledger L: past the maximum")

    sys.modules["auditor.train.api"].run_training = refuse  # type: ignore[attr-defined]
    forced = runner.invoke(cli, ["audit", str(plan), "--out", str(out), "--format", "md", "--force"])
    assert forced.exit_code == 1, forced.output
    assert not (out / "model").exists() and not (out / "training.json").exists()
    assert not (out / "keys" / "auditor.key").exists()  # the signing key is never part of a run
    assert (out / "keys" / "auditor.pub").is_file()
    assert _verify(runner, out).exit_code == 0


def test_bad_plan_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nname: x\ndataset: {path: d.jsonl}\nprivacy: {target_epsilon: -1}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["audit", str(plan), "--out", str(out)])
    assert result.exit_code == 2
    assert "plan.yaml:4" in result.output and "target_epsilon" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


PLANTED = ["jane.planted.doe@example.org", "+49 151 23456789", "DE89370400440532013000", "Zhang Planted-Wei"]


@pytest.mark.skipif(not HAVE_SCAN, reason="the real scan (auditor.scan.api) is not available yet")
def test_no_planted_personal_data_or_markup_in_any_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "auditor.scan.api")  # the real scanner
    texts = [f"Hi, I am {PLANTED[3]}, mail me at {PLANTED[0]} or call {PLANTED[1]}. IBAN {PLANTED[2]}. "
             f"<script>alert('pwn')</script> ticket {i}" for i in range(30)]
    plan = _dataset(tmp_path, texts)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["audit", str(plan), "--out", str(out), "--no-train", "--format", "html,md"])
    assert result.exit_code in (0, 1), result.output
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 7
    for path in files:
        data = path.read_bytes()
        for value in [*PLANTED, "jane.planted", "23456789", "0532013000"]:
            assert value.encode() not in data, (path.name, value)
        assert b"<script" not in data.lower(), path.name
    for value in PLANTED:
        assert value not in result.output


@pytest.mark.parametrize("extra, message", [
    (["--key", "missing.key"], "missing.key: private key not found"),
    (["--policy", "no-such-policy"], "no-such-policy"),
    (["--templates", "nowhere"], "nowhere: --templates must be a folder"),
    (["--format", "pdf,odt"], "--format: unknown format odt"),
    (["--signer-name", "Jane\u202eDoe"], "--signer-name: Value error, control or format character U+202E"),
])
def test_bad_options_fail_before_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str],
                                          message: str) -> None:
    plan = _dataset(tmp_path, ["hello"] * 10)
    scans: list[Any] = []
    monkeypatch.setattr(sys.modules["auditor.scan.api"], "scan_plan_dataset", lambda *a, **k: scans.append(a))
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["audit", str(plan), "--out", str(out), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert scans == [] and not out.exists()


@pytest.mark.parametrize("body", ["{% if %}", "{{ no_such_name }}", "{{ 'a' * 10**9 }}"])
def test_bad_templates_are_refused_before_the_scan_and_the_training(tmp_path: Path, body: str) -> None:
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.html.j2").write_text(body)
    scanned: list[Any] = []
    stages = Stages(scan=lambda doc, progress: scanned.append(doc) or _fake_scan(doc))
    with pytest.raises(InputError, match=r"report.html.j2"):
        run_audit(REPO / "examples" / "plan.yaml", tmp_path / "out", templates=templates, stages=stages)
    assert not scanned and not TRAIN_CALLS
    assert not (tmp_path / "out" / "model").exists() and not (tmp_path / "out" / "training.json").exists()


def test_generated_key_is_announced_once_and_keeps_the_claimed_signer(tmp_path: Path) -> None:
    runner = CliRunner()
    plan = _dataset(tmp_path, ["the app crashes on start"] * 40)
    out = tmp_path / "out"
    result = runner.invoke(cli, ["audit", str(plan), "--out", str(out), "--no-train", "--format", "md",
                                 "--signer-name", "Jane Doe", "--signer-org", "Example GmbH"])
    assert result.exit_code == 0, result.output
    notices = [line for line in result.output.splitlines() if "secret" in line]  # "keep the private key secret"
    assert len(notices) == 1 and "generated your signing key" in notices[0], result.output
    assert "claimed signer: Jane Doe (organisation: Example GmbH)" in result.output
    statement = json.loads(__import__("base64").b64decode(json.loads((out / "report.intoto.jsonl").read_text())
                                                          ["payload"]))
    assert statement["predicate"]["signer"] == {"name": "Jane Doe", "role": None, "organisation": "Example GmbH"}
    from auditor.report.sign import default_key_dir

    assert json.loads((default_key_dir() / "auditor.signer.json").read_text())["name"] == "Jane Doe"
    # a re-render with the user's key signs as the same person, without repeating the options
    again = runner.invoke(cli, ["report", str(out), "--format", "md"])
    assert again.exit_code == 0 and "claimed signer: Jane Doe (organisation: Example GmbH)" in again.output
    assert _verify(runner, out).exit_code == 0


def test_a_bad_signer_file_beside_the_key_fails_before_the_scan(tmp_path: Path) -> None:
    runner = CliRunner()
    plan = _dataset(tmp_path, ["hello"] * 10)
    keys = tmp_path / "k"
    assert runner.invoke(cli, ["keygen", "--out", str(keys), "--name", "Jane Doe"]).exit_code == 0
    (keys / "auditor.signer.json").write_text("[1, 2]")
    scanned: list[Any] = []
    stages = Stages(scan=lambda doc, progress: scanned.append(doc) or _fake_scan(doc))
    with pytest.raises(InputError, match=r"k/auditor.signer.json: not a JSON object"):
        run_audit(plan, tmp_path / "out", key=keys / "auditor.key", stages=stages)
    assert not scanned and not (tmp_path / "out").exists()


def test_public_reason_replaces_local_paths_but_keeps_urls_and_ratios() -> None:
    from auditor.pipeline import public_reason

    said = public_reason("ledger /home/jo/.local/share/auditor/ledger/ledger.jsonl refused; see "
                         "https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_9; δ ≤ 1/(10*n); cache /var/tmp/x/y",
                         {"/home/jo/.local/share/auditor/ledger": "<ledger folder>"})
    assert said == ("ledger <ledger folder>/ledger.jsonl refused; see "
                    "https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_9; δ ≤ 1/(10*n); cache <local path>")
