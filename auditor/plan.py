"""The training plan, schema v1: what a team declares about one fine-tuning job.

Field names are a contract with users and their pipelines (add fields freely, rename none). Nearly every
field is optional on purpose: a missing DPIA reference or lawful basis is a *finding* the policies report
with an article citation, not a schema error. The schema only rejects what cannot be meant (unknown fields,
wrong types, values outside a closed list).
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.errors import PlanError
from auditor.units import UserIdNormalisation
from auditor.yamlio import describe_validation_error, load_yaml

LawfulBasis = Literal["consent", "contract", "legal_obligation", "vital_interests", "public_task",
                      "legitimate_interests"]
Art9Condition = Literal["explicit_consent", "employment_social_security", "vital_interests", "not_for_profit",
                        "made_public", "legal_claims", "substantial_public_interest", "health_care",
                        "public_health", "research_art89"]
PiplBasis = Literal["consent", "contract", "hr_management", "legal_duty", "emergency", "news",
                    "public_disclosed", "other_law"]
TransferMechanism = Literal["none", "adequacy", "scc", "bcr", "derogation", "cac_security_assessment",
                            "cac_standard_contract", "cac_certification"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: object) -> object:
        """A bare ``legal:`` (YAML null) with nothing under it means an empty section, not a type error.

        Users comment out every field of a section and leave its heading; sections whose fields all have
        defaults then read as ``{}``. A section with required fields (``dataset:``) still reports those.
        """
        if not isinstance(data, dict):
            return data
        empty = [name for name, info in cls.model_fields.items() if name in data and data[name] is None
                 and isinstance(info.annotation, type) and issubclass(info.annotation, _Section)]
        return {**data, **{name: {} for name in empty}} if empty else data


class DataSubjects(_Section):
    regions: list[str] = Field(default_factory=list, max_length=64,
                               description="Where the people are: EU, EEA, UK, CN, US, US-CA, ...")
    count: int | None = Field(default=None, ge=0, description="Estimated number of people in the data")
    minors: bool | None = Field(default=None, description="Anyone under 14 (PIPL) / 16 (GDPR consent age)")

    @field_validator("regions", mode="before")
    @classmethod
    def _norway(cls, regions: object) -> object:
        # YAML 1.1 reads a bare NO (Norway) as false; nobody means a boolean in a list of regions.
        return ["NO" if r is False else r for r in regions] if isinstance(regions, list) else regions

    @field_validator("regions")
    @classmethod
    def _upper(cls, regions: list[str]) -> list[str]:
        return [r.strip().upper() for r in regions]


class GdprLegal(_Section):
    lawful_basis: LawfulBasis | None = None
    special_category_condition: Art9Condition | None = None
    criminal_offence_basis: str | None = None
    legitimate_interest_assessment: str | None = None
    opt_out: bool | None = None
    compatibility_assessment: str | None = None


class PiplLegal(_Section):
    legal_basis: PiplBasis | None = None
    separate_consent_sensitive: bool | None = None
    separate_consent_export: bool | None = None
    guardian_consent: bool | None = None
    notice_of_necessity: bool | None = None
    recipient_disclosed: bool | None = None
    cii_operator: bool | None = None
    important_data: bool | None = None


class CcpaLegal(_Section):
    notice_at_collection: bool | None = None
    limit_use_of_spi_honoured: bool | None = None
    purpose_necessary_and_proportionate: bool | None = None
    deidentified: bool | None = None
    public_commitment_no_reidentification: bool | None = None
    contractual_flow_down: bool | None = None
    admt_training: bool | None = None


class HipaaLegal(_Section):
    applies: bool | None = Field(default=None, description="The data is PHI held by a covered entity or associate")
    deidentification: Literal["safe_harbor", "expert_determination", "none"] | None = None
    expert_determination_ref: str | None = None
    no_actual_knowledge: bool | None = None


class EuAiActLegal(_Section):
    high_risk: bool | None = None
    general_purpose_model: bool | None = None
    bias_examination: str | None = None
    data_gaps: str | None = None
    preparation_steps: str | None = None
    assumptions: str | None = None
    technical_documentation: str | None = None
    copyright_policy: str | None = None
    training_content_summary: str | None = None
    special_category_for_bias: str | None = None


class Legal(_Section):
    gdpr: GdprLegal = Field(default_factory=GdprLegal)
    pipl: PiplLegal = Field(default_factory=PiplLegal)
    ccpa: CcpaLegal = Field(default_factory=CcpaLegal)
    hipaa: HipaaLegal = Field(default_factory=HipaaLegal)
    eu_ai_act: EuAiActLegal = Field(default_factory=EuAiActLegal)


class Assessments(_Section):
    dpia: str | None = None
    pipia: str | None = None
    cppa_risk_assessment: str | None = None
    ropa: str | None = None
    transfer_impact_assessment: str | None = None


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


class Transfers(_Section):
    storage_region: str | None = None
    compute_region: str | None = None
    mechanism: TransferMechanism | Annotated[list[TransferMechanism], Field(max_length=16)] | None = Field(
        default=None, description="One mechanism, or a list when several exports need one each (EU and CN)")

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
