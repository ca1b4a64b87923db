"""``leakage.json``, schema v1: what the leakage audit measured on the trained model, and what it did not test.

Aggregates only. No canary secret, no record, no generated text and no PII value (not even hashed) is in
it: the canaries' coins are summarised as counts and an ROC curve, the extraction as counts of distinct
values. Field names are a contract, like ``training.json``'s.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LEAKAGE_FILE = "leakage.json"

#: The attacks EDPB Opinion 28/2024 names for judging whether a model trained on personal data is anonymous
#: (¶¶43, 55, 58): an audit that ran some of them is evidence against those only.
EDPB_ATTACKS = ("membership inference", "extraction (regurgitation of training data)", "attribute inference",
                "model inversion (reconstruction of training data)")

MEANING = ("A passed test is evidence only against that attack, as run here (EDPB Opinion 28/2024 ¶58): it does "
           "not show that no other attack succeeds, and the ε lower bound detects broken DP implementations "
           "rather than certifying the claimed ε.")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CanaryCounts(_Frozen):
    inserted: int = Field(ge=0, description="Synthetic canaries made; each a privacy unit in the accountant's n")
    included: int = Field(ge=0, description="Canaries a secret coin put into the training data")
    excluded: int = Field(ge=0, description="Canaries left out (the non-members the attacks are scored against)")
    shape: str = Field(default="", description="What a canary looks like (its template, never a secret)")


class TprAtFpr(_Frozen):
    fpr: float = Field(ge=0, le=1, description="The false-positive rate the threshold allows")
    tpr: float = Field(ge=0, le=1)
    true_positives: int = Field(ge=0)
    positives: int = Field(ge=0)
    ci95: tuple[float, float] = Field(description="Clopper-Pearson 95% interval of the TPR")


class RealRecords(_Frozen):
    """Membership inference on the real data: training records against held-out ones."""

    auc: float | None
    members: int = Field(ge=0, description="Training records scored")
    non_members: int = Field(ge=0, description="Held-out records scored")
    tpr_at_fpr: list[TprAtFpr] = Field(default_factory=list)
    differentially_private: Literal[False] = False
    note: str = ("computed without noise from the model's losses on personal data, outside the DP guarantee; "
                 "an aggregate over many people")


class Membership(_Frozen):
    score: str = Field(description="What ranks a candidate member: its loss, or its loss against the base model")
    auc: float | None = Field(description="Included against excluded canaries")
    members: int = Field(ge=0)
    non_members: int = Field(ge=0)
    tpr_at_fpr: list[TprAtFpr] = Field(default_factory=list)
    roc: list[tuple[float, float]] = Field(default_factory=list, description="(FPR, TPR) on the canaries")
    real_records_auc: float | None = Field(default=None, description="Training against held-out real records")
    real_records: RealRecords | None = None
    negative_control_auc: float | None = Field(
        default=None, description="Two halves of the excluded canaries (split by a secret coin): no signal "
                                  "should separate them, so this should be near 0.5")
    base_model_auc: float | None = Field(
        default=None, description="Included against excluded canaries, scored by the base model, which never saw "
                                  "them: should be near 0.5")


class EpsilonLowerBound(_Frozen):
    value: float = Field(ge=0, description="ε the canary guesses prove the training does not meet")
    ceiling: float = Field(ge=0, description="The largest value possible with this many guesses (all right)")
    confidence: float
    guesses: int = Field(ge=0)
    correct: int = Field(ge=0)
    canaries: int = Field(ge=0)
    delta: float = Field(ge=0)
    claimed_epsilon: float | None = Field(default=None, description="The ε the training evidence states")
    exceeds_claim: bool = Field(description="The lower bound is above the claimed ε: the DP implementation is broken")


class Exposure(_Frozen):
    median: float
    max: float
    excluded_median: float | None = Field(default=None, description="The same for excluded canaries (control: "
                                                                      "about 1 bit)")
    candidates: int = Field(ge=1, description="Random secrets of the same shape each canary is ranked against")
    ceiling: float = Field(description="log2(candidates + 1): the most this many candidates can show")
    histogram: list[int] = Field(default_factory=list, description="Included canaries per whole bit of exposure")


class Extraction(_Frozen):
    samples: int = Field(ge=0, description="Generations sampled from each model, same prompts and randomness")
    max_new_tokens: int = Field(ge=1)
    prompts: int = Field(ge=0, description="Distinct generic prompts (none holds a data value)")
    training_values: int = Field(ge=0, description="Distinct PII values the scanner finds in the training split")
    training_pii_reproduced: int = Field(ge=0, description="Training PII values the trained model wrote and the "
                                                           "base model did not")
    base_model_reproduced: int = Field(ge=0, description="Training PII values the base model wrote too")
    by_entity: dict[str, int] = Field(default_factory=dict, description="training_pii_reproduced per entity type")
    method: str = ("Lukas et al. (IEEE S&P 2023): sample both models, run the scanner over what they write, and "
                   "match against the training split's PII values by keyed hashes held in memory only")


class LeakageReport(_Frozen):
    schema_version: Literal[1] = 1
    task: str
    status: Literal["completed", "failed"] = "completed"
    failure: str | None = Field(default=None, description="Why the audit did not complete (no claim is made then)")
    canaries: CanaryCounts
    membership: Membership | None = None
    epsilon_lower_bound: EpsilonLowerBound | None = None
    exposure: Exposure | None = Field(default=None, description="causal-lm only")
    extraction: Extraction | None = Field(default=None, description="causal-lm only")
    attacks_run: list[str] = Field(default_factory=list)
    attacks_not_run: list[str] = Field(default_factory=list, description="EDPB Opinion 28/2024's attacks not run")
    verdict: Literal["pass", "fail", "incomplete"] = Field(
        description="fail: the ε lower bound is above the claimed ε; incomplete: the audit did not finish")
    verdict_reason: str
    wall_time_s: float = Field(ge=0)
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds per part of the audit")
    meaning: str = MEANING
