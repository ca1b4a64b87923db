"""How the DP mechanism is attached to a model, and the non-private loop it replaces when no policy asks
for DP. Split from :mod:`auditor.train.api` so the run's orchestration reads in one sitting."""

from __future__ import annotations

from typing import Any

from auditor.errors import TrainingInputError
from auditor.train.encoded import Encoded
from auditor.train.tasks.base import Task

FALLBACKS = {"bookkeeping": ("bookkeeping", "ghost", "hooks"), "ghost": ("ghost", "hooks"), "hooks": ("hooks",)}


def attach_dp(model: Any, optimizer: Any, requested: str, task: Task, *, reference: Any = None,
               device: str = "cpu", base: str = "", **kwargs: Any) -> tuple[Any, str, str | None]:
    """The requested clipping mode, else the next one that attaches *and* passes the probe; the reasons are
    kept for the evidence.

    Every mode clips each example's whole gradient to the same C, so a fallback changes speed, never the
    guarantee. A mode whose per-example norms differ from ``reference`` (:func:`probe.check_independence`,
    taken before any DP was attached) is detached and the next one tried; the last failing the probe
    refuses the run (exit 2) before any ε is reserved; the last failing to attach propagates.
    """
    from auditor.train import finetune, probe

    reasons: list[str] = []
    chain = tuple(m for m in FALLBACKS[requested] if m in task.clipping_modes) or task.clipping_modes[-1:]
    if chain[0] != requested:
        reasons.append(f"{requested} clipping is not offered for {task.name}")
    for mode in chain:
        try:
            dp = finetune.make_private(model, optimizer, mode=mode, **kwargs)
        except Exception as exc:  # a layer type the mode cannot clip: try the next, and say so
            if mode == chain[-1]:
                raise
            reasons.append(f"{mode} clipping unsupported ({exc if str(exc) else type(exc).__name__})")
            continue
        if reference is not None:
            try:
                probe.check_norms(model, task, dp, reference, device)
            except probe.ProbeFailed as failed:
                dp.hooks.cleanup()
                reasons.append(failed.reason)
                if mode == chain[-1]:
                    raise TrainingInputError(
                        f"{base}: no clipping mode bounds this model's per-example gradients, so DP-SGD cannot "
                        f"guarantee ε; refused before any ε was reserved ({'; '.join(reasons)})") from None
                continue
        return dp, mode, ("; ".join(reasons) + f"; used {mode}") if reasons else None
    raise AssertionError("unreachable: the last mode either attaches, passes the probe, or raises")


def plain_loop(model: Any, task: Task, optimizer: Any, data: Encoded, physical: int, steps: int,
                batch_size: int, device: str, seed: int) -> int:
    """Non-private training (only when no policy requires DP and the plan says ``mechanism: none``)."""
    import torch

    from auditor.train import finetune

    generator = torch.Generator().manual_seed(seed)
    n = len(data)
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            order += torch.randperm(n, generator=generator).tolist()
        batch, order = order[:batch_size], order[batch_size:]
        for part in finetune.chunks(batch, physical):
            loss = task.losses(model, data.batch(part, device), device).sum() / len(batch)
            loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return steps
