"""The private run behind ``PrivateTrainer.train()``: ``auditor train``'s mechanism, driven step by step so the
Trainer's callbacks, scheduler and logging see every step.

What is shared with ``auditor train`` (not re-implemented here): the probe and the clipping-mode chain
(:func:`~auditor.train.attach.attach_dp`), Opacus with our ChaCha20 noise, :class:`~auditor.train.finetune.
UnitSampler` (Poisson, each unit independently, from the run's secret key), :func:`~auditor.train.finetune.
dp_loop` (physical batches, noise-only steps on an empty batch, the predictive stop, Opacus' accountant
check, the 0600 checkpoint), the ledger's reservation before the first step and settlement however the run
ends, and the evidence. ``dp_loop`` is called with a plan of one more step at a time: between calls the
Trainer's ``on_step_begin`` / ``on_step_end`` callbacks run, the scheduler steps, and ε is logged.

What differs: the optimizer and scheduler are the Trainer's (``create_optimizer``, ``create_scheduler``);
a callback may stop the run early (it then spends less); there is no ``--resume`` (any end settles the
ledger, an interrupt too, and deletes the key), and no Trainer checkpoints are written during the run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import TrainingInputError
from auditor.fsutil import atomic_write, sha256_file
from auditor.train.evidence import EvalMetrics, StepEpsilon, TrainingEvidence
from auditor.train.tasks.base import Saved

if TYPE_CHECKING:
    from auditor.integrations.hf_setup import Setup
    from auditor.train.encoded import Encoded
    from auditor.train.finetune import DpHandles, LoopConfig, LoopState, UnitSampler

CHECKPOINT_DIR = ".auditor-checkpoint"  # the mechanism's key while the run lasts (0600 in a 0700 folder)
CALLER_ROWS = ("each step samples each row of the caller's train_dataset with probability q: at most one "
               "clipped gradient (norm ≤ C) per row per step; a row is one privacy unit, and a record split "
               "over several rows would be several units")


def epsilon_logs(record: StepEpsilon, accountant: str, delta: float) -> dict[str, float]:
    """What is logged after a step: ε by both accountants, the enforced (larger) one, and δ -- all functions
    of (σ, q, steps, δ), none of the data."""
    return {"epsilon": max(record.epsilon_opacus, record.epsilon_pld), f"epsilon_{accountant}": record.epsilon_opacus,
            "epsilon_pld": record.epsilon_pld, "delta": delta}


def run_private(trainer: Any, s: Setup) -> TrainingEvidence:
    """Probe, attach, reserve, step, evaluate, save, settle, write ``training.json``; return the evidence."""
    from auditor.integrations.hf_data import CollatedRows
    from auditor.train import finetune, probe
    from auditor.train.api import _Outcome, _Run
    from auditor.train.attach import attach_dp

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    wall_start = time.perf_counter()
    doc, prep, settings, task, device = s.doc, s.prep, s.prep.settings, s.prep.task, s.device
    spec, model = doc.plan.training, trainer.model
    assert settings.delta is not None and settings.max_grad_norm is not None
    assert settings.target_epsilon is not None and prep.planned is not None
    model.train()
    data: Encoded = s.encoded if s.encoded is not None else CollatedRows(
        _rows(trainer), _collator(trainer), per_token=task.name == "causal-lm")
    try:  # before the ledger: a model the clipping cannot bound must cost no ε
        reference = probe.check_independence(model, task, device, max_len=spec.max_seq_len,
                                             size=min(spec.physical_batch_size, probe.MAX_BATCH))
    except probe.ProbeFailed as failed:
        raise TrainingInputError(f"PrivateTrainer: model: {failed.reason}; refused before any ε was reserved"
                                 ) from None
    optimizer = trainer.create_optimizer()
    scheduler = trainer.create_scheduler(num_training_steps=prep.steps, optimizer=optimizer)
    dp, mode, fallback = attach_dp(model, optimizer, doc.plan.privacy.clipping, task, reference=reference,
                                   device=device, base=f"PrivateTrainer: model ({doc.plan.model.base})",
                                   train_size=prep.train_units, batch_size=spec.batch_size, sigma=prep.sigma,
                                   clip=settings.max_grad_norm, accountant=settings.accountant, source=prep.source)
    trainer.optimizer = trainer.callback_handler.optimizer = dp.optimizer
    trainer.callback_handler.lr_scheduler = scheduler
    checkpoint_dir = s.out_dir / CHECKPOINT_DIR
    cfg = finetune.LoopConfig(sigma=prep.sigma, sample_rate=prep.q, delta=settings.delta, clip=settings.max_grad_norm,
                              accountant=settings.accountant, planned_steps=prep.steps,
                              epsilon_cap=settings.target_epsilon, physical_batch_size=spec.physical_batch_size,
                              device=device, checkpoint_dir=checkpoint_dir, fingerprint={})
    state = finetune.LoopState()
    requirement = s.gate.privacy_requirements
    prep.ledger.reserve(prep.identities, dataset_sha256=prep.dataset_sha, run_id=state.run_id, unit=prep.data.unit,
                        planned=prep.planned, accountant=settings.accountant, plan_sha256=doc.sha256,
                        max_epsilon_allowed=settings.max_epsilon_allowed, delta=settings.delta,
                        bound_by=requirement.bound_by.get("max_epsilon", ""))
    run = _Run(ledger=prep.ledger, doc=doc, dataset_sha=prep.dataset_sha, settings=settings, run_id=state.run_id,
               checkpoint_dir=checkpoint_dir, records=state.records)
    try:  # from here on, however the run ends, the ledger is settled at what was spent and the key deleted
        reason, detail = _steps(trainer, cfg, state, dp, data, finetune.UnitSampler(prep.groups, prep.q, prep.source),
                                scheduler, s)
        dp.hooks.cleanup()  # back to a plain HF model: save_pretrained, Trainer.save_model, evaluate
        metrics = _evaluate(s) if not s.own_data else EvalMetrics(records=0)
        saved = _save(s)
    except BaseException:
        run.end(prep.identities, requirement)
        raise
    totals = run.end(prep.identities, requirement)
    outcome = _Outcome(run_id=state.run_id, mode=mode, fallback=fallback, steps=state.step, records=state.records,
                       stop_reason=reason, stop_detail=detail, totals=totals)
    evidence = _evidence(trainer, s, model, outcome, metrics, saved, started_at, time.perf_counter() - wall_start)
    atomic_write(s.out_dir / "training.json", evidence.model_dump_json(indent=2) + "\n")
    trainer.control = trainer.callback_handler.on_train_end(trainer.args, trainer.state, trainer.control)
    return evidence


def _steps(trainer: Any, cfg: LoopConfig, state: LoopState, dp: DpHandles, data: Encoded, sampler: UnitSampler,
           scheduler: Any, s: Setup) -> tuple[str, str]:
    """One ``dp_loop`` step at a time, with the Trainer's callbacks and logging around each."""
    from transformers import TrainerState

    from auditor.train import finetune

    args, prep, task = trainer.args, s.prep, s.prep.task
    per_epoch = math.ceil(prep.train_units / s.doc.plan.training.batch_size)
    trainer.state = TrainerState()
    trainer.state.max_steps = cfg.planned_steps
    trainer.state.num_train_epochs = math.ceil(cfg.planned_steps / per_epoch)
    trainer.state.train_batch_size = s.doc.plan.training.physical_batch_size
    trainer.control = trainer.callback_handler.on_train_begin(args, trainer.state, trainer.control)
    while state.step < cfg.planned_steps:
        trainer.control = trainer.callback_handler.on_step_begin(args, trainer.state, trainer.control)
        looped = finetune.dp_loop(dataclasses.replace(cfg, planned_steps=state.step + 1), state, trainer.model, dp,
                                  data, sampler, task=task)
        if looped.stop_reason == "budget_exhausted":
            why = looped.stop_detail.split(": ", 1)[-1]
            return "budget_exhausted", f"stopped before step {state.step + 1} of {cfg.planned_steps}: {why}"
        scheduler.step()
        trainer.state.global_step, trainer.state.epoch = state.step, state.step / per_epoch
        trainer.control = trainer.callback_handler.on_step_end(args, trainer.state, trainer.control)
        trainer.log({**epsilon_logs(state.records[-1], cfg.accountant, cfg.delta),
                     "learning_rate": float(scheduler.get_last_lr()[0])})
        # evaluation and Trainer checkpoints are not run inside a private run (see the module docstring)
        trainer.control.should_log = trainer.control.should_evaluate = trainer.control.should_save = False
        if trainer.control.should_training_stop and state.step < cfg.planned_steps:  # not the flow's own stop
            return "completed", (f"stopped by a Trainer callback after {state.step} of {cfg.planned_steps} planned "
                                 "steps")
    return "completed", f"all {cfg.planned_steps} planned steps taken"


def _rows(trainer: Any) -> Any:
    """The caller's training rows, with the columns the model cannot take removed as the Trainer would."""
    dataset = trainer.train_dataset
    try:
        import datasets

        if isinstance(dataset, datasets.Dataset) and trainer.args.remove_unused_columns:
            return trainer._remove_unused_columns(dataset, description="training")
    except ImportError:
        pass
    return dataset


def _collator(trainer: Any) -> Any:
    try:
        import datasets

        if isinstance(trainer.train_dataset, datasets.Dataset):
            return trainer.data_collator
    except ImportError:
        pass
    return trainer._get_collator_with_removed_columns(trainer.data_collator, description="training")


def _evaluate(s: Setup) -> EvalMetrics:
    spec = s.doc.plan.training
    return s.prep.task.evaluate(s.loaded, s.prep.data.eval_examples, spec.max_seq_len, spec.physical_batch_size,
                                s.device)


def _save(s: Setup) -> Saved:
    """The trained model into ``output_dir/model``, as ``auditor train`` writes it (the task's own save), or,
    for a caller's model the task cannot save (no tokenizer; a causal LM without LoRA), ``save_pretrained``."""
    from auditor.train.outputs import save_model

    loaded, task = s.loaded, s.prep.task
    if loaded.tokenizer is not None and (task.name != "causal-lm" or hasattr(loaded.model, "peft_config")):
        return save_model(lambda folder: task.save(loaded, folder, s.doc), s.out_dir)

    def plain(folder: Path) -> Saved:
        loaded.model.save_pretrained(folder, safe_serialization=True)
        weights = next((folder / n for n in ("adapter_model.safetensors", "model.safetensors")
                        if (folder / n).is_file()), folder / "model.safetensors")
        return Saved(weights_file=weights.name, weights_sha256=sha256_file(weights) if weights.is_file() else "")

    return save_model(plain, s.out_dir)


def _evidence(trainer: Any, s: Setup, model: Any, outcome: Any, metrics: EvalMetrics, saved: Saved,
              started_at: str, wall_time_s: float) -> TrainingEvidence:
    """``auditor train``'s evidence for this run; with the caller's rows, what was trained on is theirs."""
    from auditor.train.api import _evidence as evidence_of

    params = [p for p in model.parameters() if p.requires_grad]
    evidence = evidence_of(s.doc, s.gate.privacy_requirements, s.prep, s.loaded, params, outcome, metrics, saved,
                           None, device=s.device, resumed=False, started_at=started_at, wall_time_s=wall_time_s)
    update: dict[str, Any] = {"trainer": type(trainer).__name__}
    if s.own_data:
        rows = s.prep.train_units
        update.update(training_rows="caller", train_records=rows, eval_records=0,
                      units=evidence.units.model_copy(update={"train_units": rows, "contribution_bound": CALLER_ROWS,
                                                              "users_with_multiple_records": None}))
    return evidence.model_copy(update=update)
