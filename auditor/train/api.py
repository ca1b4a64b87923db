"""``run_training``: the enforced DP fine-tune as a library call (the CLI and ``auditor audit`` use it).

Order matters for the guarantee: settings are resolved against the requirement and the data actually
loaded, the noise is calibrated, the planned ε and δ are *reserved* in the ledger for these people, and only
then does the first step run. When the run ends -- completed, refused or failed -- what it spent is settled
and the checkpoint (it holds the mechanism's secret key) is deleted; only a killed or interrupted run keeps
both, for ``--resume``. Outputs (model, ``training.json``) are written atomically at the end. Heavy
libraries are imported inside the functions.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.errors import AuditorError, TrainingInputError
from auditor.fsutil import atomic_write, sha256_file
from auditor.plan import PlanDocument
from auditor.privacy import accounting
from auditor.privacy.ledger import Ledger, LedgerTotals, PlannedRun, UnitIdentity
from auditor.privacy.randomness import MechanismRandom
from auditor.privacy.requirements import PrivacyRequirement
from auditor.train.data import load_training_data, unit_identities
from auditor.train.encoded import Encoded
from auditor.train.evidence import (
    ClippingInfo,
    RandomnessInfo,
    StepEpsilon,
    TrainingEvidence,
    UnitInfo,
)
from auditor.train.outputs import EVIDENCE_FILE, output_folder, save_model, versions
from auditor.train.settings import DpSettings, resolve_settings
from auditor.train.tasks.base import Task
from auditor.units import DESCRIPTIONS

__all__ = ["EVIDENCE_FILE", "run_training"]


@dataclass
class _Run:
    """One DP run's ledger handle: settling it is how the run ends, whatever ended it."""

    ledger: Ledger
    doc: PlanDocument
    dataset_sha: str
    settings: DpSettings
    run_id: str
    checkpoint_dir: Path
    records: list[StepEpsilon]

    def end(self, identities: list[UnitIdentity], requirement: PrivacyRequirement) -> LedgerTotals:
        last = self.records[-1] if self.records else None
        eps = max(last.epsilon_opacus, last.epsilon_pld) if last else 0.0
        assert self.settings.delta is not None
        try:
            self.ledger.settle(run_id=self.run_id, dataset_sha256=self.dataset_sha, epsilon=eps,
                               delta=self.settings.delta if last else 0.0, steps=len(self.records),
                               accountant=self.settings.accountant, plan_sha256=self.doc.sha256)
        except AuditorError as exc:
            # the steps were taken: the reservation stands at the planned ε, so the ledger over-reports
            raise TrainingInputError(f"{self.ledger.path}: the run trained {len(self.records)} step(s) but "
                                     "what it spent could not be recorded; its reservation stands at the "
                                     f"planned ε ({exc.message.split(': ', 1)[-1]})") from None
        finally:
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)  # the key goes, whatever the ledger did
        return self.ledger.totals(identities, self.dataset_sha, max_epsilon_allowed=requirement.max_epsilon,
                                  delta=self.settings.delta, accountant=self.settings.accountant)


def run_training(doc: PlanDocument, *, requirement: PrivacyRequirement, out_dir: Path,
                 ledger_dir: Path | None = None, resume: bool = False, seed: int | None = None,
                 progress: bool = True, dataset_sha256: str | None = None) -> TrainingEvidence:
    """Train under the requirement; refuse (GateFailed) what the policies forbid, exit 2 for bad input."""
    from auditor.train import finetune

    out_dir = output_folder(Path(out_dir))
    checkpoint_path = out_dir / "checkpoint" / finetune.CHECKPOINT
    if not resume:
        return _run_training(doc, requirement, out_dir, ledger_dir, None, seed, progress, dataset_sha256)
    if not checkpoint_path.is_file():
        raise TrainingInputError(f"{checkpoint_path}: --resume given but there is no checkpoint to resume")
    checkpoint = finetune.load_checkpoint(checkpoint_path)
    try:
        return _run_training(doc, requirement, out_dir, ledger_dir, checkpoint, seed, progress, dataset_sha256)
    except AuditorError:
        # refused on resume (the policies, the ledger or the plan changed): the run ends here
        _abandon(Ledger(ledger_dir), checkpoint, checkpoint_path.parent)
        raise


def _abandon(ledger: Ledger, checkpoint: dict[str, Any], folder: Path) -> None:
    """Settle an interrupted run at what its checkpoint shows it spent, and delete its secret checkpoint."""
    run_id = str(checkpoint["run_id"])
    booked = ledger.reservation(run_id)
    if booked is not None:
        steps = [StepEpsilon.model_validate(r) for r in checkpoint["records"]]
        eps = max(steps[-1].epsilon_opacus, steps[-1].epsilon_pld) if steps else 0.0
        ledger.settle(run_id=run_id, dataset_sha256=booked.dataset_sha256, epsilon=eps,
                      delta=booked.delta if steps else 0.0, steps=len(steps), accountant=booked.accountant,
                      plan_sha256=booked.plan_sha256)
    shutil.rmtree(folder, ignore_errors=True)


def _run_training(doc: PlanDocument, requirement: PrivacyRequirement, out_dir: Path, ledger_dir: Path | None,
                  checkpoint: dict[str, Any] | None, seed: int | None, progress: bool,
                  dataset_sha256: str | None) -> TrainingEvidence:
    import torch

    from auditor.train import finetune, probe
    from auditor.train.model import resolve_device, resolve_model_path
    from auditor.train.tasks import for_task

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    wall_start = time.perf_counter()
    plan = doc.plan
    spec = plan.training
    seed = spec.seed if seed is None else seed
    checkpoint_path = out_dir / "checkpoint" / finetune.CHECKPOINT
    # The mechanism's randomness: a fresh secret per run, or the interrupted run's own (from its checkpoint).
    source = finetune.checkpoint_source(checkpoint) if checkpoint is not None else MechanismRandom()

    task = for_task(plan.model.task)
    data = load_training_data(doc, source.derived_key("split"), task)
    settings = resolve_settings(doc, requirement, data.privacy_units)
    device = resolve_device(doc)
    model_path = resolve_model_path(doc)
    dataset_sha = dataset_sha256 or sha256_file(doc.dataset_path)
    ledger = Ledger(ledger_dir)
    identities = unit_identities(data)

    train_examples, groups = finetune.unit_groups(data.train)
    train_units = len(groups)
    steps = finetune.planned_steps(train_units, spec.batch_size, spec.epochs)
    q = accounting.sample_rate_for(train_units, spec.batch_size)
    sigma = 0.0
    planned: PlannedRun | None = None
    if settings.dp:
        assert settings.target_epsilon is not None and settings.delta is not None
        sigma = accounting.calibrate_noise(settings.target_epsilon, settings.delta, q, steps,
                                           settings.accountant, source=str(doc.source))
        # the predictive stop never lets the run past its ε: the ledger books the steps that fit in it
        booked = accounting.steps_within(settings.target_epsilon, sigma, q, settings.delta, settings.accountant,
                                         steps)
        planned = PlannedRun(epsilon=settings.target_epsilon, delta=settings.delta, noise_multiplier=sigma,
                             sample_rate=q, steps=booked)
        # refuse before the model loads if these people's history cannot take this run; on --resume the
        # run's own reservation is set aside and re-checked against the policies as they are now
        own = str(checkpoint["run_id"]) if checkpoint is not None else None
        if own is not None and ledger.reservation(own) is None:
            raise TrainingInputError(f"{checkpoint_path}: run {own} has no open reservation in the privacy "
                                     f"ledger {ledger.path}; cannot resume")
        ledger.check(identities, dataset_sha, planned, max_epsilon_allowed=settings.max_epsilon_allowed,
                     delta=settings.delta, accountant=settings.accountant, exclude_run=own,
                     bound_by=requirement.bound_by.get("max_epsilon", ""))

    # public: a new head's or adapter's initial weights and dropout; no part of the mechanism
    torch.manual_seed(seed)
    loaded = task.load(doc, model_path, device)  # on its device, only the released parameters trainable
    model = loaded.model
    model.train()  # from_pretrained returns eval mode; Opacus needs training mode before make_private
    params = [p for p in model.parameters() if p.requires_grad]
    # Adam on noisy clipped gradients is post-processing: the guarantee is the same as for SGD, and with the
    # few large steps DP favours it converges far faster.
    optimizer = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=0.0)
    try:
        encoded = task.encode(loaded.tokenizer, train_examples, spec.max_seq_len)
    except TrainingInputError as exc:  # the task names the field; the plan file is named here
        raise TrainingInputError(f"{doc.source}: {exc.message}") from None

    requested = plan.privacy.clipping if settings.dp else "none"
    fallback: str | None = None
    stop_reason, stop_detail = "completed", ""
    records: list[StepEpsilon] = []
    totals: LedgerTotals | None = None
    resumed = checkpoint is not None
    if settings.dp:
        assert settings.delta is not None and settings.max_grad_norm is not None
        assert settings.target_epsilon is not None
        try:  # before the ledger: a model the clipping cannot bound must cost no ε
            reference = probe.check_independence(model, task, device, max_len=spec.max_seq_len,
                                                 size=min(spec.physical_batch_size, probe.MAX_BATCH))
        except probe.ProbeFailed as failed:
            raise TrainingInputError(f"{doc.source}: model.base: {plan.model.base}: {failed.reason}; "
                                     "refused before any ε was reserved") from None
        dp, mode, fallback = _attach_dp(model, optimizer, requested, task, reference=reference, device=device,
                                        base=f"{doc.source}: model.base: {plan.model.base}",
                                        train_size=train_units, batch_size=spec.batch_size, sigma=sigma,
                                        clip=settings.max_grad_norm, accountant=settings.accountant,
                                        source=source)
        fingerprint = {"plan_sha256": doc.sha256, "dataset_sha256": dataset_sha, "sigma": sigma,
                       "sample_rate": q, "delta": settings.delta, "steps": steps, "seed": seed,
                       "clipping": mode}
        cfg = finetune.LoopConfig(sigma=sigma, sample_rate=q, delta=settings.delta,
                                  clip=settings.max_grad_norm, accountant=settings.accountant,
                                  planned_steps=steps, epsilon_cap=settings.target_epsilon,
                                  physical_batch_size=spec.physical_batch_size, device=device,
                                  checkpoint_dir=checkpoint_path.parent, fingerprint=fingerprint)
        if checkpoint is not None:
            state = finetune.restore(checkpoint, cfg, model, dp)
        else:
            state = finetune.LoopState()
            assert planned is not None
            ledger.reserve(identities, dataset_sha256=dataset_sha, run_id=state.run_id, unit=data.unit,
                           planned=planned, accountant=settings.accountant, plan_sha256=doc.sha256,
                           max_epsilon_allowed=settings.max_epsilon_allowed, delta=settings.delta,
                           bound_by=requirement.bound_by.get("max_epsilon", ""))
        run = _Run(ledger=ledger, doc=doc, dataset_sha=dataset_sha, settings=settings, run_id=state.run_id,
                   checkpoint_dir=checkpoint_path.parent, records=state.records)
        try:
            with _progress(progress, steps, state.step) as on_step:
                outcome = finetune.dp_loop(cfg, state, model, dp, encoded, finetune.UnitSampler(groups, q, source),
                                           on_step, task=task)
            dp.hooks.cleanup()  # back to a plain HF model before save_pretrained
            eval_metrics = task.evaluate(loaded, data.eval_examples, spec.max_seq_len, spec.physical_batch_size,
                                         device)
            saved = save_model(lambda folder: task.save(loaded, folder, doc), out_dir)
        except KeyboardInterrupt:
            raise  # interrupted, not ended: the checkpoint and the reservation stay for --resume
        except BaseException:
            run.end(identities, requirement)
            raise
        totals = run.end(identities, requirement)
        stop_reason, stop_detail, records = outcome.stop_reason, outcome.stop_detail, outcome.state.records
        run_id, steps_taken = outcome.state.run_id, outcome.state.step
    else:
        import uuid

        run_id = uuid.uuid4().hex
        mode = "none"
        steps_taken = _plain_loop(model, task, optimizer, encoded, spec.physical_batch_size, steps,
                                  spec.batch_size, device, seed)
        eval_metrics = task.evaluate(loaded, data.eval_examples, spec.max_seq_len, spec.physical_batch_size,
                                     device)
        saved = save_model(lambda folder: task.save(loaded, folder, doc), out_dir)

    last = records[-1] if records else None
    eps_spent = max(last.epsilon_opacus, last.epsilon_pld) if last else 0.0
    spec_ds = plan.dataset
    unit_info = UnitInfo(
        unit=data.unit, privacy_units=data.privacy_units, train_units=train_units,
        user_id_field=spec_ds.user_id_field,
        user_id_normalisation=DESCRIPTIONS[spec_ds.user_id_normalisation] if spec_ds.user_id_field else None,
        users_with_multiple_records=data.users_with_multiple_records,
        contribution_bound=(
            "each step samples each person with probability q and uses one of their records, chosen at random: "
            "at most one clipped gradient (norm ≤ C) per person per step" if data.unit == "user" else
            "each step samples each record with probability q: at most one clipped gradient (norm ≤ C) per "
            "record per step"))
    evidence = TrainingEvidence(
        run_id=run_id, plan_name=plan.name, plan_sha256=doc.sha256, dataset_sha256=dataset_sha,
        model_base=plan.model.base, model_weights_sha256=saved.weights_sha256,
        model_weights_file=saved.weights_file, merged_weights_sha256=saved.merged_sha256, task=task.name,
        lora=loaded.lora,
        records=data.records, unreadable_lines=data.unreadable_lines,
        unreadable_first_lines=list(data.unreadable_first),
        train_records=len(train_examples), eval_records=len(data.eval_examples),
        unit=data.unit, privacy_units=data.privacy_units, units=unit_info,
        mechanism=plan.privacy.mechanism if settings.dp else "none",
        noise_multiplier=sigma, sample_rate=q, max_grad_norm=settings.max_grad_norm,
        logical_batch_size=spec.batch_size, physical_batch_size=spec.physical_batch_size,
        clipping=ClippingInfo(requested=requested, used=mode, fallback_reason=fallback,
                              trainable_parameters=sum(p.numel() for p in params),
                              total_parameters=sum(p.numel() for p in model.parameters()),
                              trainable_layers=loaded.trainable),
        epochs_planned=spec.epochs, steps_planned=steps, steps=steps_taken, learning_rate=spec.learning_rate,
        accountant=settings.accountant, target_epsilon=settings.target_epsilon,
        max_epsilon_allowed=settings.max_epsilon_allowed, delta=settings.delta,
        epsilon_opacus=last.epsilon_opacus if last else (0.0 if settings.dp else None),
        epsilon_pld=last.epsilon_pld if last else (0.0 if settings.dp else None),
        epsilon=eps_spent if settings.dp else None, epsilon_per_step=records, settings=settings.settings,
        requirement=requirement, stop_reason=stop_reason, stop_detail=stop_detail, ledger=totals,
        randomness=RandomnessInfo(public_seed=seed),
        eval=eval_metrics, device=device, precision="bf16" if device == "cuda" else "fp32",
        versions=versions(), resumed=resumed, started_at=started_at,
        wall_time_s=time.perf_counter() - wall_start)
    atomic_write(out_dir / EVIDENCE_FILE, evidence.model_dump_json(indent=2) + "\n")
    return evidence


class _progress:
    """A rich progress bar (stderr) with the ε spent; a no-op when ``progress`` is off. No loss: the batch loss
    is a statistic of private data that the accountant does not pay for."""

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.enabled, self.total, self.done = enabled, total, done
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("ε {task.fields[eps]}"), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=False)
        self.bar.start()
        task = self.bar.add_task("train", total=self.total, completed=self.done, eps="0")

        def on_step(state: Any) -> None:
            rec = state.records[-1]
            self.bar.update(task, completed=state.step, eps=f"{max(rec.epsilon_opacus, rec.epsilon_pld):.3f}")

        return on_step

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


FALLBACKS = {"bookkeeping": ("bookkeeping", "ghost", "hooks"), "ghost": ("ghost", "hooks"), "hooks": ("hooks",)}


def _attach_dp(model: Any, optimizer: Any, requested: str, task: Task, *, reference: Any = None,
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


def _plain_loop(model: Any, task: Task, optimizer: Any, data: Encoded, physical: int, steps: int,
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
