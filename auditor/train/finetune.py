"""The DP-SGD loop: Poisson-sampled logical batches, per-sample clipping, noise, and ε checked every step.

Design choices that carry the guarantee:

* Batches are drawn here, not by a DataLoader: every privacy unit independently with probability
  q = 1/ceil(n/B) (the rate Opacus' accountant hook records), and for a person with several records one of
  them at random, so each person contributes at most one clipped gradient per step (sensitivity C). All of
  it, and the noise, comes from :class:`~auditor.privacy.randomness.MechanismRandom` -- a secret key per
  run -- never from the public seed. Its state is checkpointed (0600), so a resumed run continues the *same*
  sampling and the same accounting.
* The model stays a Hugging Face model (``wrap_model=False``); position and token-type ids are passed per
  sample, because HF's shared ``position_ids`` buffer (batch dimension 1) breaks per-sample gradients.
* Before every step, ε after that step is computed by both accountants; if the larger would pass the ε
  reserved for this run, the step is not taken (predictive stop). Opacus' own accountant hook stays
  attached; after each step its history is checked against our step count.
* Nothing computed from the private batch leaves the loop: no loss, no gradient norm, no batch size.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import InternalError, TrainingInputError
from auditor.privacy import accounting
from auditor.privacy.randomness import MechanismRandom, install_noise
from auditor.train.data import Example, Unit
from auditor.train.encoded import Batch, Encoded
from auditor.train.evidence import StepEpsilon
from auditor.train.tasks.base import Task

__all__ = ["CHECKPOINT", "Batch", "DpHandles", "Encoded", "LoopConfig", "LoopState", "UnitSampler", "dp_loop",
           "make_private"]

CHECKPOINT = "checkpoint.pt"


@dataclass
class DpHandles:
    engine: Any
    optimizer: Any
    criterion: Any
    hooks: Any
    mode: str
    fallback_reason: str | None = None

    def capture(self) -> contextlib.AbstractContextManager[None]:
        """Wrap one physical batch's forward and backward; book-keeping clips on the way out."""
        return self.hooks.capture() if self.mode == "bookkeeping" else contextlib.nullcontext()

    def reduce(self, losses: Any) -> Any:
        """The batch loss from each example's loss: their mean (``loss_reduction="mean"``, which every mode
        is set up for), or for ghost clipping Opacus' wrapper that runs its two backward passes."""
        return self.criterion(losses) if self.mode == "ghost" else losses.mean()


class PerExampleLoss:
    """The criterion handed to Opacus: the task already gives one loss per example, so it passes them through
    (``reduction`` is the attribute Opacus' ghost wrapper switches to ``"none"`` and back)."""

    reduction = "mean"

    def __call__(self, losses: Any) -> Any:
        return losses if self.reduction == "none" else losses.mean()


def make_private(model: Any, optimizer: Any, *, train_size: int, batch_size: int, sigma: float, clip: float,
                 mode: str, accountant: str, source: MechanismRandom, group: Any = None) -> DpHandles:
    """Opacus ``make_private`` with ``wrap_model=False``, in one of three clipping modes.

    ``bookkeeping`` takes Opacus' ghost-clipping optimizer (noise, scaling, accountant hook) and replaces
    only how the clipped sum is computed (:mod:`auditor.train.bookkeeping`); it raises
    :class:`~auditor.train.bookkeeping.Unsupported` before touching Opacus when a layer has no formula.
    The loader handed to Opacus only fixes q = 1/len(loader) and the expected batch size; batches are drawn
    by :class:`UnitSampler`, never from it. The noise is drawn from ``source`` (:func:`install_noise`).
    ``group``: a torchrun run's :class:`~auditor.train.distributed.Group` (DPDDP, noise on rank 0 only).
    """
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    from auditor.train import bookkeeping, distributed

    if mode == "bookkeeping":
        bookkeeping.check_supported(model)
    loader = DataLoader(TensorDataset(torch.zeros(train_size)), batch_size=batch_size)
    criterion = PerExampleLoss()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "secure RNG turned off": our own CSPRNG replaces Opacus' noise
        engine = PrivacyEngine(accountant=accountant)
        result = engine.make_private(module=distributed.wrap(model, group), optimizer=optimizer,
                                     criterion=criterion, data_loader=loader,
                                     noise_multiplier=sigma, max_grad_norm=clip, poisson_sampling=False,
                                     grad_sample_mode="ghost" if mode == "bookkeeping" else mode,
                                     wrap_model=False)
    if mode == "bookkeeping":
        ghost_hooks, dp_optimizer, _, _ = result
        ghost_hooks.cleanup()  # Opacus' norm hooks off; its optimizer and accountant hook stay
        hooks: Any = bookkeeping.BookkeepingHooks(model, max_grad_norm=clip, loss_reduction="mean")
        dp_criterion = criterion
    elif mode == "ghost":
        hooks, dp_optimizer, dp_criterion, _ = result
    else:
        hooks, dp_optimizer, _ = result
        dp_criterion = criterion
    install_noise(dp_optimizer, source, adds_noise=group is None or group.is_main)
    return DpHandles(engine=engine, optimizer=dp_optimizer, criterion=dp_criterion, hooks=hooks, mode=mode)


class UnitSampler:
    """One logical batch per call: each privacy unit with probability q, and one record of each sampled unit.

    ``groups[i]`` are the indices (into the encoded training records) of unit ``i``'s records; a record-level
    unit has one. Which units are sampled and which of a person's records is used are drawn from ``source``.
    """

    def __init__(self, groups: list[list[int]], sample_rate: float, source: MechanismRandom) -> None:
        self.groups, self.sample_rate, self.source = groups, sample_rate, source

    def __call__(self) -> list[int]:
        picked = self.source.bernoulli(len(self.groups), self.sample_rate)
        many = [i for i in picked if len(self.groups[i]) > 1]
        chosen = dict(zip(many, self.source.choices([len(self.groups[i]) for i in many]), strict=True))
        return [self.groups[i][chosen.get(i, 0)] for i in picked]


def unit_groups(units: list[Unit]) -> tuple[list[Example], list[list[int]]]:
    """The training records in order, and each unit's record indices among them."""
    examples: list[Example] = []
    groups: list[list[int]] = []
    for unit in units:
        groups.append(list(range(len(examples), len(examples) + len(unit.examples))))
        examples.extend(unit.examples)
    return examples, groups


def chunks(indices: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indices), size):
        yield indices[start: start + size]


@dataclass
class LoopState:
    """Everything a checkpoint holds; restoring it continues the same run and the same accounting."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    step: int = 0
    records: list[StepEpsilon] = field(default_factory=list)
    elapsed_s: float = 0.0


@dataclass
class LoopConfig:
    sigma: float
    sample_rate: float
    delta: float
    clip: float
    accountant: str
    planned_steps: int
    epsilon_cap: float
    physical_batch_size: int
    device: str
    checkpoint_dir: Path
    fingerprint: dict[str, Any]
    #: a torchrun run's :class:`~auditor.train.distributed.ShardedStep` (None: one process takes each batch)
    shard: Any = None


@dataclass
class LoopOutcome:
    state: LoopState
    stop_reason: str
    stop_detail: str


def save_checkpoint(cfg: LoopConfig, state: LoopState, model: Any, dp: DpHandles, source: MechanismRandom) -> None:
    """Atomic (temporary file, fsync, rename) and 0600 in a 0700 folder: it holds the mechanism's secret key,
    which would replay every sampled batch and every noise draw of the run."""
    import torch

    payload = {
        "fingerprint": cfg.fingerprint,
        "run_id": state.run_id, "step": state.step, "elapsed_s": state.elapsed_s,
        "records": [r.model_dump() for r in state.records],
        "model": {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad},
        "optimizer": dp.optimizer.original_optimizer.state_dict(),
        "accountant": dp.engine.accountant.state_dict(),
        "mechanism": source.state(),
        "torch_rng": torch.get_rng_state(),  # dropout only (public seed), not the mechanism
    }
    cfg.checkpoint_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(cfg.checkpoint_dir, 0o700)
    target = cfg.checkpoint_dir / CHECKPOINT
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``weights_only``: a checkpoint is tensors and plain values, so a planted pickle cannot run code."""
    import torch

    try:
        loaded: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(loaded, dict) or not {"fingerprint", "mechanism", "run_id", "step"} <= loaded.keys():
            raise ValueError("not an auditor checkpoint")
    except Exception as exc:  # a corrupt file of ours: say which, without a traceback
        raise TrainingInputError(f"{path}: checkpoint cannot be read ({type(exc).__name__})") from None
    return loaded


def checkpoint_source(checkpoint: dict[str, Any]) -> MechanismRandom:
    """The run's mechanism randomness, continued exactly where the checkpoint left it."""
    return MechanismRandom.from_state(checkpoint["mechanism"])


def restore(checkpoint: dict[str, Any], cfg: LoopConfig, model: Any, dp: DpHandles) -> LoopState:
    import torch

    from auditor.train.distributed import world_mismatch

    written, here = checkpoint["fingerprint"].get("world_size", 1), cfg.fingerprint.get("world_size", 1)
    if written != here:
        raise TrainingInputError(world_mismatch(written, here, cfg.checkpoint_dir / CHECKPOINT))
    for key, value in cfg.fingerprint.items():
        if checkpoint["fingerprint"].get(key) != value:
            raise TrainingInputError(f"{cfg.checkpoint_dir / CHECKPOINT}: cannot resume: {key} changed since "
                                     "the checkpoint (different plan, data or settings)")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in checkpoint["model"].items():
            params[name].copy_(value)
    dp.optimizer.original_optimizer.load_state_dict(checkpoint["optimizer"])
    dp.engine.accountant.load_state_dict(checkpoint["accountant"])
    torch.set_rng_state(checkpoint["torch_rng"])
    return LoopState(run_id=checkpoint["run_id"], step=checkpoint["step"], elapsed_s=checkpoint["elapsed_s"],
                     records=[StepEpsilon.model_validate(r) for r in checkpoint["records"]])


def opacus_steps(dp: DpHandles, cfg: LoopConfig) -> int:
    """Steps in Opacus' own accountant history, which must be all (σ, q) of this run: a lost or replaced
    accountant hook, or a different q than the one our sampler used, would make the reported ε wrong."""
    history = dp.engine.accountant.history
    if any(abs(sigma - cfg.sigma) > 1e-12 or abs(q - cfg.sample_rate) > 1e-12 for sigma, q, _ in history):
        raise InternalError(f"Opacus' accountant recorded (σ, q) = {history[-1][:2]}, the loop used "
                            f"({cfg.sigma}, {cfg.sample_rate})")
    return sum(int(steps) for _, _, steps in history)


def noise_only_step(dp: DpHandles, cfg: LoopConfig, source: MechanismRandom) -> None:
    """An empty Poisson batch still releases a noisy (all-noise) update, exactly as the accountant assumes."""
    opt = dp.optimizer
    params = list(opt.params)
    for p, noise in zip(params, source.normal_like([p.shape for p in params], cfg.sigma * cfg.clip), strict=True):
        p.grad = (noise / opt.expected_batch_size).to(p.device, p.dtype)
    opt.original_optimizer.step()
    opt.original_optimizer.zero_grad(set_to_none=True)
    dp.engine.accountant.step(noise_multiplier=cfg.sigma, sample_rate=cfg.sample_rate)


def dp_loop(cfg: LoopConfig, state: LoopState, model: Any, dp: DpHandles, data: Encoded, sampler: UnitSampler,
            on_step: Callable[[LoopState], None] | None = None, *, task: Task) -> LoopOutcome:
    """Run steps until the plan's steps are done or the next step would pass ``epsilon_cap``."""
    model.train()
    with warnings.catch_warnings():
        # Opacus' hooks on a frozen embedding fire torch's "Full backward hook ... no inputs require
        # gradients" on every backward pass; it is expected and would flood the output.
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        return _steps(cfg, state, model, dp, data, sampler, on_step, task)


def _steps(cfg: LoopConfig, state: LoopState, model: Any, dp: DpHandles, data: Encoded, sampler: UnitSampler,
           on_step: Callable[[LoopState], None] | None, task: Task) -> LoopOutcome:
    first = _snapshot(model) if state.step == 0 else None
    while state.step < cfg.planned_steps:
        started = time.perf_counter()
        nxt = accounting.epsilon_pair(cfg.sigma, cfg.sample_rate, state.step + 1, cfg.delta,
                                      cfg.accountant)  # type: ignore[arg-type]
        if nxt.enforced > cfg.epsilon_cap:
            return LoopOutcome(state, "budget_exhausted",
                               f"stopped before step {state.step + 1} of {cfg.planned_steps}: ε would reach "
                               f"{nxt.enforced:.4f} > {cfg.epsilon_cap:g}")
        indices = sampler()
        if cfg.shard is not None:  # several ranks: each takes its share of this one draw
            cfg.shard(dp, cfg, model, data, indices, task)
        elif not indices:
            noise_only_step(dp, cfg, sampler.source)
        else:
            logical_step(dp, cfg, model, data, indices, task)
        state.step += 1
        if opacus_steps(dp, cfg) != state.step:
            raise InternalError(f"Opacus' accountant recorded {opacus_steps(dp, cfg)} steps, the loop took "
                                f"{state.step}: the accounting hook was lost")
        state.records.append(StepEpsilon(step=state.step, epsilon_opacus=nxt.opacus, epsilon_pld=nxt.pld))
        if first is not None:  # after the record: the step was taken, so the ledger settles what it spent
            _check_changed(first)
            first = None
        state.elapsed_s += time.perf_counter() - started
        if cfg.shard is None or cfg.shard.is_main:  # every rank holds the same state: rank 0 writes it
            save_checkpoint(cfg, state, model, dp, sampler.source)
        if on_step is not None:
            on_step(state)
    return LoopOutcome(state, "completed", f"all {cfg.planned_steps} planned steps taken")


def logical_step(dp: DpHandles, cfg: LoopConfig, model: Any, data: Encoded, indices: list[int], task: Task) -> None:
    """One noisy update from these records, in physical batches whose clipped sums accumulate."""
    parts = list(chunks(indices, cfg.physical_batch_size))
    for k, part in enumerate(parts):
        batch = data.batch(part, cfg.device)
        with dp.capture():
            loss = dp.reduce(task.losses(model, batch, cfg.device))
            loss.backward()
        del loss  # the batch loss is a statistic of private data: never read, never kept
        if k < len(parts) - 1:
            dp.optimizer.signal_skip_step(do_skip=True)
        dp.optimizer.step()
        dp.optimizer.zero_grad()


def _snapshot(model: Any) -> list[tuple[Any, Any]]:
    return [(p, p.detach().clone()) for p in model.parameters() if p.requires_grad]


def _check_changed(before: list[tuple[Any, Any]]) -> None:
    """Every DP step moves the released weights (an empty batch still adds noise). If the first one moved
    none, the optimizer holds other tensors than the model does (Opacus #820: a peft model moved to its
    device after wrapping): ε would accrue while nothing is trained, so the run stops here."""
    import torch

    if not any(not torch.equal(p.detach(), old) for p, old in before):
        raise InternalError("the first DP step changed none of the model's trainable weights: the optimizer "
                            "is not updating the model (ε was spent for nothing; the run is stopped)")


def planned_steps(train_units: int, batch_size: int, epochs: int) -> int:
    return epochs * math.ceil(train_units / batch_size)
