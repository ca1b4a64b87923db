"""The causal-lm task on a tiny Llama built from a config: chat masking, per-example LoRA gradients against
one-example-at-a-time autograd in every clipping mode, the enforced run end to end, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from auditor.errors import InternalError, PlanError, TrainingInputError  # noqa: E402
from auditor.plan import load_plan  # noqa: E402
from auditor.privacy.ledger import Ledger  # noqa: E402
from auditor.privacy.randomness import MechanismRandom  # noqa: E402
from auditor.privacy.requirements import PrivacyBounds, merge  # noqa: E402
from auditor.train.encoded import IGNORE  # noqa: E402
from auditor.train.evidence import TrainingEvidence  # noqa: E402
from auditor.train.tasks import CausalLM  # noqa: E402

REQ = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=4.5, max_delta=1e-4, max_grad_norm=1.0))])
LM = CausalLM()
MODES = ("bookkeeping", "ghost", "hooks")


def _train(plan: Path, tmp_path: Path, name: str = "out") -> TrainingEvidence:
    from auditor.train.api import run_training

    return run_training(load_plan(plan), requirement=REQ, out_dir=tmp_path / name, ledger_dir=tmp_path / "ledger",
                        progress=False)


def _loaded(plan: Path) -> Any:
    from auditor.train.model import resolve_model_path

    doc = load_plan(plan)
    torch.manual_seed(0)
    return doc, LM.load(doc, resolve_model_path(doc), "cpu")


def test_a_chat_trains_on_its_assistant_turns_only(make_lm_plan: Any) -> None:
    from auditor.train.data import Example

    _, loaded = _loaded(make_lm_plan(n=10))
    chat = (("system", "w9 w8"), ("user", "invoice refund ?"), ("assistant", "billing charge ."),
            ("user", "w1 w2"), ("assistant", "w4 w5 ."))
    encoded = LM.encode(loaded.tokenizer, [Example(line=1, text="", label=0, user=None, chat=chat)], 64)
    tok = loaded.tokenizer
    trained = [t for t in encoded.targets[0] if t != IGNORE]
    # the assistant contents and their end-of-turn markers; never the system or user turns, nor the roles
    assert tok.convert_ids_to_tokens(trained) == ["billing", "charge", ".", "<|im_end|>", "w4", "w5", ".",
                                                  "<|im_end|>"]
    assert len(encoded.ids[0]) == len(encoded.targets[0])
    plain = LM.encode(tok, [Example(line=1, text="late parcel .", label=0, user=None)], 64)
    assert plain.targets == plain.ids and tok.convert_ids_to_tokens(plain.ids[0])[-1] == "<eos>"


def test_a_template_that_rewrites_earlier_turns_is_refused(make_lm_plan: Any) -> None:
    from auditor.train.data import Example

    _, loaded = _loaded(make_lm_plan(n=10))
    tok = loaded.tokenizer
    # only the last user turn is rendered: earlier turns vanish once a later one exists
    tok.chat_template = ("{% for m in messages %}{% if loop.last or m['role'] == 'assistant' %}"
                         "{{ m['role'] + ' ' + m['content'] + ' ' }}{% endif %}{% endfor %}"
                         "{% if add_generation_prompt %}assistant {% endif %}")
    chat = (("user", "w1"), ("assistant", "w2"), ("user", "w3"), ("assistant", "w4"))
    with pytest.raises(TrainingInputError, match="assistant tokens cannot be told from user tokens"):
        LM.encode(tok, [Example(line=1, text="", label=0, user=None, chat=chat)], 64)


@pytest.mark.parametrize("mode", MODES)
def test_per_example_lora_gradients_are_exact_in_every_mode(make_lm_plan: Any, mode: str) -> None:
    """The probe's reference is plain autograd one example at a time; each mode must reproduce its norms."""
    from auditor.train import finetune, probe

    _, loaded = _loaded(make_lm_plan(n=10))
    model = loaded.model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    assert params and all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    reference = probe.check_independence(model, LM, "cpu", max_len=24, size=6)
    dp = finetune.make_private(model, torch.optim.SGD(params, lr=0.1), train_size=50, batch_size=5, sigma=1.0,
                               clip=1.0, mode=mode, accountant="rdp", source=MechanismRandom())
    probe.check_norms(model, LM, dp, reference, "cpu")
    dp.hooks.cleanup()


@pytest.mark.parametrize("mode", ["bookkeeping", "hooks"])
def test_the_clipped_sum_matches_one_example_at_a_time(make_lm_plan: Any, mode: str) -> None:
    from auditor.train import finetune

    _, loaded = _loaded(make_lm_plan(n=10))
    model = loaded.model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    data = LM.synthetic(model, 20, 6)
    # LoRA B starts at zero, so A's gradients would all be zero: move off the initialisation first
    with torch.no_grad():
        for p in params:
            p.add_(0.3 * torch.randn_like(p))
    truth = []
    for i in range(len(data)):
        grads = torch.autograd.grad(LM.losses(model, data.batch([i], "cpu"), "cpu")[0], params)
        truth.append([g.detach() for g in grads])
    norms = torch.stack([torch.sqrt(sum((g ** 2).sum() for g in gs)) for gs in truth])  # type: ignore[misc]
    clip = float(norms.median())
    factors = torch.clamp(clip / (norms + 1e-6), max=1.0)
    assert (factors < 1).any() and (factors == 1).any()
    dp = finetune.make_private(model, torch.optim.SGD(params, lr=0.0), train_size=6, batch_size=6, sigma=0.0,
                               clip=clip, mode=mode, accountant="rdp", source=MechanismRandom())
    with dp.capture():
        dp.reduce(LM.losses(model, data.batch(list(range(6)), "cpu"), "cpu")).backward()
    dp.optimizer.pre_step()  # clip, accumulate, add (zero) noise, scale: p.grad is what SGD would apply
    for k, p in enumerate(params):
        expected = sum(factors[i] * truth[i][k] for i in range(len(truth))) / 6
        torch.testing.assert_close(p.grad, expected, rtol=1e-4, atol=1e-7)
    dp.hooks.cleanup()


def test_an_enforced_run_trains_the_adapter_and_records_the_task(make_lm_plan: Any, tmp_path: Path) -> None:
    plan = make_lm_plan(n=200, epochs=2, batch=50, merged=True)
    ev = _train(plan, tmp_path)
    assert ev.task == "causal-lm" and ev.mechanism == "dp-sgd"
    assert ev.epsilon is not None and ev.epsilon <= 4.0 and ev.steps > 0
    assert ev.lora is not None and (ev.lora.r, ev.lora.alpha, ev.lora.adapted_modules) == (4, 8, 4)
    assert ev.clipping.trainable_parameters < ev.clipping.total_parameters
    assert ev.clipping.trainable_layers == "LoRA r=4 on q_proj, v_proj (4 modules)"
    assert ev.eval.perplexity is not None and ev.eval.perplexity > 1 and ev.eval.tokens
    assert ev.eval.accuracy is None and ev.versions.peft
    model_dir = tmp_path / "out" / "model"
    assert ev.model_weights_file == "adapter_model.safetensors"
    from auditor.fsutil import sha256_file

    assert sha256_file(model_dir / "adapter_model.safetensors") == ev.model_weights_sha256
    assert ev.merged_weights_sha256 == sha256_file(model_dir / "merged" / "model.safetensors")
    assert not (model_dir / "README.md").exists()
    # the adapter applies to the plan's base; the merged model reloads and matches base + adapter
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    config = json.loads((model_dir / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == load_plan(plan).plan.model.base
    base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
    adapted = PeftModel.from_pretrained(base, model_dir).eval()
    merged = AutoModelForCausalLM.from_pretrained(model_dir / "merged").eval()
    ids = torch.tensor([[5, 9, 12, 30, 7]])
    with torch.no_grad():
        torch.testing.assert_close(adapted(input_ids=ids).logits, merged(input_ids=ids).logits,
                                   rtol=1e-4, atol=1e-5)
        changed = adapted(input_ids=ids).logits - AutoModelForCausalLM.from_pretrained(
            config["base_model_name_or_path"])(input_ids=ids).logits
    assert float(changed.abs().max()) > 0  # the adapter is not the identity: something was trained
    saved = json.loads((tmp_path / "out" / "training.json").read_text())
    assert TrainingEvidence.model_validate(saved) == ev
    assert Ledger(tmp_path / "ledger").reservation(ev.run_id) is None  # settled


def test_a_first_step_that_changes_no_weight_stops_the_run_and_settles(make_lm_plan: Any, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Opacus #820: an optimizer updating other tensors than the model's adapters trains nothing while ε
    accrues. Simulated by an optimizer step that does nothing."""
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, closure=None: None)
    with pytest.raises(InternalError, match="changed none of the model's trainable weights"):
        _train(make_lm_plan(n=200, epochs=1, batch=50), tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "ledger" / "ledger.jsonl").read_text().splitlines()]
    spent = [x for x in lines if x.get("kind") == "spend"]
    # settled at the one step it took, not left reserved at the planned ε
    assert len(spent) == 1 and spent[0]["steps"] == 1 and 0 < spent[0]["epsilon"] < 4.0
    assert not (tmp_path / "out" / "checkpoint").exists()


def test_user_level_chats_group_people(make_lm_plan: Any, tmp_path: Path) -> None:
    ev = _train(make_lm_plan(n=240, epochs=1, batch=40, unit="user", users=150), tmp_path)
    assert ev.unit == "user" and ev.privacy_units == 150 and ev.units.users_with_multiple_records == 90


@pytest.mark.parametrize(("patch", "message"), [
    ("dataset:\n  path: chats.jsonl\n", "dataset:\n  path: chats.jsonl\n  label_field: label\n"),
    ("model:\n  base:", "model:\n  num_labels: 3\n  base:"),
    ("training:\n", "training:\n  trainable_layers: 1\n"),
])
def test_fields_the_task_does_not_use_are_refused_with_their_line(make_lm_plan: Any, patch: str,
                                                                   message: str) -> None:
    plan = make_lm_plan(n=10)
    plan.write_text(plan.read_text().replace(patch, message, 1), encoding="utf-8")
    with pytest.raises(PlanError, match=r"plan\.yaml:\d+: (dataset\.label_field|model\.num_labels|"
                                        r"training\.trainable_layers): "):
        load_plan(plan)


def test_lora_on_a_classifier_and_an_encoder_for_causal_lm_are_refused(make_lm_plan: Any, tmp_path: Path) -> None:
    from auditor.train.model import resolve_model_path

    plan = make_lm_plan(n=10)
    text = plan.read_text()
    plan.write_text(text.replace("  task: causal-lm\n", ""), encoding="utf-8")
    with pytest.raises(PlanError, match=r":\d+: training\.lora: LoRA is offered for model.task causal-lm"):
        load_plan(plan)
    lines = [line if not line.startswith("  base: ") else "  base: bundled:minilm" for line in text.splitlines()]
    plan.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TrainingInputError, match=r"bundled:minilm is not a causal-lm model \(use bundled:smollm2\)"):
        resolve_model_path(load_plan(plan))


def test_unknown_target_modules_name_the_field(make_lm_plan: Any) -> None:
    plan = make_lm_plan(n=10)
    plan.write_text(plan.read_text().replace("[q_proj, v_proj]", "[query, value]"), encoding="utf-8")
    with pytest.raises(TrainingInputError, match=r"training\.lora\.target_modules: none of query, value"):
        _loaded(plan)


@pytest.mark.parametrize(("messages", "message"), [
    ([{"role": "user", "content": "w1"}, {"role": "bot", "content": "secret-value-17"}], r"messages\[1\]: a chat turn"),
    ([{"role": "user", "content": "secret-value-17"}], "no assistant turn"),
    ([{"role": "user", "content": 17}, {"role": "assistant", "content": "w2"}], r"messages\[0\]: a chat turn"),
])
def test_malformed_chats_name_line_and_turn_never_the_value(make_lm_plan: Any, tmp_path: Path,
                                                            messages: list[Any], message: str) -> None:
    from auditor.train.data import load_training_data

    plan = make_lm_plan(n=20)
    data = plan.parent / "chats.jsonl"
    lines = data.read_text().splitlines()
    lines[6] = json.dumps({"messages": messages, "customer_id": "c6"})
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TrainingInputError, match=message) as err:
        load_training_data(load_plan(plan), bytes(32))
    assert ":7: " in err.value.message and "secret-value-17" not in err.value.message


def test_a_plain_text_field_and_a_text_file_train_too(make_lm_plan: Any, tmp_path: Path) -> None:
    from auditor.train.data import load_training_data

    plan = make_lm_plan(n=10)
    (plan.parent / "notes.txt").write_text("".join(f"late parcel w{i} .\n" for i in range(30)), encoding="utf-8")
    plan.write_text(plan.read_text().replace("path: chats.jsonl", "path: notes.txt\n  format: text")
                    .replace("text_fields: [messages]", "text_fields: [text]")
                    .replace("  user_id_field: customer_id\n", ""), encoding="utf-8")
    data = load_training_data(load_plan(plan), bytes(32))
    assert data.records == 30 and all(e.chat is None and e.text.startswith("late parcel") for e in data.units[0]
                                      .examples)


def test_the_scan_reads_every_turn_the_chat_trains_on(make_lm_plan: Any, tmp_path: Path) -> None:
    """The gate must see what training reads: identifiers in a later assistant turn and in a user turn of a
    chat list are found by ``auditor scan --plan`` under the plan's field."""
    from auditor.scan.api import scan_plan_dataset

    plan = make_lm_plan(n=20)
    data = plan.parent / "chats.jsonl"
    lines = data.read_text().splitlines()
    lines[3] = json.dumps({"customer_id": "c3", "messages": [
        {"role": "user", "content": "call me on +1 415 761 2478 please"},
        {"role": "assistant", "content": "sure ."},
        {"role": "user", "content": "w1 w2"},
        {"role": "assistant", "content": "I will write to jo.planted@example.org ."}]})
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    scan = scan_plan_dataset(load_plan(plan), workers=1, progress=False)
    assert scan.entities["EMAIL_ADDRESS"].records == 1 and scan.entities["PHONE_NUMBER"].records == 1
    assert scan.entities["EMAIL_ADDRESS"].fields == ["messages"]
    assert "jo.planted" not in scan.model_dump_json()
