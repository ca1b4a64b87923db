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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from auditor.errors import AuditorError, TrainingInputError
from auditor.fsutil import atomic_write, sha256_file
from auditor.leakage.canaries import Canaries
from auditor.leakage.model import LEAKAGE_FILE, CanaryCounts, LeakageReport
from auditor.plan import AuditSpec, PlanDocument
from auditor.privacy.ledger import Ledger, LedgerTotals, UnitIdentity
from auditor.privacy.requirements import PrivacyRequirement
from auditor.train.attach import attach_dp, plain_loop
from auditor.train.distributed import Group
from auditor.train.encoded import Encoded
from auditor.train.evidence import (
    ClippingInfo,
    EvalMetrics,
    RandomnessInfo,
    StepEpsilon,
    TrainingEvidence,
    UnitInfo,
)
from auditor.train.outputs import EVIDENCE_FILE, output_folder, save_model, versions
from auditor.train.prepare import Prepared, audit_spec, prepare
from auditor.train.settings import DpSettings
from auditor.train.tasks.base import Loaded, Saved, Task
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
                 progress: bool = True, dataset_sha256: str | None = None,
                 audit: AuditSpec | Literal["plan"] | None = "plan", group: Group | None = None) -> TrainingEvidence:
    """Train under the requirement; refuse (GateFailed) what the policies forbid, exit 2 for bad input.

    ``audit`` is the leakage audit to run after training: ``"plan"`` (the default) runs the plan's, if it
    has one. Its canaries are planted before training, so it cannot be added to a finished run.
    ``group``: under torchrun, this rank's :class:`~auditor.train.distributed.Group` (every rank calls this;
    rank 0 alone books, writes and audits, and the others return the evidence it wrote)."""
    from auditor.train import finetune

    group = group or Group()
    spec = audit_spec(doc, by_default=False) if audit == "plan" else audit
    out_dir = output_folder(Path(out_dir)) if group.is_main else Path(out_dir)
    checkpoint_path = out_dir / "checkpoint" / finetune.CHECKPOINT
    if not resume:
        return _run_training(doc, requirement, out_dir, ledger_dir, None, seed, progress, dataset_sha256, spec,
                             group)

    def load() -> dict[str, Any]:
        if not checkpoint_path.is_file():
            raise TrainingInputError(f"{checkpoint_path}: --resume given but there is no checkpoint to resume")
        return finetune.load_checkpoint(checkpoint_path)

    checkpoint = group.on_main(load)  # the other ranks get it in memory, key included
    written = int(checkpoint["fingerprint"].get("world_size", 1))
    if written != group.world:  # a mistaken launch: refused before the run is touched, so it stays resumable
        from auditor.train.distributed import world_mismatch

        raise TrainingInputError(world_mismatch(written, group.world, checkpoint_path))
    try:
        return _run_training(doc, requirement, out_dir, ledger_dir, checkpoint, seed, progress, dataset_sha256,
                             spec, group)
    except AuditorError:
        # refused on resume (the policies, the ledger or the plan changed): the run ends here
        if group.is_main:
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


@dataclass
class _Outcome:
    """What the loop did: steps, the ε after each, why it stopped, and the ledger's totals after settling."""

    run_id: str
    mode: str
    fallback: str | None
    steps: int
    records: list[StepEpsilon]
    stop_reason: str = "completed"
    stop_detail: str = ""
    totals: LedgerTotals | None = None


def _run_training(doc: PlanDocument, requirement: PrivacyRequirement, out_dir: Path, ledger_dir: Path | None,
                  checkpoint: dict[str, Any] | None, seed: int | None, progress: bool,
                  dataset_sha256: str | None, audit: AuditSpec | None, group: Group) -> TrainingEvidence:
    import torch

    from auditor.train.model import resolve_device, resolve_model_path

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    wall_start = time.perf_counter()
    spec = doc.plan.training
    from auditor.train import finetune

    prep = prepare(doc, requirement, ledger_dir, checkpoint, seed, dataset_sha256, audit,
                   out_dir / "checkpoint" / finetune.CHECKPOINT,
                   source=group.shared_source() if checkpoint is None else None, check_ledger=group.is_main)
    if group.distributed and not prep.settings.dp:
        raise TrainingInputError(f"{doc.source}: torchrun trains with DP-SGD only (Opacus DPDDP); no policy asks "
                                 "for DP here and the plan says mechanism: none: train in one process")
    task = prep.task
    device = resolve_device(doc)
    model_path = resolve_model_path(doc)

    torch.manual_seed(prep.seed)  # public: a new head's or adapter's initial weights and dropout only
    loaded = task.load(doc, model_path, device)  # on its device, only the released parameters trainable
    model = loaded.model
    model.train()  # from_pretrained returns eval mode; Opacus needs training mode before make_private
    params = [p for p in model.parameters() if p.requires_grad]
    # Adam on noisy clipped gradients is post-processing: the guarantee is the same as for SGD, and with the
    # few large steps DP favours it converges far faster.
    optimizer = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=0.0)
    try:
        encoded = task.encode(loaded.tokenizer, prep.train_examples, spec.max_seq_len)
    except TrainingInputError as exc:  # the task names the field; the plan file is named here
        raise TrainingInputError(f"{doc.source}: {exc.message}") from None
    if prep.canaries is not None:  # before any ε is reserved: an audit that cannot work must cost nothing
        _check_canaries(doc, task, loaded, prep.canaries)

    def finish() -> tuple[EvalMetrics, Saved]:
        metrics = task.evaluate(loaded, prep.data.eval_examples, spec.max_seq_len, spec.physical_batch_size,
                                device)
        return metrics, save_model(lambda folder: task.save(loaded, folder, doc), out_dir)

    if prep.settings.dp:
        outcome, finished = _dp_run(doc, requirement, prep, loaded, optimizer, encoded, out_dir, checkpoint,
                                    progress, device, finish, group)
        if finished is None:  # a rank other than 0: it trained its shares; rank 0 writes what the run did
            return group.broadcast(None)
        eval_metrics, saved = finished
    else:
        steps_taken = plain_loop(model, task, optimizer, encoded, spec.physical_batch_size, prep.steps,
                                 spec.batch_size, device, prep.seed)
        outcome = _Outcome(run_id=uuid.uuid4().hex, mode="none", fallback=None, steps=steps_taken, records=[])
        eval_metrics, saved = finish()
    leakage = None
    if audit is not None:
        leakage = _leakage(doc, prep, loaded, audit, out_dir, device, progress)
    evidence = _evidence(doc, requirement, prep, loaded, params, outcome, eval_metrics, saved, leakage,
                         device=device, resumed=checkpoint is not None, started_at=started_at,
                         wall_time_s=time.perf_counter() - wall_start).model_copy(update={"processes": group.world})
    atomic_write(out_dir / EVIDENCE_FILE, evidence.model_dump_json(indent=2) + "\n")
    return group.broadcast(evidence) if group.distributed else evidence


def _check_canaries(doc: PlanDocument, task: Task, loaded: Loaded, canaries: Canaries) -> None:
    """Canaries the tokenizer cannot tell apart (secrets of unknown tokens) would make every membership test
    on them a coin toss that *looks* like privacy: refuse instead."""
    ids = task.encode(loaded.tokenizer, list(canaries.examples), doc.plan.training.max_seq_len).ids
    if len({tuple(row) for row in ids}) < 0.99 * len(ids):
        raise TrainingInputError(f"{doc.source}: audit.canaries: model.base's tokenizer maps different canary "
                                 "secrets to the same tokens, so the leakage audit could not tell them apart; "
                                 "set audit.canaries: 0 (or audit.enabled: false) for this model")


def _dp_run(doc: PlanDocument, requirement: PrivacyRequirement, prep: Prepared, loaded: Loaded, optimizer: Any,
            encoded: Encoded, out_dir: Path, checkpoint: dict[str, Any] | None, progress: bool, device: str,
            finish: Callable[[], tuple[EvalMetrics, Saved]],
            group: Group) -> tuple[_Outcome, tuple[EvalMetrics, Saved] | None]:
    """Probe, attach, reserve, loop, evaluate and save -- and settle the ledger however it ends (only an
    interrupt keeps the reservation and the checkpoint, for ``--resume``). Under torchrun every rank probes,
    attaches and loops; rank 0 alone reserves, settles, evaluates and saves (the others return None)."""
    from auditor.train import finetune, probe

    plan, spec, settings, model, task = doc.plan, doc.plan.training, prep.settings, loaded.model, prep.task
    assert settings.delta is not None and settings.max_grad_norm is not None
    assert settings.target_epsilon is not None and prep.planned is not None
    checkpoint_path = out_dir / "checkpoint" / finetune.CHECKPOINT
    try:  # before the ledger: a model the clipping cannot bound must cost no ε
        reference = probe.check_independence(model, task, device, max_len=spec.max_seq_len,
                                             size=min(spec.physical_batch_size, probe.MAX_BATCH))
    except probe.ProbeFailed as failed:
        raise TrainingInputError(f"{doc.source}: model.base: {plan.model.base}: {failed.reason}; "
                                 "refused before any ε was reserved") from None
    dp, mode, fallback = attach_dp(model, optimizer, plan.privacy.clipping, task, reference=reference,
                                   device=device, base=f"{doc.source}: model.base: {plan.model.base}",
                                   train_size=prep.train_units, batch_size=spec.batch_size, sigma=prep.sigma,
                                   clip=settings.max_grad_norm, accountant=settings.accountant,
                                   source=prep.source, group=group)
    fingerprint = {"plan_sha256": doc.sha256, "dataset_sha256": prep.dataset_sha, "sigma": prep.sigma,
                   "sample_rate": prep.q, "delta": settings.delta, "steps": prep.steps, "seed": prep.seed,
                   "clipping": mode, "canaries": len(prep.canaries or ()), **group.fingerprint()}
    cfg = finetune.LoopConfig(sigma=prep.sigma, sample_rate=prep.q, delta=settings.delta,
                              clip=settings.max_grad_norm, accountant=settings.accountant,
                              planned_steps=prep.steps, epsilon_cap=settings.target_epsilon,
                              physical_batch_size=spec.physical_batch_size, device=device,
                              checkpoint_dir=checkpoint_path.parent, fingerprint=fingerprint, shard=group.stepper())
    if checkpoint is not None:
        state = finetune.restore(checkpoint, cfg, model, dp)
    else:
        state = finetune.LoopState(run_id=group.broadcast(uuid.uuid4().hex if group.is_main else None))
        planned = prep.planned
        group.on_main(lambda: prep.ledger.reserve(
            prep.identities, dataset_sha256=prep.dataset_sha, run_id=state.run_id, unit=prep.data.unit,
            planned=planned, accountant=settings.accountant, plan_sha256=doc.sha256,
            max_epsilon_allowed=settings.max_epsilon_allowed, delta=settings.delta,
            bound_by=requirement.bound_by.get("max_epsilon", "")))
    if not group.is_main:  # it holds no reservation: it trains its shares, and rank 0 settles the run
        finetune.dp_loop(cfg, state, model, dp, encoded, finetune.UnitSampler(prep.groups, prep.q, prep.source),
                         None, task=task)
        dp.hooks.cleanup()
        return _Outcome(run_id=state.run_id, mode=mode, fallback=fallback, steps=state.step,
                        records=state.records), None
    run = _Run(ledger=prep.ledger, doc=doc, dataset_sha=prep.dataset_sha, settings=settings, run_id=state.run_id,
               checkpoint_dir=checkpoint_path.parent, records=state.records)
    try:
        with _progress(progress, prep.steps, state.step) as on_step:
            looped = finetune.dp_loop(cfg, state, model, dp, encoded,
                                      finetune.UnitSampler(prep.groups, prep.q, prep.source), on_step, task=task)
        dp.hooks.cleanup()  # back to a plain HF model before save_pretrained
        finished = finish()
    except KeyboardInterrupt:
        raise  # interrupted, not ended: the checkpoint and the reservation stay for --resume
    except BaseException:
        run.end(prep.identities, requirement)
        raise
    totals = run.end(prep.identities, requirement)
    return _Outcome(run_id=looped.state.run_id, mode=mode, fallback=fallback, steps=looped.state.step,
                    records=looped.state.records, stop_reason=looped.stop_reason, stop_detail=looped.stop_detail,
                    totals=totals), finished


def _leakage(doc: PlanDocument, prep: Prepared, loaded: Loaded, audit: AuditSpec, out_dir: Path, device: str,
             progress: bool) -> tuple[LeakageReport, str]:
    """Audit the saved model; a crash inside the audit is recorded as an incomplete audit (no claim), not
    as a lost training run: ε was spent and the model is saved either way."""
    import sys

    from auditor.leakage.audit import AuditInputs, run_audit
    from auditor.privacy.requirements import default_delta

    settings = prep.settings

    def say(message: str) -> None:
        if progress:
            print(f"leakage audit: {message}", file=sys.stderr, flush=True)

    inputs = AuditInputs(task=prep.task, loaded=loaded, canaries=prep.canaries,
                         members=prep.data.train_examples, non_members=prep.data.eval_examples, spec=audit,
                         key=prep.source.derived_key("leakage"),
                         claimed_epsilon=settings.target_epsilon if settings.dp else None,
                         delta=settings.delta if settings.delta is not None else default_delta(
                             prep.data.privacy_units),
                         max_len=doc.plan.training.max_seq_len, batch=doc.plan.training.physical_batch_size,
                         device=device)
    try:
        report = run_audit(inputs, say)
    except Exception as exc:  # recorded, and said: the report then makes no leakage claim
        say(f"did not complete ({type(exc).__name__})")
        report = LeakageReport(task=prep.task.name, status="failed", failure=type(exc).__name__,
                               canaries=_counts(prep.canaries), verdict="incomplete",
                               verdict_reason=f"the leakage audit did not complete ({type(exc).__name__})",
                               wall_time_s=0.0)
    atomic_write(out_dir / LEAKAGE_FILE, report.model_dump_json(indent=2) + "\n")
    return report, sha256_file(out_dir / LEAKAGE_FILE)


def _counts(canaries: Canaries | None) -> CanaryCounts:
    included = sum(canaries.included) if canaries else 0
    return CanaryCounts(inserted=len(canaries or ()), included=included,
                        excluded=len(canaries or ()) - included, shape=canaries.shape if canaries else "")


def _evidence(doc: PlanDocument, requirement: PrivacyRequirement, prep: Prepared, loaded: Loaded,
              params: list[Any], outcome: _Outcome, eval_metrics: EvalMetrics, saved: Saved,
              leakage: tuple[LeakageReport, str] | None, *, device: str, resumed: bool, started_at: str,
              wall_time_s: float) -> TrainingEvidence:
    plan, spec, settings, data = doc.plan, doc.plan.training, prep.settings, prep.data
    records = outcome.records
    last = records[-1] if records else None
    eps_spent = max(last.epsilon_opacus, last.epsilon_pld) if last else 0.0
    spec_ds = plan.dataset
    unit_info = UnitInfo(
        unit=data.unit, privacy_units=data.privacy_units, train_units=prep.train_units,
        canaries=len(prep.canaries or ()), user_id_field=spec_ds.user_id_field,
        user_id_normalisation=DESCRIPTIONS[spec_ds.user_id_normalisation] if spec_ds.user_id_field else None,
        users_with_multiple_records=data.users_with_multiple_records,
        contribution_bound=(
            "each step samples each person with probability q and uses one of their records, chosen at random: "
            "at most one clipped gradient (norm ≤ C) per person per step" if data.unit == "user" else
            "each step samples each record with probability q: at most one clipped gradient (norm ≤ C) per "
            "record per step"))
    model = loaded.model
    return TrainingEvidence(
        run_id=outcome.run_id, plan_name=plan.name, plan_sha256=doc.sha256, dataset_sha256=prep.dataset_sha,
        model_base=plan.model.base, model_weights_sha256=saved.weights_sha256,
        model_weights_file=saved.weights_file, merged_weights_sha256=saved.merged_sha256, task=prep.task.name,
        lora=loaded.lora, records=data.records, unreadable_lines=data.unreadable_lines,
        unreadable_first_lines=list(data.unreadable_first),
        train_records=sum(len(u.examples) for u in data.train), eval_records=len(data.eval_examples),
        unit=data.unit, privacy_units=data.privacy_units, units=unit_info,
        mechanism=plan.privacy.mechanism if settings.dp else "none",
        noise_multiplier=prep.sigma, sample_rate=prep.q, max_grad_norm=settings.max_grad_norm,
        logical_batch_size=spec.batch_size, physical_batch_size=spec.physical_batch_size,
        clipping=ClippingInfo(requested=plan.privacy.clipping if settings.dp else "none", used=outcome.mode,
                              fallback_reason=outcome.fallback,
                              trainable_parameters=sum(p.numel() for p in params),
                              total_parameters=sum(p.numel() for p in model.parameters()),
                              trainable_layers=loaded.trainable),
        epochs_planned=spec.epochs, steps_planned=prep.steps, steps=outcome.steps,
        learning_rate=spec.learning_rate, accountant=settings.accountant, target_epsilon=settings.target_epsilon,
        max_epsilon_allowed=settings.max_epsilon_allowed, delta=settings.delta,
        epsilon_opacus=last.epsilon_opacus if last else (0.0 if settings.dp else None),
        epsilon_pld=last.epsilon_pld if last else (0.0 if settings.dp else None),
        epsilon=eps_spent if settings.dp else None, epsilon_per_step=records, settings=settings.settings,
        requirement=requirement, stop_reason=outcome.stop_reason, stop_detail=outcome.stop_detail,
        ledger=outcome.totals, randomness=RandomnessInfo(public_seed=prep.seed),
        leakage_file=LEAKAGE_FILE if leakage else None, leakage_sha256=leakage[1] if leakage else None,
        leakage_verdict=leakage[0].verdict if leakage else None,
        eval=eval_metrics, device=device, precision="bf16" if device == "cuda" else "fp32",
        versions=versions(), resumed=resumed, started_at=started_at, wall_time_s=wall_time_s)


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
