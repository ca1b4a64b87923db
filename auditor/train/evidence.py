"""What a DP fine-tune proves about itself: ``DIR/training.json``, embedded in the signed report.

Every number an auditor needs to re-derive the guarantee is here: the mechanism's parameters (σ, q, steps,
clipping norm, sampling), both accountants' ε after every step, the requirement that bounded the run and
which policy rule set each bound, and digests tying it to the exact dataset and the weights produced. It
never holds a record's text: only counts, digests and metrics.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.privacy import randomness
from auditor.privacy.ledger import LedgerTotals
from auditor.privacy.requirements import PrivacyRequirement

StopReason = Literal["completed", "budget_exhausted", "ledger_budget"]
ClippingMode = Literal["ghost", "hooks", "bookkeeping", "none"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepEpsilon(_Frozen):
    """ε spent after one optimizer step, from both accountants; enforcement used the larger."""

    step: int = Field(ge=1)
    epsilon_opacus: float = Field(ge=0, description="Opacus' accountant (the plan's prv or rdp)")
    epsilon_pld: float = Field(ge=0, description="Independent cross-check: dp-accounting PLD")


class ClippingInfo(_Frozen):
    """How per-sample gradients were bounded, and whether the fast mode had to fall back."""

    requested: ClippingMode
    used: ClippingMode
    fallback_reason: str | None = Field(default=None, description="Why the requested mode was not used")
    trainable_parameters: int = Field(ge=0)
    total_parameters: int = Field(ge=0)
    trainable_layers: str = Field(default="all", description="e.g. 'all', or 'top 2 encoder layers + head'")


class LoraInfo(_Frozen):
    """The adapters trained (peft LoRA): what the released adapter is, and which base it applies to."""

    r: int = Field(ge=1)
    alpha: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    target_modules: list[str]
    adapted_modules: int = Field(ge=1, description="Modules of the base model that got an adapter")
    merged: bool = Field(description="Whether the folder also holds the base model with the adapter merged in")


class SettingSource(_Frozen):
    """Where one enforced value came from: the plan, or a policy rule (``policy/RULE``) that bound it."""

    value: float
    source: str = Field(description="'plan', or the policy rule from PrivacyRequirement.bound_by")


EVAL_NOTE = ("computed without noise on held-out personal data, outside the DP guarantee: the held-out "
             "people are not protected by ε in these numbers (they are aggregates over many people, but "
             "no bound is claimed)")


class EvalMetrics(_Frozen):
    records: int = Field(ge=0, description="Held-out records evaluated")
    accuracy: float | None = Field(default=None, ge=0, le=1, description="sequence-classification")
    macro_f1: float | None = Field(default=None, ge=0, le=1, description="sequence-classification")
    perplexity: float | None = Field(default=None, ge=1, description="causal-lm: exp of the mean loss per "
                                                                     "target token (assistant turns of chats)")
    tokens: int | None = Field(default=None, ge=0, description="causal-lm: target tokens evaluated")
    differentially_private: Literal[False] = False
    note: str = EVAL_NOTE


class RandomnessInfo(_Frozen):
    """Where the run's randomness came from, and which parts of it anyone can reproduce."""

    mechanism_generator: str = randomness.GENERATOR
    mechanism_draws: list[str] = Field(default_factory=lambda: [
        "Poisson sampling of privacy units", "which record of a person each step uses", "the train/eval split",
        "the Gaussian noise"])
    gaussian: str = randomness.GAUSSIAN
    opacus_secure_mode: Literal[False] = False
    secure_mode_note: str = randomness.SECURE_MODE
    public_seed: int = Field(description="training.seed: public, and part of no DP mechanism")
    public_seed_covers: list[str] = Field(default_factory=lambda: [
        "initial weights of the new classification head", "dropout masks"])
    checkpoint: str = ("holds the mechanism's key: written 0600 in a 0700 folder, deleted when the run ends "
                       "(completed, refused or failed); only a killed run leaves it, for --resume")


class UnitInfo(_Frozen):
    """What one privacy unit is, and how much one unit can contribute to each step."""

    unit: Literal["record", "user"]
    privacy_units: int = Field(ge=0, description="n: records, or distinct people")
    train_units: int | None = Field(default=None, ge=0, description="Units in the training split (the rest are "
                                                                     "held out), plus every canary: q = 1 / "
                                                                     "⌈train_units / batch⌉")
    canaries: int = Field(default=0, ge=0, description="Synthetic canaries among train_units (the leakage audit's; "
                                                       "each trained on with probability 1/2, a secret coin)")
    user_id_field: str | None = None
    user_id_normalisation: str | None = Field(default=None, description="How ids became people")
    users_with_multiple_records: int | None = None
    contribution_bound: str = Field(description="Records of one unit per step, and the sensitivity")


class Versions(_Frozen):
    auditor: str
    python: str
    torch: str
    transformers: str
    opacus: str
    dp_accounting: str
    peft: str | None = None


class TrainingEvidence(_Frozen):
    """The evidence of one training run (``training.json``, schema v1)."""

    schema_version: Literal[1] = 1
    run_id: str
    plan_name: str
    plan_sha256: str
    dataset_sha256: str
    model_base: str = Field(description="The plan's model.base, e.g. bundled:minilm")
    model_dir: str = Field(default="model", description="Relative to the evidence directory")
    model_weights_sha256: str = Field(description="sha256 of the saved weights file (model_weights_file)")
    model_weights_file: str = Field(default="model.safetensors",
                                    description="The trained weights inside model_dir: model.safetensors, or "
                                                "adapter_model.safetensors for LoRA")
    merged_weights_sha256: str | None = Field(default=None, description="LoRA with merged: the merged "
                                                                          "model's merged/model.safetensors")
    task: Literal["sequence-classification", "causal-lm"] = "sequence-classification"
    lora: LoraInfo | None = None

    # The data actually loaded.
    records: int = Field(ge=0, description="Records loaded from the dataset")
    unreadable_lines: int = Field(default=0, ge=0, description="Lines skipped as the scan skips them (read errors)")
    unreadable_first_lines: list[int] = Field(default_factory=list, description="The first few of them")
    train_records: int = Field(ge=0)
    eval_records: int = Field(ge=0)
    unit: Literal["record", "user"]
    privacy_units: int = Field(ge=0, description="n: records, or distinct users for user-level DP")
    units: UnitInfo

    # The mechanism.
    mechanism: Literal["dp-sgd", "none"]
    noise_multiplier: float = Field(ge=0, description="σ")
    sample_rate: float = Field(ge=0, le=1, description="q: Poisson sampling probability per step")
    sampling: Literal["poisson"] = "poisson"
    max_grad_norm: float | None = Field(default=None, description="Per-sample (or per-user) clipping norm C")
    logical_batch_size: int = Field(ge=1)
    physical_batch_size: int = Field(ge=1)
    clipping: ClippingInfo
    epochs_planned: int = Field(ge=1)
    steps_planned: int = Field(ge=0)
    steps: int = Field(ge=0, description="Optimizer steps actually taken")
    learning_rate: float

    # The guarantee.
    accountant: Literal["prv", "rdp"]
    cross_check_accountant: Literal["pld"] = "pld"
    target_epsilon: float | None = Field(default=None, description="The ε the noise was calibrated for")
    max_epsilon_allowed: float | None = Field(default=None, description="The policies' maximum, if any")
    delta: float | None = Field(default=None, description="δ = min(plan δ, policies' δ bound for n)")
    epsilon_opacus: float | None = None
    epsilon_pld: float | None = None
    epsilon: float | None = Field(default=None, description="The larger of the two: what was enforced")
    epsilon_per_step: list[StepEpsilon] = Field(default_factory=list)
    settings: dict[str, SettingSource] = Field(
        default_factory=dict, description="epsilon, delta, max_grad_norm: value and what set it")
    requirement: PrivacyRequirement
    stop_reason: StopReason
    stop_detail: str = ""
    ledger: LedgerTotals | None = Field(default=None, description="After settlement: the worst-off unit's "
                                                                   "composed ε and δ over every run")
    randomness: RandomnessInfo
    leakage_file: str | None = Field(default=None, description="The leakage audit (leakage.json), beside this "
                                                               "file, when one ran")
    leakage_sha256: str | None = None
    leakage_verdict: Literal["pass", "fail", "incomplete"] | None = Field(
        default=None, description="fail: the audit's ε lower bound is above the claimed ε")

    # Quality and provenance.
    eval: EvalMetrics
    device: str
    precision: Literal["fp32", "bf16"] = "fp32"
    processes: int = Field(default=1, ge=1, description="Processes that trained the run together (torchrun ranks, "
                                                        "Opacus DPDDP): each took its share of every Poisson batch, "
                                                        "rank 0 alone added the noise")
    versions: Versions
    resumed: bool = False
    trainer: str = Field(default="auditor train", description="What ran the loop: 'auditor train', or the "
                                                               "Trainer integration's class (auditor.integrations."
                                                               "transformers), e.g. 'PrivateTrainer'")
    training_rows: Literal["plan", "caller"] = Field(
        default="plan", description="plan: the plan's records, split and encoded by auditor; caller: the rows of "
                                    "the caller's own train_dataset, each one privacy unit (auditor cannot check "
                                    "that a row is exactly one record of the plan's dataset)")
    started_at: str
    wall_time_s: float = Field(ge=0)
