"""Per-example losses of the trained model (and of the base model, where the task can switch back to it).

A loss is the attacker's basic signal (Yeom et al. 2018): training lowers the loss of what was trained on.
Calibrating it against the base model's loss on the same example (Carlini et al. 2022, "Membership
inference attacks from first principles", in its simplest reference form) removes how easy the example
is for any model, leaving what fine-tuning added. Scores run in eval mode without gradients, batch by batch;
none of them is kept beyond the audit's aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.train.data import Example
    from auditor.train.tasks.base import Loaded, Task


def losses(task: Task, model: Any, tokenizer: Any, examples: Sequence[Example], *, max_len: int, batch: int,
           device: str) -> list[float]:
    """The task's own per-example loss (the one DP-SGD clipped), for each example, in order."""
    import torch

    if not examples:
        return []
    encoded = task.encode(tokenizer, list(examples), max_len)
    model.eval()
    out: list[float] = []
    with torch.no_grad():
        for start in range(0, len(encoded), batch):
            part = list(range(start, min(start + batch, len(encoded))))
            out += [float(x) for x in task.losses(model, encoded.batch(part, device), device).float().cpu()]
    return out


def scores(task: Task, loaded: Loaded, examples: Sequence[Example], *, max_len: int, batch: int,
           device: str) -> tuple[list[float], list[float] | None]:
    """Membership scores (higher = more likely trained on) and, where the task has a base model, the base
    model's own scores (its negative losses), for the control that it cannot tell members apart.

    With a base model the score is ``base loss − trained loss``, else ``− trained loss``."""
    trained = losses(task, loaded.model, loaded.tokenizer, examples, max_len=max_len, batch=batch, device=device)
    with task.reference(loaded) as base_model:
        if base_model is None:
            return [-x for x in trained], None
        base = losses(task, base_model, loaded.tokenizer, examples, max_len=max_len, batch=batch, device=device)
    return [b - t for b, t in zip(base, trained, strict=True)], [-b for b in base]
