"""Tiny CPU fixtures: a 2-layer BERT built from a config and a synthetic labelled dataset (no network)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

WORDS = ["invoice", "refund", "charge", "login", "password", "crash", "error", "parcel", "delivery", "late",
         "account", "billing", "reset", "server", "package", "payment", "slow", "address", "email", "card"]
TOPICS = [WORDS[0:5], WORDS[5:10], WORDS[10:15], WORDS[15:20]]


def make_tiny_model(directory: Path, num_labels: int = 4, hidden_dropout: float = 0.0) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    from auditor.train.tasks.classification import CANARY_WORDS

    # the leakage audit's canary words too, so canaries are texts this tokenizer can tell apart
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *[f"w{i}" for i in range(40)], *CANARY_WORDS]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # transformers 5 takes the word list as `vocab` (it ignores `vocab_file`, leaving every word [UNK])
    tokenizer = BertTokenizerFast(vocab=str(directory / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(directory)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=num_labels,
                        hidden_dropout_prob=hidden_dropout, attention_probs_dropout_prob=hidden_dropout)
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    return directory


def write_dataset(path: Path, n: int, seed: int = 0, users: int | None = None, num_labels: int = 4) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            label = rng.randrange(num_labels)
            text = " ".join(rng.choice(TOPICS[label % 4]) for _ in range(6))
            record = {"text": text, "label": label, "customer_id": f"c{(i % users) if users else i}"}
            handle.write(json.dumps(record) + "\n")
    return path


PLAN = """version: 1
name: tiny
dataset:
  path: data.jsonl
  text_fields: [text]
  label_field: label
  user_id_field: customer_id
model:
  base: {model}
  num_labels: 4
training:
  epochs: {epochs}
  batch_size: {batch}
  physical_batch_size: 16
  learning_rate: 0.5
  max_seq_len: 16
  device: cpu
  seed: 3
  eval_fraction: 0.2
privacy:
  mechanism: {mechanism}
  target_epsilon: {epsilon}
  max_grad_norm: 1.0
  accountant: {accountant}
  unit: {unit}
  clipping: {clipping}
"""


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    """Tiny tensors on a shared 2-core machine: one intra-op thread is faster and avoids oversubscription."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def make_plan(tmp_path: Path, tiny_model: Path):  # type: ignore[no-untyped-def]
    def _make(n: int = 200, epochs: int = 1, batch: int = 50, epsilon: float | str = 4.0,
              mechanism: str = "dp-sgd", accountant: str = "rdp", unit: str = "record", users: int | None = None,
              clipping: str = "bookkeeping", folder: str = "job", **fmt: str) -> Path:
        root = tmp_path / folder
        root.mkdir(exist_ok=True)
        write_dataset(root / "data.jsonl", n, users=users)
        text = PLAN.format(model=tiny_model, epochs=epochs, batch=batch, epsilon=epsilon, mechanism=mechanism,
                           accountant=accountant, unit=unit, clipping=clipping)
        for old, new in fmt.items():
            text = text.replace(old, new)
        (root / "plan.yaml").write_text(text, encoding="utf-8")
        return root / "plan.yaml"

    return _make


CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
LM_SPECIAL = ["<pad>", "<eos>", "<unk>", "<|im_start|>", "<|im_end|>"]


def make_tiny_llama(directory: Path) -> Path:
    """A 2-layer Llama (RMSNorm, rotary, tied embeddings, grouped-query attention) with a word-level fast
    tokenizer and a ChatML template, built from a config: the causal-lm path without the bundled model."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    # every three-digit group and the canary template's words: the leakage audit's canaries are representable
    vocab = {t: i for i, t in enumerate([*LM_SPECIAL, "user", "assistant", "system", *WORDS,
                                         *[f"w{i}" for i in range(40)], ".", ",", "?", "-",
                                         *[f"{i:03d}" for i in range(1000)],
                                         "What", "is", "my", "reference", "number", "Your", "My"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>", pad_token="<pad>",
                                        unk_token="<unk>", additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(directory)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
                         tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, bos_token_id=None)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


def write_chats(path: Path, n: int, seed: int = 0, users: int | None = None) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            topic = TOPICS[rng.randrange(4)]
            messages = [{"role": "user", "content": " ".join(rng.choice(topic) for _ in range(5)) + " ?"},
                        {"role": "assistant", "content": " ".join(topic[:3]) + " ."}]
            if rng.random() < 0.5:
                messages += [{"role": "user", "content": "w1 w2 w3"}, {"role": "assistant", "content": "w4 w5 ."}]
            record = {"messages": messages, "customer_id": f"c{(i % users) if users else i}"}
            handle.write(json.dumps(record) + "\n")
    return path


LM_PLAN = """version: 1
name: tiny-chat
dataset:
  path: chats.jsonl
  text_fields: [messages]
  user_id_field: customer_id
model:
  base: {model}
  task: causal-lm
training:
  epochs: {epochs}
  batch_size: {batch}
  physical_batch_size: 16
  learning_rate: 0.05
  max_seq_len: 32
  device: cpu
  seed: 3
  eval_fraction: 0.2
  lora: {{r: 4, alpha: 8, target_modules: [q_proj, v_proj], dropout: 0.0, merged: {merged}}}
privacy:
  mechanism: dp-sgd
  target_epsilon: {epsilon}
  max_grad_norm: 1.0
  accountant: rdp
  unit: {unit}
  clipping: {clipping}
"""


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def make_lm_plan(tmp_path: Path, tiny_llama: Path):  # type: ignore[no-untyped-def]
    def _make(n: int = 200, epochs: int = 1, batch: int = 50, epsilon: float = 4.0, unit: str = "record",
              users: int | None = None, clipping: str = "bookkeeping", merged: bool = False,
              folder: str = "chat") -> Path:
        root = tmp_path / folder
        root.mkdir(exist_ok=True)
        write_chats(root / "chats.jsonl", n, users=users)
        text = LM_PLAN.format(model=tiny_llama, epochs=epochs, batch=batch, epsilon=epsilon, unit=unit,
                              clipping=clipping, merged=str(merged).lower())
        (root / "plan.yaml").write_text(text, encoding="utf-8")
        return root / "plan.yaml"

    return _make
