"""The training plan, schema v1: what a team declares about one fine-tuning job.

Field names are a contract with users and their pipelines (add fields freely, rename none). Nearly every
field is optional on purpose: a missing DPIA reference or lawful basis is a *finding* the policies report
with an article citation, not a schema error. The schema only rejects what cannot be meant (unknown fields,
wrong types, values outside a closed list).

The schema spans three modules, each readable in one sitting: this one (the plan, its dataset, transfers,
measures, model, training and privacy settings, loading), :mod:`auditor.plan_legal` (the ``legal:`` block per
law) and :mod:`auditor.plan_processing` (flows, processors, recipients, rights, automated decisions); every
name is importable from here.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator

from auditor.errors import PlanError
from auditor.plan_base import Section as _Section
from auditor.plan_legal import (  # re-exported: `from auditor.plan import GdprLegal` keeps working
    Art9Condition,
    CanadaLegal,
    CcpaLegal,
    DpdpLegal,
    EuAiActLegal,
    GdprLegal,
    HipaaLegal,
    JapanAppiLegal,
    KoreaPipaLegal,
    LawfulBasis,
    Legal,
    LgpdLegal,
    PiplBasis,
    PiplLegal,
    UkGdprLegal,
    UsStatesLegal,
)
from auditor.plan_processing import (
    AGE_BAND,
    AutomatedDecisions,
    CnExported,
    Mechanisms,
    Processor,
    Recipient,
    Rights,
    TransferFlow,
    TransferMechanism,
)
from auditor.units import UserIdNormalisation
from auditor.yamlio import describe_validation_error, load_yaml

__all__ = ["AGE_BAND", "Art9Condition", "AutomatedDecisions", "CanadaLegal", "CcpaLegal", "CnExported",
           "DpdpLegal", "EuAiActLegal", "GdprLegal", "HipaaLegal", "JapanAppiLegal", "KoreaPipaLegal",
           "LawfulBasis", "Legal", "LgpdLegal", "PiplBasis", "PiplLegal", "PlanDocument", "Processor", "Recipient",
           "Rights", "TrainingPlan", "TransferFlow", "TransferMechanism", "UkGdprLegal", "UsStatesLegal",
           "load_plan"]


class DataSubjects(_Section):
    regions: list[str] = Field(default_factory=list, max_length=64,
                               description="Where the people are: EU, EEA, UK, CN, US, US-CA, ...")
    count: int | None = Field(default=None, ge=0, description="Estimated number of people in the data")
    minors: bool | None = Field(default=None, description="Anyone under 14 (PIPL) / 16 (GDPR consent age); "
                                                          "shorthand for age_bands, which win when given")
    per_region: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, max_length=64,
        description="People per region (keys as in regions): thresholds count the people of their own law")
    age_bands: list[Annotated[str, Field(pattern=AGE_BAND)]] = Field(
        default_factory=list, max_length=16,
        description="Ages in the data, as bands such as 13-15 or 18+ (the laws draw lines at 12, 13, 14, 16, 18)")
    cn_exported: CnExported | None = Field(
        default=None, description="People in mainland China whose personal information leaves it this "
                                  "calendar year (CAC 2024 thresholds)")

    @field_validator("regions", mode="before")
    @classmethod
    def _norway(cls, regions: object) -> object:
        # YAML 1.1 reads a bare NO (Norway) as false; nobody means a boolean in a list of regions.
        return ["NO" if r is False else r for r in regions] if isinstance(regions, list) else regions

    @field_validator("regions")
    @classmethod
    def _upper(cls, regions: list[str]) -> list[str]:
        return [r.strip().upper() for r in regions]

    @field_validator("per_region")
    @classmethod
    def _upper_keys(cls, counts: dict[str, int]) -> dict[str, int]:
        return {k.strip().upper(): v for k, v in counts.items()}


class Assessments(_Section):
    dpia: str | None = None
    pipia: str | None = None
    cppa_risk_assessment: str | None = None
    ropa: str | None = None
    transfer_impact_assessment: str | None = None
    dpia_high_residual_risk: bool | None = Field(
        default=None, description="The DPIA finds a high risk the measures do not mitigate (GDPR Art. 36(1))")
    prior_consultation: str | None = Field(default=None, description="GDPR Art. 36 consultation reference")
    security_risk_analysis: str | None = Field(default=None, description="HIPAA §164.308(a)(1)(ii)(A)")
    state_data_protection_assessment: str | None = Field(
        default=None, description="Data protection assessment under the US state laws (e.g. Va. Code §59.1-580)")
    quebec_pia: str | None = Field(default=None, description="Quebec s. 3.3 privacy impact assessment")
    quebec_transfer_assessment: str | None = Field(default=None, description="Quebec s. 17 assessment")
    korea_pia: str | None = Field(
        default=None, description="Korea PIPA Art. 33 privacy impact assessment (a public institution's duty)")


class DatasetSpec(_Section):
    path: str = Field(description="Relative to the plan file")
    redaction_evidence: str | None = Field(
        default=None, description="OUT.redaction.json written by `auditor redact` when it produced this dataset "
                                  "(relative to the plan file); the gate checks its sha256 chain")
    format: Literal["jsonl", "csv", "parquet", "text"] | None = None
    text_fields: list[str] = Field(default_factory=lambda: ["text"], min_length=1, max_length=64)
    label_field: str | None = None
    user_id_field: str | None = None
    user_id_normalisation: UserIdNormalisation = Field(
        default="casefold", description="How user ids become people: casefold (trim, NFKC, case-fold), trim "
                                        "(keep case) or exact")
    source: str | None = None
    original_purpose: str | None = None
    retention_days: int | None = Field(default=None, ge=0)
    checkpoint_retention_days: int | None = Field(default=None, ge=0)
    languages: list[str] = Field(default_factory=list, max_length=64)
    collected_from: Literal["data_subjects", "third_parties", "public_sources"] | None = Field(
        default=None, description="Where the data was obtained: from the people themselves (GDPR Art. 13) or "
                                  "not (Art. 14)")


class Transfers(_Section):
    storage_region: str | None = None
    compute_region: str | None = None
    mechanism: Mechanisms = Field(
        default=None, description="One mechanism, or a list when several exports need one each (EU and CN); "
                                  "applies to storage and compute without a flow of their own")
    importer_dpf_certified: bool | None = Field(
        default=None, description="The US storage or compute provider is certified under the EU-US Data Privacy "
                                  "Framework (and its UK Extension)")
    flows: list[TransferFlow] = Field(
        default_factory=list, max_length=32,
        description="Transfers one by one: whose data goes where, how (storage, compute, remote access, "
                    "disclosure) and on which tool")

    @field_validator("storage_region", "compute_region")
    @classmethod
    def _upper(cls, region: str | None) -> str | None:
        return region.strip().upper() if region else region


class Measures(_Section):
    redaction: bool = False
    pseudonymisation: bool = False
    encryption_at_rest: bool = False
    access_control: bool = False
    classification: bool = False


Task = Literal["sequence-classification", "causal-lm"]


class ModelSpec(_Section):
    base: str = Field(default="bundled:minilm", description="bundled:minilm, bundled:smollm2, a local model "
                                                            "directory (relative to the plan) or a hub id")
    task: Task = Field(default="sequence-classification",
                       description="sequence-classification (a new head over the texts) or causal-lm (LoRA "
                                   "next-token fine-tune; chat lists train on assistant turns only)")
    num_labels: int = Field(default=2, ge=2, description="sequence-classification only")


class LoraSpec(_Section):
    """LoRA adapters (peft) for ``causal-lm``: only these small matrices are trained and released, so they
    are all that DP-SGD clips and noises; the base model's weights stay as published."""

    r: int = Field(default=8, ge=1, le=512)
    alpha: int = Field(default=16, ge=1)
    target_modules: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=lambda: ["q_proj", "v_proj"], min_length=1, max_length=64)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    merged: bool = Field(default=False, description="Also write the base model with the adapter merged in")


class TrainingSpec(_Section):
    epochs: int = Field(default=3, ge=1)
    batch_size: int = Field(default=256, ge=1, description="Logical batch; physical batches fit memory")
    physical_batch_size: int = Field(default=32, ge=1)
    learning_rate: float = Field(default=5.0e-4, gt=0)
    max_seq_len: int = Field(default=128, ge=8, le=4096)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 0
    eval_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    trainable_layers: int | None = Field(
        default=None, ge=0, description="Train only the top N encoder layers + head (None: all layers); "
                                        "sequence-classification only")
    lora: LoraSpec | None = Field(default=None, description="causal-lm only; its defaults when absent")


class PrivacySpec(_Section):
    mechanism: Literal["dp-sgd", "none"] = "dp-sgd"
    target_epsilon: float | None = Field(default=None, gt=0)
    target_delta: float | Literal["auto"] = "auto"
    max_grad_norm: float | None = Field(default=None, gt=0)
    accountant: Literal["prv", "rdp"] = "prv"
    unit: Literal["record", "user"] = "record"
    sampling: Literal["poisson"] = "poisson"
    clipping: Literal["bookkeeping", "ghost", "hooks"] = Field(
        default="bookkeeping",
        description="Per-sample clipping: bookkeeping (one backward pass; falls back to ghost, then hooks, for "
                    "layers it cannot clip), ghost (Opacus, two backward passes), hooks (Opacus per-sample "
                    "gradients)")

    @field_validator("target_delta")
    @classmethod
    def _delta_range(cls, delta: float | str) -> float | str:
        if isinstance(delta, float) and not 0.0 < delta < 1.0:
            raise ValueError("target_delta must be 'auto' or a number strictly between 0 and 1")
        return delta


class AuditSpec(_Section):
    """The leakage audit after training (auditor.leakage): canaries planted by secret coins, membership
    inference, the one-run ε lower bound and, for causal-lm, canary exposure and PII extraction."""

    enabled: bool = Field(default=True, description="false: no canaries and no audit, also in 'auditor audit'")
    canaries: int = Field(default=200, ge=0, le=10_000, description="Synthetic canaries, each trained on with "
                                                                   "probability 1/2 (a secret coin)")
    extraction_samples: int = Field(default=200, ge=0, le=100_000, description="causal-lm: generations sampled "
                                                                              "from the trained and the base model")
    max_new_tokens: int = Field(default=48, ge=1, le=1024, description="causal-lm: tokens per generation")
    exposure_candidates: int = Field(default=1000, ge=0, le=1_000_000, description="causal-lm: random secrets "
                                                                                  "each canary is ranked against")
    membership_records: int = Field(default=200, ge=0, le=1_000_000, description="Real records scored on each "
                                                                                "side (training / held out)")


class TrainingPlan(_Section):
    version: Literal[1]
    name: str = Field(min_length=1)
    purpose: str | None = None
    controller: str | None = None
    data_subjects: DataSubjects = Field(default_factory=DataSubjects)
    legal: Legal = Field(default_factory=Legal)
    assessments: Assessments = Field(default_factory=Assessments)
    dataset: DatasetSpec
    transfers: Transfers = Field(default_factory=Transfers)
    measures: Measures = Field(default_factory=Measures)
    model: ModelSpec = Field(default_factory=ModelSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)
    processors: list[Processor] | None = Field(
        default=None, max_length=64, description="Processors and service providers; [] when there are none")
    recipients: list[Recipient] | None = Field(
        default=None, max_length=64, description="Who else receives the data or the model; [] when nobody")
    rights: Rights = Field(default_factory=Rights)
    automated_decisions: AutomatedDecisions = Field(default_factory=AutomatedDecisions)
    audit: AuditSpec | None = Field(default=None, description="The leakage audit: 'auditor train' runs it when "
                                                              "this is set, 'auditor audit' unless enabled is false")

    def cel_view(self) -> dict[str, Any]:
        """The plan as CEL sees it: every section present, unset leaves absent.

        Dropping ``None`` leaves makes ``has(plan.assessments.dpia)`` mean "recorded", while keeping every
        section lets a rule test ``has(plan.legal.pipl.legal_basis)`` on a plan with no ``legal:`` block.
        """
        return self.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class PlanDocument:
    """A validated plan plus where it came from, so relative paths and digests resolve correctly."""

    plan: TrainingPlan
    source: Path
    sha256: str
    text: str
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, dotted: str) -> int | None:
        """The plan line for ``legal.gdpr.lawful_basis`` (or its nearest ancestor), for SARIF locations."""
        key: tuple[str | int, ...] = tuple(dotted.split("."))
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    @property
    def dataset_path(self) -> Path:
        """The dataset named by the plan, relative to the plan file's folder."""
        path = Path(self.plan.dataset.path).expanduser()
        return path if path.is_absolute() else (self.source.parent / path)

    @property
    def redaction_evidence_path(self) -> Path | None:
        """``dataset.redaction_evidence``, relative to the plan file's folder; ``None`` when not set."""
        named = self.plan.dataset.redaction_evidence
        if named is None:
            return None
        path = Path(named).expanduser()
        return path if path.is_absolute() else (self.source.parent / path)

    def dataset_problem(self) -> str | None:
        """Why the plan's dataset cannot be read, as ``plan.yaml:LINE: dataset.path: ...``; ``None`` if it is
        a file. Users fix the plan, not the reader, so the message names the plan field, not only a path."""
        path = self.dataset_path
        if path.is_file():
            return None
        if not path.exists():
            problem = "not found" + ("" if Path(self.plan.dataset.path).is_absolute() else
                                     " (dataset.path is relative to the plan's folder)")
        elif path.is_dir():
            problem = "is a folder, not a dataset file"
        else:
            problem = "is not a regular file (a pipe or device); save the dataset to a file"
        line = self.line_of("dataset.path")
        return f"{self.source}{f':{line}' if line else ''}: dataset.path: {path} {problem}"

    def require_dataset(self) -> Path:
        """The dataset file, or a :class:`PlanError` naming the plan file, line and field."""
        problem = self.dataset_problem()
        if problem is not None:
            raise PlanError(problem)
        return self.dataset_path


def _task_problem(plan: TrainingPlan) -> tuple[str, str] | None:
    """A field the plan sets that its task does not use: refused rather than silently ignored, since a
    plan naming a label field for a causal LM was most likely meant for a classifier."""
    task = plan.model.task
    if task == "causal-lm":
        if plan.dataset.label_field is not None:
            return "dataset.label_field", "model.task causal-lm trains on the texts themselves and uses no label"
        if "num_labels" in plan.model.model_fields_set:
            return "model.num_labels", "model.task causal-lm has no classes; remove num_labels"
        if plan.training.trainable_layers is not None:
            return "training.trainable_layers", ("model.task causal-lm trains LoRA adapters; set "
                                                 "training.lora.target_modules instead")
    elif plan.training.lora is not None:
        return "training.lora", f"LoRA is offered for model.task causal-lm, not {task}"
    return None


def load_plan(path: Path | str) -> PlanDocument:
    """Load and validate a plan; every failure is one :class:`PlanError` line naming file, field and line."""
    path = Path(path)
    loaded = load_yaml(path, "training plan", PlanError)
    if not isinstance(loaded.data, dict):
        raise PlanError(f"{path}:1: a training plan must be a YAML mapping (version: 1, name: ..., dataset: ...)")
    try:
        plan = TrainingPlan.model_validate(loaded.data)
    except ValidationError as exc:
        raise PlanError(describe_validation_error(exc, path, loaded, model=TrainingPlan)) from None
    problem = _task_problem(plan)
    if problem is not None:
        dotted, message = problem
        line = loaded.line_of(tuple(dotted.split(".")))
        raise PlanError(f"{path}{f':{line}' if line else ''}: {dotted}: {message}")
    text = loaded.raw.decode("utf-8-sig")
    return PlanDocument(plan=plan, source=path, sha256=hashlib.sha256(loaded.raw).hexdigest(), text=text,
                        lines=loaded.lines)
