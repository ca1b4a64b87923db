"""What a run decides before its model loads: the data and its secret split, the canaries, the settings the
policies enforce, q, σ, the step count, and whether the ledger lets these people take the run.

Kept apart from the loop (:mod:`auditor.train.api`) because it is the part every way of training shares:
nothing here depends on the model, so the same numbers come out whoever trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import TrainingInputError
from auditor.fsutil import sha256_file
from auditor.leakage.canaries import Canaries
from auditor.plan import AuditSpec, PlanDocument
from auditor.privacy import accounting
from auditor.privacy.ledger import Ledger, PlannedRun, UnitIdentity
from auditor.privacy.randomness import MechanismRandom
from auditor.privacy.requirements import PrivacyRequirement
from auditor.train.data import Example, TrainingData, load_training_data, unit_identities
from auditor.train.settings import DpSettings, resolve_settings
from auditor.train.tasks.base import Task


def audit_spec(doc: PlanDocument, *, by_default: bool) -> AuditSpec | None:
    """The leakage audit a run gets: the plan's ``audit`` section; without one, the defaults when the caller
    runs it by default (``auditor audit``) and none otherwise (``auditor train``); none when disabled."""
    spec = doc.plan.audit
    if spec is None:
        return AuditSpec() if by_default else None
    return spec if spec.enabled else None


@dataclass
class Prepared:
    """Everything decided before the model loads: the data and its split, the canaries, the enforced
    settings, q, σ, the step count and the ledger's verdict on them. None of it depends on the model."""

    task: Task
    data: TrainingData
    settings: DpSettings
    seed: int
    source: MechanismRandom
    dataset_sha: str
    ledger: Ledger
    identities: list[UnitIdentity]
    train_examples: list[Example]
    groups: list[list[int]]
    train_units: int          # real training units plus every canary, included or not: q's n
    steps: int
    q: float
    sigma: float
    planned: PlannedRun | None
    canaries: Canaries | None


def prepare(doc: PlanDocument, requirement: PrivacyRequirement, ledger_dir: Path | None,
            checkpoint: dict[str, Any] | None, seed: int | None, dataset_sha256: str | None,
            audit: AuditSpec | None, checkpoint_path: Path | None = None, *, rows: int | None = None,
            steps: int | None = None, source: MechanismRandom | None = None,
            check_ledger: bool = True) -> Prepared:
    """Load and split the data, plant the canaries, bound the settings, calibrate σ, and refuse (before the
    model loads) a run these people's ledger history cannot take. On ``--resume`` the interrupted run's own
    key replays the same split and canaries, and its reservation is set aside and re-checked against the
    policies as they are now.

    Overrides serve callers that bring their own training loop (:mod:`auditor.integrations`): ``rows`` trains
    on that many rows of the caller's own dataset instead of the plan's training split (each row one unit,
    sampled on its own; the ledger still charges every unit of the plan's dataset, and δ stays resolved for the
    plan's n), and ``steps`` plans that many steps instead of ``epochs × ⌈n/B⌉``. ``source``: the run's
    mechanism randomness when the caller already has it (a torchrun rank: rank 0's key); ``check_ledger=False``:
    the ledger is not read (a rank other than 0: rank 0 alone checks and books)."""
    from auditor.leakage.canaries import PURPOSE, plant
    from auditor.train import finetune
    from auditor.train.tasks import for_task

    plan, spec = doc.plan, doc.plan.training
    # The mechanism's randomness: a fresh secret per run, or the interrupted run's own (from its checkpoint).
    if checkpoint is not None:
        source = finetune.checkpoint_source(checkpoint)
    elif source is None:
        source = MechanismRandom()
    task = for_task(plan.model.task)
    data = load_training_data(doc, source.derived_key("split"), task)
    settings = resolve_settings(doc, requirement, data.privacy_units)
    train_examples, groups = finetune.unit_groups(data.train)
    canaries: Canaries | None = None
    if audit is not None and audit.canaries > 0:
        chat = bool(train_examples) and train_examples[0].chat is not None
        labels = plan.model.num_labels if task.name == "sequence-classification" else 1
        canaries = plant(task, audit.canaries, source.derived_key(PURPOSE), chat=chat, labels=labels)
        for example in canaries.trained:  # each its own unit; an excluded one is a unit never sampled
            groups.append([len(train_examples)])
            train_examples.append(example)
    train_units = len(data.train) + (len(canaries) if canaries else 0)
    if rows is not None:  # the caller's rows, not the plan's split: they are what each step samples from
        train_examples, groups, train_units = [], [[i] for i in range(rows)], rows
    steps = steps if steps is not None else finetune.planned_steps(train_units, spec.batch_size, spec.epochs)
    q = accounting.sample_rate_for(train_units, spec.batch_size)
    dataset_sha = dataset_sha256 or sha256_file(doc.dataset_path)
    ledger = Ledger(ledger_dir)
    identities = unit_identities(data) + (canaries.identities() if canaries else [])
    sigma, planned = 0.0, None
    if settings.dp:
        assert settings.target_epsilon is not None and settings.delta is not None
        sigma = accounting.calibrate_noise(settings.target_epsilon, settings.delta, q, steps,
                                           settings.accountant, source=str(doc.source))
        # the predictive stop never lets the run past its ε: the ledger books the steps that fit in it
        booked = accounting.steps_within(settings.target_epsilon, sigma, q, settings.delta, settings.accountant,
                                         steps)
        planned = PlannedRun(epsilon=settings.target_epsilon, delta=settings.delta, noise_multiplier=sigma,
                             sample_rate=q, steps=booked)
        own = str(checkpoint["run_id"]) if checkpoint is not None else None
        if check_ledger:
            if own is not None and ledger.reservation(own) is None:
                raise TrainingInputError(f"{checkpoint_path or 'the checkpoint'}: run {own} has no open "
                                         f"reservation in the privacy ledger {ledger.path}; cannot resume")
            ledger.check(identities, dataset_sha, planned, max_epsilon_allowed=settings.max_epsilon_allowed,
                         delta=settings.delta, accountant=settings.accountant, exclude_run=own,
                         bound_by=requirement.bound_by.get("max_epsilon", ""))
    return Prepared(task=task, data=data, settings=settings, seed=spec.seed if seed is None else seed,
                    source=source, dataset_sha=dataset_sha, ledger=ledger, identities=identities,
                    train_examples=train_examples, groups=groups, train_units=train_units, steps=steps, q=q,
                    sigma=sigma, planned=planned, canaries=canaries)
