"""Token ids as the DP loop sees them: one list per example, padded per physical batch.

Task-agnostic on purpose: a classifier's examples carry one class each (``labels``), a causal LM's carry a
target per token (``targets``, :data:`IGNORE` where no loss is taken: padding, user turns). Position ids are
built per example (shape ``[B, T]``), because Hugging Face's shared ``position_ids`` buffer (batch
dimension 1) breaks per-sample gradient hooks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

IGNORE = -100  # torch's cross_entropy ignore_index: no loss at this position


@dataclass
class Batch:
    input_ids: Any
    attention_mask: Any
    token_type_ids: Any
    position_ids: Any
    labels: Any  # (B,) classes, or (B, T) per-token targets with IGNORE


@dataclass
class Encoded:
    """Token ids per example (unpadded); padded per physical batch so short texts cost less."""

    ids: list[list[int]]
    labels: list[int]
    pad_id: int
    targets: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, indices: list[int], device: str) -> Batch:
        import torch

        length = max(len(self.ids[i]) for i in indices)
        ids = torch.full((len(indices), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(indices), length), dtype=torch.long)
        for row, i in enumerate(indices):
            seq = self.ids[i]
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        positions = torch.arange(length, dtype=torch.long).expand(len(indices), length).clone()
        if self.targets is not None:
            labels = torch.full((len(indices), length), IGNORE, dtype=torch.long)
            for row, i in enumerate(indices):
                labels[row, : len(self.targets[i])] = torch.tensor(self.targets[i], dtype=torch.long)
        else:
            labels = torch.tensor([self.labels[i] for i in indices], dtype=torch.long)
        return Batch(input_ids=ids.to(device), attention_mask=mask.to(device),
                     token_type_ids=torch.zeros_like(ids).to(device), position_ids=positions.to(device),
                     labels=labels.to(device))


def autocast(device: str) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast for the device named ``cuda`` (clipping and noise stay fp32); fp32 elsewhere, and on a
    GPU named by its index (the probe's way of asking for an fp32 forward)."""
    import torch

    return torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else contextlib.nullcontext()
