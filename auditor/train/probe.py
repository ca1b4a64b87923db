"""A probe, run before any ε is reserved, that refuses models the per-example clipping cannot bound.

DP-SGD's sensitivity is C only if each example's gradient is clipped to C *whatever the other examples in
its batch are*. Two things break that silently, and neither shows in a loss curve:

* the batched forward mixes examples (batch statistics, a batch-wide mean, HF XLM in transformers 5.x):
  then one example moves every other example's gradient and no clipping mode can bound it (``fatal``);
* a clipping mode computes the wrong per-example norms for a layer (a seq-first layer that Opacus' hooks
  read batch-first): then the clip factors are wrong; another mode may still get them right.

Both are checked on a small synthetic batch (random ids, fixed local generator: this randomness is not part
of the mechanism, so it is seeded; no data value can reach a message), through the task's ``losses`` and
``dp.reduce`` so the probe runs the training forward and loss. It runs in fp32 even on CUDA, because
bf16 rounding would hide a small mixing or refuse a sound model. Modules that hold parameters or float
buffers stay in training mode (where Opacus' hooks look and batch statistics live); every other module goes
to eval, which switches off dropout however it is written -- HF attention asks its own ``self.training``,
not its ``nn.Dropout`` child's. Mixing done only in train mode by a module that holds neither is not seen.

How ``attach.attach_dp`` uses it (it must not reserve or train before this returns)::

    reference = probe.check_independence(model, task, device, max_len=...)  # once, before DP;
    #   ProbeFailed (always fatal) -> TrainingInputError naming model.base (exit 2)
    for mode in chain:                # each mode: attach, then check_norms(model, task, dp, reference, device)
        #   ProbeFailed -> dp.hooks.cleanup(), record the reason, try the next mode; the last one -> refuse

The probe leaves what it found: no optimizer step (so nothing reaches the accountant), gradients restored,
``grad_sample`` and the book-kept tensors cleared, module modes and the global RNG state restored. It also
removes what Opacus' ``cleanup()`` leaves on modules (``activations``, ``max_batch_len``), so after a failed
probe the next mode starts clean.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from auditor.train.encoded import Encoded
from auditor.train.finetune import DpHandles
from auditor.train.tasks.base import Task

BATCH = 5                   # examples in the synthetic batch, of different lengths (so some are padded)
MAX_BATCH = 32              # the probe batch follows the physical batch up to this (one-by-one passes cost)
LOGITS_TOL = (1e-4, 1e-5)   # (rtol, atol) on losses, fp32: padding changes a sound model by rounding only
NORMS_TOL = (1e-3, 1e-6)    # MiniLM: relative errors below 1e-5 in all three modes


class ProbeFailed(Exception):
    """The model or the clipping mode cannot bound each example's gradient; ``reason`` is one line, safe to
    print (shapes, exception types, errors on synthetic data, never a data value). ``fatal``: no other
    clipping mode can help (the examples mix, or the plain forward cannot be checked)."""

    def __init__(self, reason: str, *, fatal: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal


@dataclass(frozen=True)
class Reference:
    """The synthetic batch and each example's gradient norm by plain autograd, one example at a time, taken
    before DP is attached so no DP hook can touch it; every mode is compared against the same numbers."""

    data: Encoded
    norms: Any                    # (BATCH,) fp32 on the CPU
    params: tuple[int, ...]       # ids of the trainable parameters the norms are over


def check_independence(model: Any, task: Task, device: str, *, max_len: int, size: int = 0) -> Reference:
    """Each example's loss in the padded batch must be its loss alone; run before DP is attached. ``size``
    (at least the default handful) should be the run's physical batch, up to a cap: a model may mix examples
    only in batches as large as the training's."""
    import torch

    data = task.synthetic(model, max_len, max(size, BATCH))
    params = _trainable(model)
    everyone = list(range(len(data)))
    norms, worst, mixed = [], 0.0, False
    with _probing(model, device):
        try:
            batch = data.batch(everyone, device)
            with torch.no_grad():
                first = task.losses(model, batch, _fp32(device))
                again = task.losses(model, batch, _fp32(device))
            if tuple(first.shape) != (len(everyone),):
                raise ProbeFailed(f"the task's loss has shape {tuple(first.shape)} for {len(everyone)} examples, "
                                  "not one loss per example", fatal=True)
            if _excess(again, first, LOGITS_TOL) > 0:
                raise ProbeFailed("the training forward is random even with dropout off, so the probe cannot "
                                  "tell whether examples mix", fatal=True)
            for i in everyone:
                loss = task.losses(model, data.batch([i], device), _fp32(device))
                mixed = mixed or _excess(loss[0].detach(), first[i], LOGITS_TOL) > 0
                worst = max(worst, float((loss[0].detach() - first[i]).abs()))
                grads = torch.autograd.grad(loss[0], params, allow_unused=True) if params else ()
                norms.append(_norm([g for g in grads if g is not None], loss))
        except ProbeFailed:
            raise
        except Exception as exc:  # a crash now would be a crash after ε is reserved
            raise ProbeFailed(f"the model's forward fails on a synthetic batch ({type(exc).__name__})",
                              fatal=True) from None
    if mixed:
        raise ProbeFailed(f"an example's loss changes by up to {worst:.2g} when it is batched with others: "
                          "the model mixes examples in a batch, so no per-example clipping bounds one "
                          "example's influence", fatal=True)
    return Reference(data=data, norms=torch.stack(norms).cpu(), params=tuple(id(p) for p in params))


def check_norms(model: Any, task: Task, dp: DpHandles, reference: Reference, device: str) -> None:
    """The attached mode's per-example gradient norms on the synthetic batch must be autograd's."""
    params = _trainable(model)
    if tuple(id(p) for p in params) != reference.params:
        raise ValueError("the trainable parameters changed between check_independence and check_norms")
    saved = [(p, p.grad) for p in model.parameters()]
    for p, _ in saved:
        p.grad = None  # so no backward below accumulates into a gradient we restore
    everyone = list(range(len(reference.data)))
    try:
        with _probing(model, device):
            batch = reference.data.batch(everyone, device)
            with dp.capture():
                loss = dp.reduce(task.losses(model, batch, _fp32(device)))
                loss.backward()
            got = _mode_norms(model, dp, params, len(everyone)).detach().float().cpu()
    except ProbeFailed:
        raise
    except Exception as exc:  # e.g. a shape error from a layer that is not batch-first
        raise ProbeFailed(f"{dp.mode} clipping fails on the probe batch ({type(exc).__name__})",
                          fatal=False) from None
    finally:
        _reset(model, dp, saved)
    if tuple(got.shape) != tuple(reference.norms.shape):
        raise ProbeFailed(f"{dp.mode} clipping computes {tuple(got.shape)} per-example norms for "
                          f"{len(everyone)} examples", fatal=False)
    rtol, atol = NORMS_TOL
    if not bool(((got - reference.norms).abs() <= atol + rtol * reference.norms).all()):
        error = float(((got - reference.norms).abs() / reference.norms.clamp(min=atol)).max())
        raise ProbeFailed(f"{dp.mode} clipping's per-example gradient norms differ from autograd's one "
                          f"example at a time (relative error up to {error:.2g}), so its clipping would not "
                          "bound each example's gradient by C", fatal=False)


def _mode_norms(model: Any, dp: DpHandles, params: list[Any], size: int) -> Any:
    """What the mode clips by: book-keeping's and ghost's norms, or the norms of hooks' ``grad_sample``."""
    import torch

    if dp.mode != "hooks":
        return dp.hooks.per_sample_gradient_norms  # ghost: a property that raises if no norms were computed
    names = {id(p): name for name, p in model.named_parameters()}
    per_param = []
    for p in params:
        sample = getattr(p, "grad_sample", None)
        if not isinstance(sample, torch.Tensor) or sample.shape[0] != size:
            shape = tuple(sample.shape) if isinstance(sample, torch.Tensor) else None
            raise ProbeFailed(f"hooks clipping gives '{names.get(id(p), '?')}' per-example gradients of shape "
                              f"{shape} for {size} examples", fatal=False)
        per_param.append(sample.reshape(size, -1).float().norm(dim=1))
    return torch.stack(per_param).norm(dim=0)


def _reset(model: Any, dp: DpHandles, saved: list[tuple[Any, Any]]) -> None:
    """Back to the state right after attaching. After a ProbeFailed the handles are only fit for
    ``cleanup()``; what that leaves on modules (Opacus' ``activations`` and ``max_batch_len``, which the next
    mode's hooks would read) is removed here, so a fallback starts clean."""
    dp.optimizer.zero_grad(set_to_none=True)  # grad_sample, summed_grad (no step was skipped), p.grad
    for p, grad in saved:
        p.grad = grad
    for p in model.parameters():
        if hasattr(p, "_norm_sample"):  # ghost's norms of the probe batch
            del p._norm_sample
    for m in model.modules():
        if type(getattr(m, "activations", None)) is list:
            del m.activations
        if type(getattr(m, "max_batch_len", None)) is int:  # left when a grad sampler raises mid-backward
            del m.max_batch_len
    if dp.mode in ("bookkeeping", "ghost"):
        dp.hooks.per_sample_gradient_norms = None


@contextlib.contextmanager
def _probing(model: Any, device: str) -> Iterator[None]:
    """Deterministic training mode (see the module docstring); modes and the global RNG restored after."""
    import torch

    modes = [(m, m.training) for m in model.modules()]
    gpus = list(range(torch.cuda.device_count())) if device.startswith("cuda") else []
    try:
        with torch.random.fork_rng(devices=gpus), torch.enable_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            for m, _ in modes:
                m.training = (any(True for _ in m.parameters(recurse=False))
                              or any(b.is_floating_point() for b in m.buffers(recurse=False)))
            yield
    finally:
        for m, mode in modes:
            m.training = mode


def _fp32(device: str) -> str:
    """The tasks' forwards autocast to bf16 for the device named ``cuda``; the same GPU named by its index
    runs the same forward in fp32."""
    import torch

    return f"cuda:{torch.cuda.current_device()}" if device == "cuda" else device


def _trainable(model: Any) -> list[Any]:
    return [p for p in model.parameters() if p.requires_grad]


def _excess(got: Any, want: Any, tol: tuple[float, float]) -> float:
    """How far ``got`` is outside ``want``'s tolerance (0 when inside)."""
    rtol, atol = tol
    return float(((got - want).abs() - atol - rtol * want.abs()).clamp(min=0).max())


def _norm(tensors: list[Any], like: Any) -> Any:
    total = like.new_zeros(())
    for t in tensors:
        total = total + t.float().square().sum()
    return total.sqrt()
