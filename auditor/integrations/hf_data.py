"""The Trainer integration's data, in the shapes both sides need.

* :class:`EncodedRows` and :class:`EncodedCollator`: the plan's records, encoded exactly as ``auditor train``
  encodes them (:meth:`Task.encode`), as a torch ``Dataset`` and a collator, so ``trainer.train_dataset`` and
  ``trainer.evaluate()`` work on them. The DP loop itself reads the same :class:`Encoded` directly.
* :class:`CollatedRows`: a caller's own ``train_dataset`` and ``data_collator`` as the DP loop reads data
  (``len()`` and ``batch(indices, device)``), so the loop, the sampler and the clipping are the ones
  ``auditor train`` runs; only where a physical batch's tensors come from differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from auditor.errors import TrainingInputError
from auditor.train.encoded import IGNORE, Batch, Encoded


class EncodedRows:
    """One row per encoded example: ``input_ids`` and ``labels`` (a class, or per-token targets)."""

    def __init__(self, encoded: Encoded) -> None:
        self.encoded = encoded

    def __len__(self) -> int:
        return len(self.encoded)

    def __getitem__(self, index: int) -> dict[str, Any]:
        labels: Any = self.encoded.targets[index] if self.encoded.targets is not None else self.encoded.labels[index]
        return {"input_ids": self.encoded.ids[index], "labels": labels}


class EncodedCollator:
    """Pads rows of :class:`EncodedRows` with :meth:`Encoded.batch`: the padding, masks and per-example
    position ids of the DP loop's own batches."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        per_token = bool(rows) and isinstance(rows[0]["labels"], list)
        encoded = Encoded(ids=[list(r["input_ids"]) for r in rows],
                          labels=[0 if per_token else int(r["labels"]) for r in rows], pad_id=self.pad_id,
                          targets=[list(r["labels"]) for r in rows] if per_token else None)
        batch = encoded.batch(list(range(len(rows))), "cpu")
        return {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
                "position_ids": batch.position_ids, "labels": batch.labels}


class CollatedRows(Encoded):
    """A caller's dataset as the DP loop reads data: ``len()`` rows, and ``batch()`` collating the rows at
    the sampled indices with the caller's collator. The rows' ids are never copied into the base class:
    ``finetune.dp_loop`` reads only these two methods."""

    def __init__(self, dataset: Any, collator: Callable[[list[Any]], Any], per_token: bool) -> None:
        super().__init__(ids=[], labels=[], pad_id=0)
        self.dataset, self.collator, self.per_token = dataset, collator, per_token

    def __len__(self) -> int:
        return len(self.dataset)

    def batch(self, indices: list[int], device: str) -> Batch:
        return to_batch(self.collator([self.dataset[i] for i in indices]), self.per_token, device)


def to_batch(collated: Any, per_token: bool, device: str) -> Batch:
    """A collated mapping as the tasks' ``losses`` read it. Position ids are made per example (shape
    ``[B, T]``) when the collator gives none: Hugging Face's shared buffer (batch dimension 1) breaks
    per-sample gradients. Errors name the key, never a value."""
    import torch

    if "input_ids" not in collated:
        raise TrainingInputError("train_dataset: the collated batch has no 'input_ids'")
    ids = torch.as_tensor(collated["input_ids"])
    if ids.dim() != 2:
        raise TrainingInputError(f"train_dataset: 'input_ids' has {ids.dim()} dimensions, not [batch, tokens] "
                                 "(packed or padding-free batches put several records in one row: refused)")
    labels = collated.get("labels", collated.get("label"))
    if labels is None:
        raise TrainingInputError("train_dataset: the collated batch has no 'labels'; each row needs its label "
                                 "(a class, or per-token targets with -100 where no loss is taken)")
    labels = torch.as_tensor(labels)
    if per_token and labels.shape != ids.shape:
        raise TrainingInputError(f"train_dataset: 'labels' has shape {tuple(labels.shape)}, not that of "
                                 f"'input_ids' {tuple(ids.shape)} (causal-lm takes per-token targets)")
    if not per_token and labels.shape != ids.shape[:1]:
        raise TrainingInputError(f"train_dataset: 'labels' has shape {tuple(labels.shape)}, not one class per row "
                                 "(sequence-classification)")
    mask = torch.as_tensor(collated["attention_mask"]) if collated.get("attention_mask") is not None else \
        torch.ones_like(ids)
    types = collated.get("token_type_ids")
    positions = collated.get("position_ids")
    if positions is None:
        positions = torch.arange(ids.shape[1], dtype=torch.long).expand(ids.shape[0], ids.shape[1]).clone()
    if per_token:
        labels = labels.masked_fill(mask == 0, IGNORE)  # never a target on padding
    return Batch(input_ids=ids.long().to(device), attention_mask=mask.long().to(device),
                 token_type_ids=(torch.as_tensor(types) if types is not None else torch.zeros_like(ids)).long()
                 .to(device), position_ids=torch.as_tensor(positions).long().to(device),
                 labels=labels.long().to(device))
