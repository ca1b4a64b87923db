"""Sequence classification: a new head over an encoder (the bundled MiniLM), trained on labelled texts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from auditor.errors import TrainingInputError
from auditor.fsutil import sha256_file
from auditor.scan.read import extract
from auditor.train.encoded import Batch, Encoded, autocast
from auditor.train.model import ModelSource, offline_transformers, special_ids
from auditor.train.tasks.base import Chat, Loaded, Saved, Task

if TYPE_CHECKING:
    from auditor.plan import PlanDocument
    from auditor.train.data import Example
    from auditor.train.evidence import EvalMetrics


#: Canary vocabulary: 100 plain words, so a canary is twelve of them in random order (100^12 ≈ 2^80 texts).
CANARY_WORDS = (
    "amber", "anchor", "apple", "arrow", "atlas", "badge", "basket", "beacon", "birch", "blanket", "bottle",
    "bridge", "bucket", "button", "cabin", "camel", "candle", "canyon", "carpet", "castle", "cedar", "chalk",
    "cherry", "circle", "cloud", "clover", "comet", "copper", "cotton", "crystal", "daisy", "desert", "dolphin",
    "eagle", "ember", "engine", "falcon", "feather", "fern", "field", "forest", "fossil", "garden", "glacier",
    "granite", "harbor", "hazel", "helmet", "island", "ivory", "jacket", "jasmine", "kettle", "lantern",
    "lemon", "linen", "maple", "marble", "meadow", "mirror", "monsoon", "needle", "nickel", "oasis", "olive",
    "orbit", "orchid", "otter", "paddle", "parrot", "pebble", "pepper", "pillow", "planet", "quartz", "rabbit",
    "raven", "ribbon", "river", "saddle", "salmon", "satin", "shadow", "silver", "spruce", "summit", "thistle",
    "thunder", "timber", "tulip", "valley", "velvet", "violet", "walnut", "willow", "window", "winter",
    "yarrow", "zephyr", "zinc",
)


def forward(model: Any, batch: Batch, device: str) -> Any:
    """Logits in fp32; on CUDA the forward runs under bf16 autocast (clipping and noise stay fp32)."""
    with autocast(device):
        return model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                     token_type_ids=batch.token_type_ids, position_ids=batch.position_ids).logits.float()


def label_of(path: Path, number: int, row: dict[str, Any], field: str, num_labels: int) -> int:
    """The integer class of one row; every error names the line and the field, never the value (a
    mislabelled column can hold an identifier)."""
    if field not in row or row[field] in (None, ""):
        raise TrainingInputError(f"{path}:{number}: no label field '{field}'")
    raw = row[field]
    try:
        if isinstance(raw, bool):
            raise ValueError
        label = int(raw)
        if isinstance(raw, float) and raw != label:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise TrainingInputError(f"{path}:{number}: label field '{field}' is not an integer") from None
    if not 0 <= label < num_labels:
        raise TrainingInputError(f"{path}:{number}: label field '{field}' is outside 0..{num_labels - 1} "
                                 f"(model.num_labels is {num_labels})")
    return label


class SequenceClassification(Task):
    name: ClassVar[str] = "sequence-classification"
    canary_digits: ClassVar[int] = 24  # twelve words, two digits each

    def record(self, doc: PlanDocument, number: int, row: dict[str, Any]) -> tuple[str, int, Chat | None]:
        spec = doc.plan.dataset
        if spec.label_field is None:
            raise TrainingInputError(f"{doc.source}: dataset.label_field: training needs a label field "
                                     "(sequence classification)")
        label = label_of(doc.dataset_path, number, row, spec.label_field, doc.plan.model.num_labels)
        parts = [text for f in spec.text_fields for _, text in extract(row, f.split(".")) if text]
        return " ".join(parts), label, None

    def load(self, doc: PlanDocument, source: ModelSource, device: str) -> Loaded:
        """Tokenizer and a classifier with a new head, offline only; unknown models are one clear line."""
        transformers = offline_transformers()
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(source.path, local_files_only=True,
                                                                   gguf_file=source.gguf_file)
            model = transformers.AutoModelForSequenceClassification.from_pretrained(
                source.path, num_labels=doc.plan.model.num_labels, local_files_only=True,
                gguf_file=source.gguf_file)
        except (OSError, ValueError) as exc:
            raise TrainingInputError(f"{doc.source}: model.base: cannot load '{doc.plan.model.base}' offline "
                                     f"({type(exc).__name__}); give a local model directory") from None
        trainable = freeze_lower_layers(model, doc.plan.training.trainable_layers)
        model.to(device)
        return Loaded(tokenizer=tokenizer, model=model, trainable=trainable)

    def encode(self, tokenizer: Any, examples: list[Example], max_len: int) -> Encoded:
        out = tokenizer([e.text for e in examples], truncation=True, max_length=max_len, padding=False)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        return Encoded(ids=[list(x) for x in out["input_ids"]], labels=[e.label for e in examples], pad_id=pad)

    def losses(self, model: Any, batch: Batch, device: str) -> Any:
        import torch

        return torch.nn.functional.cross_entropy(forward(model, batch, device), batch.labels, reduction="none")

    def synthetic(self, model: Any, max_len: int, size: int) -> Encoded:
        """Random ids, lengths ≤ min(max_len, max_position_embeddings - 2) (RoBERTa-style position offsets),
        the longest at the limit and one at half of it, random labels."""
        import torch

        config = model.config
        gen = torch.Generator().manual_seed(0)
        vocab = int(config.vocab_size)
        limit = max(1, min(max_len, int(getattr(config, "max_position_embeddings", max_len) or max_len) - 2))
        lengths = [limit, max(1, limit // 2)]
        lengths += [int(n) for n in torch.randint(max(1, limit // 4), limit + 1, (size - 2,), generator=gen)]
        special = special_ids(config)
        low = 1 + max((i for i in special if i < vocab // 2), default=-1)
        ids = []
        for n in lengths:
            seq = torch.randint(low, vocab, (n,), generator=gen)
            seq[torch.isin(seq, torch.tensor(sorted(special | {-1})))] = low
            ids.append([int(t) for t in seq])
        labels = [int(y) for y in torch.randint(0, int(config.num_labels), (size,), generator=gen)]
        pad = getattr(config, "pad_token_id", None)
        return Encoded(ids=ids, labels=labels, pad_id=pad if isinstance(pad, int) else 0)

    def evaluate(self, loaded: Loaded, examples: list[Example], max_len: int, physical: int,
                 device: str) -> EvalMetrics:
        """Accuracy and macro-F1 on the held-out split."""
        import torch

        from auditor.train.evidence import EvalMetrics

        if not examples:
            return EvalMetrics(records=0)
        encoded = self.encode(loaded.tokenizer, examples, max_len)
        model = loaded.model
        model.eval()
        predictions: list[int] = []
        with torch.no_grad():
            for start in range(0, len(encoded), physical * 2):
                part = list(range(start, min(start + physical * 2, len(encoded))))
                predictions += forward(model, encoded.batch(part, device), device).argmax(-1).tolist()
        labels = encoded.labels
        pairs = list(zip(predictions, labels, strict=True))
        accuracy = sum(int(p == y) for p, y in pairs) / len(labels)
        f1s = []
        for c in range(int(model.config.num_labels)):
            tp = sum(1 for p, y in pairs if p == c and y == c)
            fp = sum(1 for p, y in pairs if p == c and y != c)
            fn = sum(1 for p, y in pairs if p != c and y == c)
            if tp + fp + fn:
                f1s.append(2 * tp / (2 * tp + fp + fn))
        return EvalMetrics(records=len(labels), accuracy=accuracy,
                           macro_f1=sum(f1s) / len(f1s) if f1s else None)

    def canary_secret(self, digits: list[int]) -> str:
        """Twelve random words: a text no real record holds, whose random label only memorisation fits."""
        return " ".join(CANARY_WORDS[10 * a + b] for a, b in zip(digits[::2], digits[1::2], strict=True))

    def canary_shape(self, chat: bool) -> str:
        return f"twelve random words from a fixed list of {len(CANARY_WORDS)}, with a random label"

    def canary(self, secret: str, label: int, chat: bool) -> Example:
        from auditor.train.data import Example

        return Example(line=0, text=secret, label=label, user=None)

    def save(self, loaded: Loaded, folder: Path, doc: PlanDocument) -> Saved:
        loaded.model.save_pretrained(folder, safe_serialization=True)
        loaded.tokenizer.save_pretrained(folder)
        weights = folder / "model.safetensors"
        return Saved(weights_file=weights.name, weights_sha256=sha256_file(weights) if weights.is_file() else "")


def freeze_lower_layers(model: Any, trainable_layers: int | None) -> str:
    """Train only the top ``trainable_layers`` encoder layers plus pooler and head; returns a description.

    Frozen parameters get no per-sample gradients, so the DP cost shrinks with them while the guarantee is
    unchanged: only trainable parameters are released, and their per-sample gradients are clipped.
    """
    if trainable_layers is None:
        return "all"
    base = getattr(model, model.base_model_prefix, None)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if layers is None:
        raise TrainingInputError("training.trainable_layers: this model has no encoder layer list to freeze")
    layers = list(layers)
    keep = {id(p) for layer in layers[len(layers) - trainable_layers:] for p in layer.parameters()}
    for p in model.parameters():
        p.requires_grad = id(p) in keep
    head_params = [p for name, p in model.named_parameters() if not name.startswith(model.base_model_prefix)]
    pooler = getattr(base, "pooler", None)
    for p in head_params + (list(pooler.parameters()) if pooler is not None else []):
        p.requires_grad = True
    return f"top {trainable_layers} of {len(layers)} encoder layers + head"
