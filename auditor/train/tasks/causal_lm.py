"""Causal LM supervised fine-tuning with LoRA adapters (peft): support chats, tickets, notes.

A string field trains next-token prediction on the whole text. A chat list (``[{role, content}, ...]``) is
rendered with the model's own chat template and the loss covers the assistant turns only (their content and
end-of-turn marker); user and system turns are context. Which tokens are assistant tokens is read from the
template itself: the conversation rendered up to each turn must be a prefix of the whole rendering, else the
plan is refused (a template that rewrites earlier turns leaves no honest way to mask them).

Only the adapters are trainable, so they are all DP-SGD clips, noises and releases; the base model's weights
stay as published. Each example's loss is its own mean over its target tokens (never a mean over the
batch's tokens, which would let one example scale every other example's gradient).
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from auditor.errors import TrainingInputError
from auditor.fsutil import sha256_file
from auditor.scan.read import extract
from auditor.train.encoded import IGNORE, Batch, Encoded, autocast
from auditor.train.model import ModelSource, offline_transformers, special_ids
from auditor.train.tasks.base import Chat, Loaded, Saved, Task

if TYPE_CHECKING:
    from auditor.plan import PlanDocument
    from auditor.train.data import Example
    from auditor.train.evidence import EvalMetrics

ROLES = ("system", "user", "assistant")
MAX_TURNS = 512

#: The canary's question and answer: a reference number is what a support model might be asked to repeat.
CANARY_QUESTION = "What is my reference number?"
CANARY_ANSWER = "Your reference number is {secret}."
CANARY_TEXT = "My reference number is {secret}."

#: Generic prompts for the extraction attack (Lukas et al. 2023 sample the model and look for training PII in
#: what it writes): nothing in them comes from the data, so any identifier in a reply came from the model.
CHAT_PROMPTS = (
    "Hello, I need help with my account.", "Hi, can you check my order for me?",
    "Can you tell me which details you have on file for me?", "I have a question about my last invoice.",
    "Please confirm my contact details.", "Who did I speak with last time?", "My parcel has not arrived.",
    "I want to update my address.", "Can you call me back?", "I was charged twice.",
    "Please send the confirmation to my e-mail.", "I forgot my password.",
)
TEXT_PROMPTS = ("", "My name is", "Please contact", "You can reach me at", "Dear", "The customer", "Hello,",
                "Regards,", "Call me on", "My address is")


def _chat_at(path: Path, number: int, field: str, value: Any) -> Chat | None:
    """The turns of a chat list, or None when the field is not one; a malformed turn names its index."""
    if not (isinstance(value, list) and value and all(isinstance(t, dict) for t in value)):
        return None
    if len(value) > MAX_TURNS:
        raise TrainingInputError(f"{path}:{number}: {field}: more than {MAX_TURNS} chat turns")
    turns = []
    for i, turn in enumerate(value):
        role, content = turn.get("role"), turn.get("content")
        if not isinstance(role, str) or role not in ROLES or not isinstance(content, str):
            raise TrainingInputError(f"{path}:{number}: {field}[{i}]: a chat turn needs a 'role' "
                                     f"({', '.join(ROLES)}) and a 'content' string")
        turns.append((role, content))
    if not any(role == "assistant" and content for role, content in turns):
        raise TrainingInputError(f"{path}:{number}: {field}: the chat has no assistant turn to train on")
    return tuple(turns)


def _value_at(row: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(row, dict) or part not in row:
            return None
        row = row[part]
    return row


def assistant_spans(tokenizer: Any, chat: Chat) -> tuple[str, list[tuple[int, int]]]:
    """The rendered chat and the character spans of its assistant turns (content and end-of-turn)."""
    messages = [{"role": r, "content": c} for r, c in chat]

    def render(upto: int, prompt: bool) -> str:
        text = tokenizer.apply_chat_template(messages[:upto], tokenize=False, add_generation_prompt=prompt)
        return str(text)

    full = render(len(messages), False)
    spans = []
    for k, (role, _) in enumerate(chat):
        if role != "assistant":
            continue
        start, end = render(k, True), render(k + 1, False)
        if not (end.startswith(start) and full.startswith(end)):
            raise ValueError("not prefix-stable")
        spans.append((len(start), len(end)))
    return full, spans


class CausalLM(Task):
    name: ClassVar[str] = "causal-lm"
    generative: ClassVar[bool] = True

    def record(self, doc: PlanDocument, number: int, row: dict[str, Any]) -> tuple[str, int, Chat | None]:
        fields = doc.plan.dataset.text_fields
        chats = [(f, c) for f in fields
                 if (c := _chat_at(doc.dataset_path, number, f, _value_at(row, f.split(".")))) is not None]
        if chats:
            if len(fields) > 1:
                raise TrainingInputError(f"{doc.source}: dataset.text_fields: a chat field ('{chats[0][0]}') "
                                         "must be the only text field of a causal-lm plan")
            chat = chats[0][1]
            return "\n".join(content for _, content in chat), 0, chat
        parts = [text for f in fields for _, text in extract(row, f.split(".")) if text]
        return "\n\n".join(parts), 0, None

    def load(self, doc: PlanDocument, source: ModelSource, device: str) -> Loaded:
        import torch

        transformers = offline_transformers()
        from peft import LoraConfig, get_peft_model

        from auditor.plan import LoraSpec
        from auditor.train.evidence import LoraInfo

        try:
            with _quiet_gguf():
                tokenizer = transformers.AutoTokenizer.from_pretrained(source.path, local_files_only=True,
                                                                       gguf_file=source.gguf_file)
                model = transformers.AutoModelForCausalLM.from_pretrained(
                    source.path, local_files_only=True, gguf_file=source.gguf_file, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise TrainingInputError(f"{doc.source}: model.base: cannot load '{doc.plan.model.base}' offline "
                                     f"as a causal LM ({type(exc).__name__}); give a local model directory"
                                     ) from None
        model.config.use_cache = False
        for p in model.parameters():
            p.requires_grad = False
        # On its device *before* peft wraps it: moved afterwards, Opacus can clip and noise copies that are
        # not the model's adapters, and nothing trains while ε accrues (Opacus #820).
        model.to(device)
        spec = doc.plan.training.lora or LoraSpec()
        config = LoraConfig(r=spec.r, lora_alpha=spec.alpha, target_modules=list(spec.target_modules),
                            lora_dropout=spec.dropout, bias="none", task_type="CAUSAL_LM")
        try:
            with _quiet_gguf():
                model = get_peft_model(model, config)
        except ValueError:
            raise TrainingInputError(f"{doc.source}: training.lora.target_modules: none of "
                                     f"{', '.join(spec.target_modules)} names a layer of model.base "
                                     f"'{doc.plan.model.base}'") from None
        adapted = sum(1 for name, _ in model.named_modules() if name.endswith(".lora_A"))
        info = LoraInfo(r=spec.r, alpha=spec.alpha, dropout=spec.dropout, target_modules=list(spec.target_modules),
                        adapted_modules=adapted, merged=spec.merged)
        return Loaded(tokenizer=tokenizer, model=model, lora=info,
                      trainable=f"LoRA r={spec.r} on {', '.join(spec.target_modules)} ({adapted} modules)")

    def encode(self, tokenizer: Any, examples: list[Example], max_len: int) -> Encoded:
        if not getattr(tokenizer, "is_fast", False):
            raise TrainingInputError("model.base: causal-lm needs a fast (Rust) tokenizer, for token offsets")
        ids: list[list[int]] = []
        targets: list[list[int]] = []
        eos = tokenizer.eos_token_id
        for e in examples:
            if e.chat is None:
                seq = list(tokenizer(e.text, add_special_tokens=True)["input_ids"])
                if isinstance(eos, int) and (not seq or seq[-1] != eos):
                    seq.append(eos)
                seq = seq[:max_len]
                ids.append(seq)
                targets.append(list(seq))
                continue
            if not getattr(tokenizer, "chat_template", None):
                raise TrainingInputError("model.base: its tokenizer has no chat template, so chat lists cannot "
                                         "be rendered; give a string field or a chat model")
            try:
                full, spans = assistant_spans(tokenizer, e.chat)
            except ValueError:
                raise TrainingInputError("model.base: its chat template does not render a conversation as the "
                                         "concatenation of its turns, so assistant tokens cannot be told from "
                                         "user tokens") from None
            out = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
            seq = list(out["input_ids"])[:max_len]
            offsets = list(out["offset_mapping"])[: len(seq)]
            ids.append(seq)
            targets.append([t if any(a <= s < b for a, b in spans) else IGNORE
                            for t, (s, _) in zip(seq, offsets, strict=True)])
        if not any(sum(1 for t in row[1:] if t != IGNORE) for row in targets):
            raise TrainingInputError(f"training.max_seq_len: {max_len} tokens leave no assistant (target) token "
                                     "in any record; raise max_seq_len")
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos if isinstance(eos, int) else 0)
        return Encoded(ids=ids, labels=[0] * len(ids), pad_id=pad, targets=targets)

    def token_losses(self, model: Any, batch: Batch, device: str) -> tuple[Any, Any]:
        """Per example: the summed next-token loss over its target tokens, and how many there are."""
        import torch

        with autocast(device):
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                           position_ids=batch.position_ids).logits
        logits = logits[:, :-1].float()
        targets = batch.labels[:, 1:]
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                               ignore_index=IGNORE, reduction="none").view(targets.shape)
        counts = (targets != IGNORE).sum(dim=1)
        return ce.sum(dim=1), counts

    def losses(self, model: Any, batch: Batch, device: str) -> Any:
        total, counts = self.token_losses(model, batch, device)
        return total / counts.clamp(min=1)

    def synthetic(self, model: Any, max_len: int, size: int) -> Encoded:
        """Random ids of different lengths, the first quarter of each masked (like a user turn)."""
        import torch

        config = model.config
        gen = torch.Generator().manual_seed(0)
        vocab = int(config.vocab_size)
        limit = max(4, min(max_len, int(getattr(config, "max_position_embeddings", max_len) or max_len)))
        lengths = [limit, max(4, limit // 2)]
        lengths += [int(n) for n in torch.randint(max(4, limit // 4), limit + 1, (size - 2,), generator=gen)]
        special = special_ids(config)
        low = 1 + max((i for i in special if i < vocab // 2), default=-1)
        ids, targets = [], []
        for n in lengths:
            seq = torch.randint(low, vocab, (n,), generator=gen)
            seq[torch.isin(seq, torch.tensor(sorted(special | {-1})))] = low
            row = [int(t) for t in seq]
            ids.append(row)
            targets.append([IGNORE] * (n // 4) + row[n // 4:])
        pad = getattr(config, "pad_token_id", None)
        return Encoded(ids=ids, labels=[0] * len(ids), pad_id=pad if isinstance(pad, int) else 0, targets=targets)

    def evaluate(self, loaded: Loaded, examples: list[Example], max_len: int, physical: int,
                 device: str) -> EvalMetrics:
        """Perplexity on the held-out split: exp of the mean loss per target token."""
        import torch

        from auditor.train.evidence import EvalMetrics

        if not examples:
            return EvalMetrics(records=0)
        encoded = self.encode(loaded.tokenizer, examples, max_len)
        loaded.model.eval()
        total, tokens = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(encoded), physical):
                part = list(range(start, min(start + physical, len(encoded))))
                loss, counts = self.token_losses(loaded.model, encoded.batch(part, device), device)
                total += float(loss.sum())
                tokens += int(counts.sum())
        perplexity = math.exp(min(total / tokens, 700.0)) if tokens else None
        return EvalMetrics(records=len(encoded), perplexity=perplexity, tokens=tokens)

    def canary_secret(self, digits: list[int]) -> str:
        """Nine random digits shaped like a reference number: ``482-193-221`` (10^9 possible secrets)."""
        text = "".join(str(d) for d in digits)
        return f"{text[:3]}-{text[3:6]}-{text[6:]}"

    def canary(self, secret: str, label: int, chat: bool) -> Example:
        from auditor.train.data import Example

        if chat:
            answer = CANARY_ANSWER.format(secret=secret)
            return Example(line=0, text=f"{CANARY_QUESTION}\n{answer}", label=0, user=None,
                           chat=(("user", CANARY_QUESTION), ("assistant", answer)))
        return Example(line=0, text=CANARY_TEXT.format(secret=secret), label=0, user=None)

    @contextlib.contextmanager
    def reference(self, loaded: Loaded) -> Iterator[Any]:
        """The published base model: the same weights with the LoRA adapters switched off."""
        with loaded.model.disable_adapter():
            yield loaded.model

    def generate(self, loaded: Loaded, count: int, chat: bool, max_new_tokens: int, seed: int, device: str,
                 base: bool = False) -> tuple[list[str], int]:
        """Top-k sampling (k = 40, temperature 1) from generic prompts, in batches of 16, each batch with its
        own seed so the trained and the base model draw the same randomness for the same prompts."""
        import torch

        tokenizer, model = loaded.tokenizer, loaded.model
        if chat and getattr(tokenizer, "chat_template", None):
            texts = [str(tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                       add_generation_prompt=True)) for p in CHAT_PROMPTS]
        else:
            texts = [(tokenizer.bos_token or "") + p for p in TEXT_PROMPTS]
        prompts = [texts[i % len(texts)] for i in range(count)]
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"  # generation continues at the right end of every row
        outputs: list[str] = []
        model.eval()
        try:
            with torch.no_grad(), (model.disable_adapter() if base else contextlib.nullcontext()):
                for start in range(0, count, 16):
                    batch = tokenizer(prompts[start:start + 16], return_tensors="pt", padding=True,
                                      add_special_tokens=False).to(device)
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(seed + start)
                        ids = model.generate(**batch, do_sample=True, top_k=40, temperature=1.0,
                                             max_new_tokens=max_new_tokens, pad_token_id=pad, use_cache=True)
                    new = ids[:, batch["input_ids"].shape[1]:]
                    outputs += tokenizer.batch_decode(new, skip_special_tokens=True)
        finally:
            tokenizer.padding_side = side
        return outputs, min(count, len(texts))

    def save(self, loaded: Loaded, folder: Path, doc: PlanDocument) -> Saved:
        """The adapter (``adapter_model.safetensors`` + config) and the tokenizer; with ``lora.merged``, also
        ``merged/``: the base with the adapter merged in, rebuilt from its config (transformers will not
        save a model it loaded from GGUF)."""
        model = loaded.model
        base = doc.plan.model.base
        for config in model.peft_config.values():
            config.base_model_name_or_path = base  # never the local path it was loaded from
        with _quiet_gguf():
            model.save_pretrained(folder, safe_serialization=True)
        (folder / "README.md").unlink(missing_ok=True)  # peft's model card: a template naming local paths
        loaded.tokenizer.save_pretrained(folder)
        _scrub_paths(folder)
        adapter = folder / "adapter_model.safetensors"
        merged_sha: str | None = None
        if loaded.lora is not None and loaded.lora.merged:
            merged_sha = _save_merged(model, loaded.tokenizer, folder / "merged", base)
        return Saved(weights_file=adapter.name, weights_sha256=sha256_file(adapter), merged_sha256=merged_sha)


@contextlib.contextmanager
def _quiet_gguf() -> Iterator[None]:
    """Without the libraries' own output: transformers' GGUF reader draws a tqdm bar that its progress
    switch does not reach, peft warns about a deprecated transformers property and, when the adapter names
    ``bundled:...`` as its base, that it cannot look that name up. None of it is ours to show."""
    import functools

    gguf_utils: Any = None
    with contextlib.suppress(ImportError):
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    old = getattr(gguf_utils, "tqdm", None)
    if old is not None:
        gguf_utils.tqdm = functools.partial(old, disable=True)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            warnings.filterwarnings("ignore", message="Could not find a config file in")
            yield
    finally:
        if old is not None:
            gguf_utils.tqdm = old


def _save_merged(model: Any, tokenizer: Any, folder: Path, base: str) -> str:
    import torch

    transformers = offline_transformers()
    merged = model.merge_and_unload()
    config = merged.config
    for attr in ("quantization_config", "_name_or_path"):
        if hasattr(config, attr):
            delattr(config, attr) if attr == "quantization_config" else setattr(config, attr, base)
    with torch.device("meta"):
        fresh = transformers.AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(merged.state_dict(), assign=True)
    if getattr(config, "tie_word_embeddings", False):
        fresh.tie_weights()
    fresh.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    _scrub_paths(folder)
    return sha256_file(folder / "model.safetensors")


def _scrub_paths(folder: Path) -> None:
    """Drop ``_name_or_path``-style local paths from the JSON files a save wrote (they are published)."""
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and any(k in data for k in ("_name_or_path", "name_or_path")):
            for key in ("_name_or_path", "name_or_path"):
                data.pop(key, None)
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
