"""PrivateTrainer (transformers.Trainer) and a TRL SFTTrainer under the gate and the policies' DP requirement,
against ``auditor train`` on the same plan and data (tiny models from configs; nothing is downloaded)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.train.test_cli import POLICY  # the same test DP policy as `auditor train` is tested under

PURPOSE = {"name: tiny\n": "name: tiny\npurpose: triage\n"}


def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same mechanism secret for every run of a test: the same split, so the same n, q, σ and steps."""
    from auditor.privacy import randomness

    monkeypatch.setattr(randomness, "fresh_key", lambda: b"\x5a" * randomness.KEY_BYTES)


@pytest.fixture
def gated(make_plan: Any, tmp_path: Path) -> tuple[Path, Path, Path]:
    from auditor.plan import load_plan
    from auditor.scan.api import save_scan, scan_plan_dataset

    plan = make_plan(n=120, epochs=1, batch=40, epsilon=4.0, **PURPOSE)
    policy = tmp_path / "testdp.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    scan = tmp_path / "scan.json"
    save_scan(scan_plan_dataset(load_plan(plan), progress=False), scan)
    return plan, policy, scan


class Recorder:
    """A Trainer callback that keeps every key it was handed and counts the steps it saw begin."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        outer = self
        self.keys: set[str] = set()
        self.steps_begun = 0

        class _Callback(TrainerCallback):
            def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                outer.steps_begun += 1

            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
                outer.keys |= set(logs or {})

        self.callback = _Callback()


def _args(out: Path, **kw: Any) -> Any:
    from transformers import TrainingArguments

    defaults: dict[str, Any] = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 5,
                                "num_train_epochs": 1, "learning_rate": 0.05, "report_to": [],
                                "use_cpu": True, "save_strategy": "no", "disable_tqdm": True}
    return TrainingArguments(output_dir=str(out), **{**defaults, **kw})


def _scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found: dict[str, list[tuple[int, float]]] = {}
    for events in logdir.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return found


def test_trainer_and_auditor_train_give_the_same_mechanism_and_epsilon(
        gated: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor
    from auditor.integrations.transformers import PrivateTrainer
    from auditor.privacy.ledger import Ledger
    from auditor.train.evidence import TrainingEvidence

    _fixed_key(monkeypatch)
    plan, policy, scan = gated
    cli = auditor.train(plan, scan=scan, out=tmp_path / "cli", ledger=tmp_path / "ledger-cli", policies=[str(policy)])
    recorder = Recorder()
    out = tmp_path / "hf"
    trainer = PrivateTrainer(plan=plan, scan=scan, policies=[str(policy)], ledger_dir=tmp_path / "ledger-hf",
                             args=_args(out, report_to=["tensorboard"]),
                             callbacks=[recorder.callback])
    result = trainer.train()
    hf = TrainingEvidence.model_validate_json((out / "training.json").read_text())
    assert hf == trainer.auditor_evidence and hf.trainer == "PrivateTrainer" and hf.training_rows == "plan"
    # B = 8 x 5 = 40, the plan's batch: the same split, n, q, σ, steps and ε, step for step
    assert hf.logical_batch_size == cli.logical_batch_size == 40 and hf.physical_batch_size == 8
    assert (hf.noise_multiplier, hf.sample_rate, hf.steps_planned, hf.steps, hf.delta) == \
        (cli.noise_multiplier, cli.sample_rate, cli.steps_planned, cli.steps, cli.delta)
    assert hf.train_records == cli.train_records and hf.units == cli.units
    assert hf.epsilon_per_step == cli.epsilon_per_step and hf.epsilon == cli.epsilon is not None
    assert hf.clipping.used == cli.clipping.used == "bookkeeping" and hf.stop_reason == "completed"
    assert result.global_step == hf.steps and math.isnan(result.training_loss)
    assert result.metrics == {"epsilon": hf.epsilon}
    # the ledger holds what the run spent, settled; the mechanism's key is gone
    from auditor.fsutil import sha256_file
    from auditor.plan import load_plan
    from auditor.train.data import load_training_data, unit_identities

    doc = load_plan(plan)
    units = unit_identities(load_training_data(doc, b"k" * 32))
    totals = Ledger(tmp_path / "ledger-hf").totals(units, sha256_file(doc.dataset_path))
    assert totals.runs == 1 and totals.epsilon_spent == pytest.approx(hf.epsilon) and totals.epsilon_reserved == 0
    assert not (out / ".auditor-checkpoint").exists()
    assert hf.model_weights_sha256 == sha256_file(out / "model" / "model.safetensors")
    # ε reached TensorBoard every step, through the Trainer's own logging; no loss nor any other statistic did
    scalars = _scalars(out / "runs")  # TensorBoardCallback's default folder
    eps = scalars["train/epsilon"]
    assert [step for step, _ in eps] == list(range(1, hf.steps + 1))
    assert [v for _, v in eps] == pytest.approx([max(s.epsilon_opacus, s.epsilon_pld) for s in hf.epsilon_per_step])
    assert {"train/epsilon_rdp", "train/epsilon_pld", "train/delta"} <= set(scalars)
    assert not [tag for tag in scalars if "loss" in tag or "grad_norm" in tag or "samples" in tag]
    assert recorder.keys <= {"epsilon", "epsilon_rdp", "epsilon_pld", "delta", "learning_rate", "epoch"}
    assert "epsilon" in recorder.keys and recorder.steps_begun == hf.steps
    assert not [k for entry in trainer.state.log_history for k in entry if "loss" in k]
    # evaluate() runs on the plan's held-out split (encoded as auditor train does); its loss reaches no logger
    metrics = trainer.evaluate()
    assert "eval_loss" in metrics and recorder.keys <= {"epsilon", "epsilon_rdp", "epsilon_pld", "delta",
                                                        "learning_rate", "epoch"}
    assert not [k for entry in trainer.state.log_history for k in entry if "loss" in k]
    assert hf.stop_detail == f"all {hf.steps_planned} planned steps taken"
    # the trained model is a plain HF model again: Trainer.save_model works
    trainer.save_model(str(tmp_path / "saved"))
    assert (tmp_path / "saved" / "model.safetensors").is_file()


def test_a_refused_gate_raises_in_the_constructor_before_any_step(make_plan: Any, tmp_path: Path) -> None:
    import auditor
    from auditor.integrations.transformers import PrivateTrainer
    from auditor.plan import load_plan
    from auditor.scan.api import save_scan, scan_plan_dataset

    plan = make_plan(n=60, epochs=1, batch=20, epsilon=4.0)  # no purpose: TEST-PURPOSE (high) fails
    policy = tmp_path / "testdp.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    scan = tmp_path / "scan.json"
    save_scan(scan_plan_dataset(load_plan(plan), progress=False), scan)
    recorder = Recorder()
    with pytest.raises(auditor.GateFailed) as refused:
        PrivateTrainer(plan=plan, scan=scan, policies=[str(policy)], ledger_dir=tmp_path / "ledger",
                       args=_args(tmp_path / "out"), callbacks=[recorder.callback])
    assert "gate refused training" in refused.value.message and refused.value.exit_code == 1
    assert [f.rule for f in refused.value.gate.blocking()] == ["TEST-PURPOSE"]
    assert recorder.steps_begun == 0 and not (tmp_path / "ledger").exists()
    assert not (tmp_path / "out" / "training.json").exists()
    with pytest.raises(auditor.GateFailed) as refused_too:  # auditor.train refuses the same way
        auditor.train(plan, scan=scan, policies=[str(policy)], out=tmp_path / "cli", ledger=tmp_path / "ledger")
    assert refused_too.value.gate is not None and not (tmp_path / "cli").exists()


def test_a_callers_dataset_is_sampled_row_by_row_and_said_so(
        gated: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

    from auditor.integrations.transformers import PrivateTrainer
    from auditor.privacy import accounting

    plan, policy, scan = gated
    rows = [json.loads(line) for line in (plan.parent / "data.jsonl").read_text().splitlines()][:100]
    base = _tiny(plan)
    tokenizer = AutoTokenizer.from_pretrained(base)
    data = Dataset.from_list([{"text": r["text"], "label": r["label"]} for r in rows]).map(
        lambda row: tokenizer(row["text"], truncation=True, max_length=16), remove_columns=["text"])
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=4)
    trainer = PrivateTrainer(model=model, plan=plan, scan=scan, policies=[str(policy)], ledger_dir=tmp_path / "l",
                             args=_args(tmp_path / "out", per_device_train_batch_size=10,
                                        gradient_accumulation_steps=2),
                             train_dataset=data, processing_class=tokenizer,
                             data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    ev = trainer.auditor_evidence
    assert ev is not None and ev.training_rows == "caller" and ev.train_records == ev.units.train_units == 100
    assert ev.sample_rate == accounting.sample_rate_for(100, 20) == 1 / 5 and ev.steps_planned == ev.steps == 5
    assert ev.privacy_units == 120 and ev.delta is not None and ev.delta <= 1 / (10 * 120)
    assert "row of the caller's train_dataset" in ev.units.contribution_bound
    assert ev.epsilon is not None and ev.epsilon <= 4.0
    # auditor report signs the run's folder as it signs one from auditor train; verify checks every file
    import auditor
    from auditor.report.sign import generate_keypair

    private, public = generate_keypair(tmp_path / "keys")
    files = auditor.report(tmp_path / "out", key=private, formats=["md"], plan=plan, scan=scan,
                           policies=[str(policy)])
    assert {"training.json", "model/model.safetensors", "scan.json", "check.json"} <= set(files.subjects)
    envelope = tmp_path / "out" / "report.intoto.jsonl"
    assert auditor.verify(envelope, key=public).ok
    evidence = json.loads((tmp_path / "out" / "evidence.json").read_text())
    assert evidence["training"]["training_rows"] == "caller" and evidence["training_outcome"]["status"] == "completed"
    training = tmp_path / "out" / "training.json"
    training.write_text(training.read_text().replace('"steps": 5', '"steps": 4'))
    with pytest.raises(auditor.VerificationFailed):
        auditor.verify(envelope, key=public)
    assert not auditor.verify(envelope, key=public, raise_on_failure=False).ok


def _tiny(plan: Path) -> str:
    from auditor.plan import load_plan

    return load_plan(plan).plan.model.base


def test_arguments_dp_sgd_cannot_account_are_refused_in_one_line() -> None:
    from auditor.errors import TrainingInputError
    from auditor.integrations.hf_setup import refuse_arguments

    base = {"fp16": False, "world_size": 1, "n_gpu": 1, "torch_compile": False, "device": SimpleNamespace(type="cpu"),
            "num_train_epochs": 1.0, "max_steps": -1}
    refuse_arguments(SimpleNamespace(**base))
    for change, field in [({"fp16": True}, "args.fp16"), ({"world_size": 2}, "args.world_size"),
                          ({"packing": True}, "args.packing"), ({"padding_free": True}, "args.packing"),
                          ({"num_train_epochs": 1.5}, "args.num_train_epochs"),
                          ({"device": SimpleNamespace(type="mps")}, "args.device")]:
        with pytest.raises(TrainingInputError) as refused:
            refuse_arguments(SimpleNamespace(**{**base, **change}))
        assert field in refused.value.message and "\n" not in refused.value.message
    refuse_arguments(SimpleNamespace(**{**base, "num_train_epochs": 1.5, "max_steps": 7}))  # max_steps decides


def test_wandb_gradient_histograms_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.errors import TrainingInputError
    from auditor.integrations.hf_setup import refuse_arguments

    args = SimpleNamespace(fp16=False, world_size=1, n_gpu=1, torch_compile=False, device=SimpleNamespace(type="cpu"),
                           num_train_epochs=1.0, max_steps=-1, report_to=["wandb"])
    monkeypatch.setenv("WANDB_WATCH", "gradients")
    with pytest.raises(TrainingInputError, match="WANDB_WATCH"):
        refuse_arguments(args)
    monkeypatch.setenv("WANDB_WATCH", "parameters")  # the weights are released anyway
    refuse_arguments(args)


def test_only_public_numbers_pass_the_log_filter() -> None:
    from auditor.integrations.transformers import public_logs

    logs = {"loss": 1.2, "grad_norm": 3.0, "epsilon": 0.5, "epsilon_prv": 0.4, "epsilon_pld": 0.5, "delta": 1e-5,
            "learning_rate": 0.1, "epoch": 0.5, "eval_loss": 0.9, "eval_accuracy": 0.7, "train_samples_per_second": 9.0,
            "num_input_tokens_seen": 800, "total_flos": 1e9, "mean_token_accuracy": 0.3}
    assert public_logs(logs) == {"epsilon": 0.5, "epsilon_prv": 0.4, "epsilon_pld": 0.5, "delta": 1e-5,
                                 "learning_rate": 0.1, "epoch": 0.5}
    assert public_logs(None) == {}


DP_ONLY = POLICY.replace("has(plan.purpose)", "has(plan.name)")


def test_trl_sft_trainer_trains_lora_under_dp(make_lm_plan: Any, tiny_llama: Path, tmp_path: Path) -> None:
    """TRL's SFTTrainer with the mixin first in its bases: the same gate and mechanism, chat rows tokenized by
    TRL, a peft LoRA model on its device before wrapping, bf16 requested (fp32 on the CPU)."""
    trl = pytest.importorskip("trl", reason="TRL is not installed (pip install trl): the SFTTrainer path is untested")
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from auditor.integrations.transformers import PrivateTrainingMixin
    from auditor.plan import load_plan
    from auditor.scan.api import save_scan, scan_plan_dataset

    class PrivateSFTTrainer(PrivateTrainingMixin, trl.SFTTrainer):
        pass

    plan = make_lm_plan(n=120, batch=40, epsilon=4.0)
    policy = tmp_path / "dp.yaml"
    policy.write_text(DP_ONLY, encoding="utf-8")
    scan = tmp_path / "scan.json"
    save_scan(scan_plan_dataset(load_plan(plan), progress=False), scan)
    chats = [json.loads(line)["messages"] for line in (plan.parent / "chats.jsonl").read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).to("cpu")  # on its device before peft wraps it
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                             lora_dropout=0.0, task_type="CAUSAL_LM"))
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    args = trl.SFTConfig(output_dir=str(tmp_path / "sft"), per_device_train_batch_size=8,
                         gradient_accumulation_steps=5, num_train_epochs=1, learning_rate=0.05, max_length=32,
                         report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True, bf16=True)
    trainer = PrivateSFTTrainer(model=model, args=args, train_dataset=Dataset.from_list([{"messages": c}
                                                                                         for c in chats[:100]]),
                                processing_class=tokenizer, plan=plan, scan=scan, policies=[str(policy)],
                                ledger_dir=tmp_path / "ledger")
    trainer.train()
    ev = trainer.auditor_evidence
    assert ev is not None and ev.task == "causal-lm" and ev.training_rows == "caller"
    assert ev.trainer == "PrivateSFTTrainer" and ev.lora is not None and ev.lora.r == 4
    assert ev.sample_rate == pytest.approx(1 / 3) and ev.steps == ev.steps_planned == 3
    assert ev.epsilon is not None and 0 < ev.epsilon <= 4.0 and ev.clipping.used in ("bookkeeping", "ghost", "hooks")
    assert ev.model_weights_file == "adapter_model.safetensors"
    assert (tmp_path / "sft" / "model" / "adapter_model.safetensors").is_file()
    moved = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p.detach(), before[n])]
    assert moved and all("lora_" in n for n in before)


def test_the_predictive_stop_and_a_callbacks_stop_end_the_run_within_its_epsilon(
        make_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import TrainerCallback

    from auditor.integrations.transformers import PrivateTrainer
    from auditor.plan import load_plan
    from auditor.privacy import accounting
    from auditor.scan.api import save_scan, scan_plan_dataset

    plan = make_plan(n=200, epochs=2, batch=50, epsilon=4.0, **PURPOSE)
    policy = tmp_path / "testdp.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    scan = tmp_path / "scan.json"
    save_scan(scan_plan_dataset(load_plan(plan), progress=False), scan)
    common: dict[str, Any] = {"plan": plan, "scan": scan, "policies": [str(policy)]}
    real = accounting.calibrate_noise
    with monkeypatch.context() as patched:  # too little noise for the plan: the loop must stop before ε passes 4
        patched.setattr(accounting, "calibrate_noise", lambda *a, **k: real(*a, **k) * 0.85)
        trainer = PrivateTrainer(args=_args(tmp_path / "a", per_device_train_batch_size=25,
                                            gradient_accumulation_steps=2, num_train_epochs=2),
                                 ledger_dir=tmp_path / "la", **common)
        trainer.train()
    ev = trainer.auditor_evidence
    assert ev is not None and ev.stop_reason == "budget_exhausted" and 0 < ev.steps < ev.steps_planned
    assert ev.epsilon is not None and ev.epsilon <= 4.0 and f"before step {ev.steps + 1}" in ev.stop_detail
    assert accounting.epsilon_pair(ev.noise_multiplier, ev.sample_rate, ev.steps + 1, ev.delta or 0,
                                   "rdp").enforced > 4.0

    class StopAfterOne(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            control.should_training_stop = True
            return control

    stopped = PrivateTrainer(args=_args(tmp_path / "b", per_device_train_batch_size=25, gradient_accumulation_steps=2),
                             callbacks=[StopAfterOne()], ledger_dir=tmp_path / "lb", **common)
    stopped.train()
    one = stopped.auditor_evidence
    assert one is not None and one.steps == 1 < one.steps_planned and "stopped by a Trainer callback" in one.stop_detail
    assert one.epsilon == max(one.epsilon_per_step[0].epsilon_opacus, one.epsilon_per_step[0].epsilon_pld)
