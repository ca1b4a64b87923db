"""The leakage audit end to end on tiny models: canaries as privacy units, leakage.json signed from the
evidence, a broken mechanism caught, no secret in any output, and refusals before any ε is spent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from auditor.errors import TrainingInputError  # noqa: E402
from auditor.fsutil import sha256_file  # noqa: E402
from auditor.leakage.model import LeakageReport  # noqa: E402
from auditor.plan import AuditSpec, load_plan  # noqa: E402
from auditor.privacy import randomness  # noqa: E402
from auditor.privacy.requirements import PrivacyBounds, merge  # noqa: E402

REQ = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=4.5, max_delta=1e-4, max_grad_norm=1.0))])
KEY = bytes(range(32))


def _with_audit(plan: Path, audit: str) -> Path:
    plan.write_text(plan.read_text(encoding="utf-8") + f"audit: {audit}\n", encoding="utf-8")
    return plan


def _train(plan: Path, tmp_path: Path, name: str = "out") -> Any:
    from auditor.train.api import run_training

    return run_training(load_plan(plan), requirement=REQ, out_dir=tmp_path / name, ledger_dir=tmp_path / "ledger",
                        progress=False)


def _secrets(plan: Path, task: Any, count: int) -> list[str]:
    """The run's canaries, replanted from the (test-fixed) mechanism key."""
    from auditor.leakage.canaries import PURPOSE, plant

    chat = task.generative and "messages" in plan.read_text()
    source = randomness.MechanismRandom(KEY)
    planted = plant(task, count, source.derived_key(PURPOSE), chat=chat, labels=4 if not task.generative else 1)
    return [e.chat[-1][1].split()[-1].rstrip(".") if e.chat else e.text for e in planted.examples]


def _outputs(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*")
                     if p.is_file() and p.suffix in (".json", ".jsonl", ".md", ".html", ".txt", ".jinja"))


def test_an_audited_classifier_run_writes_leakage_json_and_names_it_in_the_evidence(
        make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.train.tasks import SequenceClassification

    monkeypatch.setattr(randomness, "fresh_key", lambda: KEY)
    plan = _with_audit(make_plan(n=240, epochs=1, batch=40), "{canaries: 60, membership_records: 50}")
    ev = _train(plan, tmp_path)
    out = tmp_path / "out"
    assert ev.leakage_file == "leakage.json" and ev.leakage_sha256 == sha256_file(out / "leakage.json")
    report = LeakageReport.model_validate_json((out / "leakage.json").read_text())
    assert report.verdict == ev.leakage_verdict == "pass" and report.status == "completed"
    c = report.canaries
    assert c.inserted == 60 and c.included + c.excluded == 60 and ev.units.canaries == 60
    assert ev.units.train_units == ev.privacy_units - ev.eval_records + 60   # record-level: one record a unit
    assert report.membership is not None and report.membership.members == c.included
    assert report.membership.real_records is not None and report.membership.real_records.members == 50
    b = report.epsilon_lower_bound
    assert b is not None and b.guesses == 30 and b.claimed_epsilon == ev.target_epsilon and not b.exceeds_claim
    assert 0 <= b.value <= b.ceiling
    assert report.exposure is None and report.extraction is None
    assert "extraction (regurgitation of training data)" in report.attacks_not_run
    assert report.attacks_run == ["membership inference"]
    written = _outputs(out)
    for secret in _secrets(plan, SequenceClassification(), 60):
        assert secret not in written


def test_without_an_audit_section_train_plants_nothing(make_plan: Any, tmp_path: Path) -> None:
    ev = _train(make_plan(n=200), tmp_path)
    assert ev.leakage_file is None and ev.units.canaries == 0 and not (tmp_path / "out" / "leakage.json").exists()


def test_a_broken_mechanism_is_caught_by_the_lower_bound(make_plan: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """No noise at all, many epochs, a claim of ε = 0.6: the canaries prove far more, and the post-training
    gate fails on it."""
    from click.testing import CliRunner

    from auditor.cli import cli

    monkeypatch.setattr(randomness, "fresh_key", lambda: KEY)   # reproducible: the same coins every run
    monkeypatch.setattr(randomness.MechanismRandom, "normal_like",
                        lambda self, shapes, std: [torch.zeros(s, dtype=torch.float64) for s in shapes])
    plan = make_plan(n=200, epochs=30, batch=50, epsilon=0.6)
    plan.write_text(plan.read_text().replace("learning_rate: 0.5", "learning_rate: 0.01"), encoding="utf-8")
    _with_audit(plan, "{canaries: 100, membership_records: 40}")
    ev = _train(plan, tmp_path)
    report = LeakageReport.model_validate_json((tmp_path / "out" / "leakage.json").read_text())
    b = report.epsilon_lower_bound
    assert b is not None and b.exceeds_claim and b.value > 1.0, b   # 1.56 (46 of 50 right) on this stack
    assert report.verdict == ev.leakage_verdict == "fail" and "broken" in report.verdict_reason
    result = CliRunner().invoke(cli, ["check", str(plan), "--plan-only", "--training", str(tmp_path / "out"),
                                      "--format", "json", "--policy", "dp_audit"])
    assert result.exit_code == 1, result.output
    finding = next(f for f in json.loads(result.stdout)["findings"] if f["rule"] == "DP-AUDIT-LOWER-BOUND")
    assert finding["status"] == "fail" and finding["severity"] == "critical"


def test_check_refuses_a_leakage_json_that_is_not_the_one_the_run_recorded(make_plan: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditor.cli import cli

    plan = _with_audit(make_plan(n=200), "{canaries: 20, membership_records: 10}")
    _train(plan, tmp_path)
    leakage = tmp_path / "out" / "leakage.json"
    data = json.loads(leakage.read_text())
    data["verdict"] = "pass"
    data["epsilon_lower_bound"]["value"] = 0.0
    leakage.write_text(json.dumps(data) + " ")
    result = CliRunner().invoke(cli, ["check", str(plan), "--plan-only", "--training", str(tmp_path / "out")])
    assert result.exit_code == 2 and "sha256 differs" in result.output
    other = make_plan(n=200, folder="other")
    result = CliRunner().invoke(cli, ["check", str(other), "--plan-only", "--training", str(tmp_path / "out")])
    assert result.exit_code == 2 and "another plan" in result.output


def test_canaries_the_tokenizer_cannot_tell_apart_are_refused_before_any_epsilon(
        make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.train.tasks import classification

    monkeypatch.setattr(classification, "CANARY_WORDS", tuple(f"unknownword{i}" for i in range(100)))
    plan = _with_audit(make_plan(n=200), "{canaries: 40}")
    with pytest.raises(TrainingInputError, match=r"audit\.canaries: .*could not tell them apart"):
        _train(plan, tmp_path)
    ledger = tmp_path / "ledger" / "ledger.jsonl"
    assert not ledger.exists() or "reserve" not in ledger.read_text()


def test_an_audited_causal_lm_run_measures_exposure_and_extraction(make_lm_plan: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.train.tasks import CausalLM

    monkeypatch.setattr(randomness, "fresh_key", lambda: KEY)
    plan = _with_audit(make_lm_plan(n=200, epochs=1, batch=50),
                       "{canaries: 40, extraction_samples: 8, max_new_tokens: 6, exposure_candidates: 30, "
                       "membership_records: 20}")
    ev = _train(plan, tmp_path)
    report = LeakageReport.model_validate_json((tmp_path / "out" / "leakage.json").read_text())
    assert report.task == "causal-lm" and report.verdict == "pass"
    assert report.membership is not None and report.membership.score == "loss relative to the base model"
    assert report.membership.base_model_auc is not None
    x = report.exposure
    assert x is not None and x.candidates == 30 and 0 <= x.median <= x.max <= x.ceiling
    assert sum(x.histogram) == report.canaries.included
    e = report.extraction
    assert e is not None and e.samples == 8 and e.max_new_tokens == 6 and e.prompts == 8
    assert e.training_pii_reproduced >= 0 and e.training_values >= 0
    assert report.attacks_run == ["membership inference", "canary exposure",
                                  "extraction (regurgitation of training data)"]
    assert report.attacks_not_run == ["attribute inference", "model inversion (reconstruction of training data)"]
    written = _outputs(tmp_path / "out")
    for secret in _secrets(plan, CausalLM(), 40):
        assert secret not in written
    assert ev.leakage_verdict == "pass"


def test_q_steps_and_sigma_do_not_depend_on_the_coins(make_plan: Any, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    """Every canary is a unit of q's n, included or not: nothing released counts the included ones."""
    from auditor.leakage import canaries
    from auditor.train.prepare import prepare

    doc = load_plan(make_plan(n=300))
    monkeypatch.setattr(randomness, "fresh_key", lambda: KEY)   # the same split every time ...
    seen = []
    for purpose in ("canaries-a", "canaries-b", "canaries-c"):  # ... and other canaries and coins
        monkeypatch.setattr(canaries, "PURPOSE", purpose)
        prep = prepare(doc, REQ, tmp_path / f"ledger-{purpose}", None, None, None, AuditSpec(canaries=120))
        assert prep.canaries is not None
        included = sum(prep.canaries.included)
        assert len(prep.train_examples) == sum(len(u.examples) for u in prep.data.train) + included
        assert prep.train_units == len(prep.data.train) + 120
        seen.append((included, prep.train_units, prep.q, prep.steps, prep.sigma))
    assert len({s[0] for s in seen}) > 1                  # the coins differ between keys ...
    assert len({s[1:] for s in seen}) == 1                # ... and nothing that is released does


def test_the_minimum_of_units_counts_people_not_canaries(make_plan: Any, tmp_path: Path) -> None:
    from auditor.errors import GateFailed
    from auditor.train.prepare import prepare

    requirement = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=4.5, max_delta=1e-4, max_grad_norm=1.0,
                                                          min_units=100))])
    doc = load_plan(make_plan(n=60))
    with pytest.raises(GateFailed, match="100"):
        prepare(doc, requirement, tmp_path / "ledger", None, None, None, AuditSpec(canaries=500))


def test_canaries_keep_a_user_level_ledger_keyed_on_people(make_plan: Any, tmp_path: Path) -> None:
    """Canaries are units of their own; had they no person, the ledger would fall back to matching texts
    and charge a person with two records twice for this very run."""
    plan = _with_audit(make_plan(n=240, unit="user", users=150), "{canaries: 30, membership_records: 20}")
    ev = _train(plan, tmp_path)
    assert ev.ledger is not None and ev.ledger.units == 150 + 30
    assert ev.ledger.epsilon_spent == pytest.approx(ev.epsilon)
    assert ev.ledger.composed_epsilon == pytest.approx(ev.epsilon, rel=0.05)


def test_the_audit_pipeline_signs_the_leakage_audit_and_no_report_holds_a_canary(
        make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """auditor audit end to end on a tiny model: leakage.json is a signed subject, the report's section 11
    states it, the post-training gate ran with it, and no canary secret is in any file of the folder."""
    from auditor.pipeline import run_audit
    from auditor.train.tasks import SequenceClassification

    monkeypatch.setattr(randomness, "fresh_key", lambda: KEY)
    plan = _with_audit(make_plan(n=240), "{canaries: 40, membership_records: 30}")
    out = tmp_path / "audit"
    outcome = run_audit(plan, out, ledger_dir=tmp_path / "ledger", formats=("html", "md"), progress=False)
    assert outcome.training.status == "completed", outcome
    envelope = json.loads((out / "report.intoto.jsonl").read_text())
    import base64

    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert "leakage.json" in {s["name"] for s in statement["subject"]}
    evidence = json.loads((out / "evidence.json").read_text())
    assert evidence["leakage"]["canaries"]["inserted"] == 40
    assert any(p["id"] == "dp_audit" and p["applies"] for p in evidence["gate"]["policies"])
    report = (out / "report.md").read_text()
    assert "## 11. What the trained model leaks" in report and "40 planted" in report
    written = _outputs(out)
    for secret in _secrets(plan, SequenceClassification(), 40):
        assert secret not in written
