"""What policy rules can read of a leakage audit (``facts.leakage.*``) after training.

Flat and few, so CEL conditions stay readable: ``facts.leakage.training_pii_reproduced == 0``. A value the
audit did not measure is *absent* (``has(facts.leakage.real_records_auc)`` is false), never zero: a rule
must not read "no test" as "no leak". Reading a run's folder checks the chain: ``leakage.json`` must be
the file ``training.json`` names, with the sha256 it records, for this plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.errors import InputError

if TYPE_CHECKING:
    from auditor.leakage.model import LeakageReport


class LeakageFacts(BaseModel):
    # built on first use: ``auditor check`` imports this module whether or not a run is given
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    status: str
    verdict: str
    task: str
    canaries: int
    attacks_run: list[str]
    attacks_not_run: list[str]
    membership_auc: float | None = None
    real_records_auc: float | None = None
    epsilon_lower_bound: float | None = None
    epsilon_lower_bound_ceiling: float | None = None
    claimed_epsilon: float | None = None
    lower_bound_exceeds_claim: bool | None = None
    exposure_max: float | None = None
    exposure_median: float | None = None
    training_pii_reproduced: int | None = None
    base_model_reproduced: int | None = None

    @classmethod
    def from_report(cls, report: LeakageReport) -> LeakageFacts:
        """The report's numbers, rounded to 3 decimals for the sentences rules print (decisions such as
        ``lower_bound_exceeds_claim`` were taken on the exact values)."""
        m, b, x, e = report.membership, report.epsilon_lower_bound, report.exposure, report.extraction

        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return cls(status=report.status, verdict=report.verdict, task=report.task, canaries=report.canaries.inserted,
                   attacks_run=list(report.attacks_run), attacks_not_run=list(report.attacks_not_run),
                   membership_auc=r(m.auc) if m else None, real_records_auc=r(m.real_records_auc) if m else None,
                   epsilon_lower_bound=r(b.value) if b else None,
                   epsilon_lower_bound_ceiling=r(b.ceiling) if b else None,
                   claimed_epsilon=r(b.claimed_epsilon) if b else None,
                   lower_bound_exceeds_claim=b.exceeds_claim if b else None,
                   exposure_max=r(x.max) if x else None, exposure_median=r(x.median) if x else None,
                   training_pii_reproduced=e.training_pii_reproduced if e else None,
                   base_model_reproduced=e.base_model_reproduced if e else None)

    def cel_view(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def read_run(folder: Path, plan_sha256: str | None = None) -> LeakageReport:
    """The leakage audit of a training run folder, after checking that ``training.json`` names it with its
    digest (and, given ``plan_sha256``, that the run trained this plan)."""
    from auditor.fsutil import sha256_file
    from auditor.leakage.model import LeakageReport
    from auditor.train.evidence import TrainingEvidence
    from auditor.yamlio import read_bytes

    training_path = Path(folder) / "training.json"
    if not training_path.is_file():
        raise InputError(f"{folder}: --training needs a training run folder holding training.json")
    try:
        training = TrainingEvidence.model_validate_json(read_bytes(training_path, "training evidence"))
    except ValidationError as exc:
        raise InputError(f"{training_path}: not a training.json this version can read ({exc.error_count()} "
                         "errors)") from None
    if plan_sha256 is not None and training.plan_sha256 != plan_sha256:
        raise InputError(f"{training_path}: the run trained another plan (plan sha256 "
                         f"{training.plan_sha256[:12]}…); check the plan that was trained")
    if training.leakage_file is None or training.leakage_sha256 is None:
        raise InputError(f"{training_path}: this run has no leakage audit (the plan had no audit section, or "
                         "it was disabled)")
    path = Path(folder) / Path(training.leakage_file).name
    if not path.is_file() or sha256_file(path) != training.leakage_sha256:
        raise InputError(f"{path}: missing, or not the leakage.json training.json records (sha256 differs)")
    try:
        return LeakageReport.model_validate_json(read_bytes(path, "leakage audit"))
    except ValidationError as exc:
        raise InputError(f"{path}: not a valid leakage.json ({exc.error_count()} errors)") from None
