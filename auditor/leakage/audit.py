"""The leakage audit: what the trained model gives away, measured on the model itself after training.

It runs on the model in memory right after it was saved (so it audits exactly the released weights), and
only reads: scores, samples, counts. What it runs, after EDPB Opinion 28/2024 (¶¶43, 55, 58):

* membership inference on the canaries (included against excluded: AUC, ROC, TPR at 0.1/1/10% FPR with
  exact intervals) and on the real records (training against held out), with negative controls;
* the one-run ε lower bound from the same canaries, beside the ceiling its number of guesses allows; above
  the claimed ε it fails the run: the DP implementation is broken;
* for a generative model, canary exposure (the secret's rank among random candidates) and PII extraction.

Everything an attack needs that is random (which records are scored, the candidates) comes from a key
derived from the run's mechanism key, so it is as secret as the canaries' coins; none of it is written.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.leakage import stats
from auditor.leakage.canaries import Canaries, candidates
from auditor.leakage.model import (
    EDPB_ATTACKS,
    CanaryCounts,
    EpsilonLowerBound,
    Exposure,
    Extraction,
    LeakageReport,
    Membership,
    RealRecords,
    TprAtFpr,
)
from auditor.leakage.scoring import losses, scores
from auditor.privacy.randomness import MechanismRandom

if TYPE_CHECKING:
    from auditor.plan import AuditSpec
    from auditor.train.data import Example
    from auditor.train.tasks.base import Loaded, Task

CONFIDENCE = 0.95
Say = Callable[[str], None]


@dataclass(frozen=True)
class AuditInputs:
    task: Task
    loaded: Loaded
    canaries: Canaries | None
    members: Sequence[Example]          # real training records (canaries apart)
    non_members: Sequence[Example]      # held-out real records
    spec: AuditSpec
    key: bytes                          # derived from the mechanism key, purpose "leakage"
    claimed_epsilon: float | None       # None for a run without DP
    delta: float
    max_len: int
    batch: int
    device: str


def run_audit(inputs: AuditInputs, say: Say | None = None) -> LeakageReport:
    """Every test the task allows; a test that cannot run is named in ``attacks_not_run``, never faked."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    clock = [started]

    def note(message: str) -> None:
        if say is not None:
            say(message)

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 3)
        clock[0] = now

    task, spec = inputs.task, inputs.spec
    canaries = inputs.canaries
    run: list[str] = []
    membership: Membership | None = None
    bound: EpsilonLowerBound | None = None
    exposure: Exposure | None = None
    extraction: Extraction | None = None
    counts = CanaryCounts(inserted=len(canaries or ()), included=sum(canaries.included) if canaries else 0,
                          excluded=len(canaries or ()) - (sum(canaries.included) if canaries else 0),
                          shape=canaries.shape if canaries else "")
    canary_scores: list[float] = []
    if canaries is not None and len(canaries) >= 2:
        note(f"scoring {len(canaries)} canaries")
        canary_scores, base_scores = scores(task, inputs.loaded, canaries.examples, max_len=inputs.max_len,
                                            batch=inputs.batch, device=inputs.device)
        membership = _canary_membership(canaries, canary_scores, base_scores, inputs.loaded, task)
        bound = _lower_bound(canaries, canary_scores, inputs)
        run.append("membership inference")
        lap("canaries")
    real = _real_records(inputs, note)
    lap("real records")
    if real is not None:
        if membership is None:
            membership = Membership(score="loss", auc=None, members=0, non_members=0)
        membership = membership.model_copy(update={"real_records": real, "real_records_auc": real.auc})
        if "membership inference" not in run:
            run.append("membership inference")
    if task.generative and canaries is not None and len(canaries) >= 2 and spec.exposure_candidates > 0:
        note(f"ranking canaries among {spec.exposure_candidates} random candidates")
        exposure = _exposure(inputs, canaries)
        run.append("canary exposure")
        lap("exposure")
    if task.generative and spec.extraction_samples > 0:
        note(f"sampling {spec.extraction_samples} generations from the trained and the base model")
        extraction = _extraction(inputs, lap)
        run.append("extraction (regurgitation of training data)")
    exceeds = bound is not None and bound.exceeds_claim
    if exceeds:
        assert bound is not None
        reason = (f"the canaries prove ε ≥ {bound.value:.2f} (95% confidence) but the training claims ε = "
                  f"{bound.claimed_epsilon:.2f}: the DP implementation is broken; do not release this model")
    else:
        reason = ("no test found more leakage than the claimed ε allows" if inputs.claimed_epsilon is not None
                  else "trained without DP: there is no ε claim to test; the numbers show what the model leaks")
    return LeakageReport(task=task.name, canaries=counts, membership=membership, epsilon_lower_bound=bound,
                         exposure=exposure, extraction=extraction, attacks_run=run,
                         attacks_not_run=[a for a in EDPB_ATTACKS if a not in run],
                         verdict="fail" if exceeds else "pass", verdict_reason=reason,
                         wall_time_s=time.perf_counter() - started, timings=timings)


def _tprs(positives: Sequence[float], negatives: Sequence[float]) -> list[TprAtFpr]:
    out = []
    for fpr in stats.FPRS:
        tp, n = stats.tpr_at_fpr(positives, negatives, fpr)
        out.append(TprAtFpr(fpr=fpr, tpr=tp / n if n else 0.0, true_positives=tp, positives=n,
                            ci95=stats.clopper_pearson(tp, n, CONFIDENCE)))
    return out


def _split(values: Sequence[float], sides: Sequence[bool]) -> tuple[list[float], list[float]]:
    return ([v for v, s in zip(values, sides, strict=True) if s], [v for v, s in zip(values, sides, strict=True)
                                                                    if not s])


def _canary_membership(canaries: Canaries, canary_scores: list[float], base_scores: list[float] | None,
                       loaded: Loaded, task: Task) -> Membership:
    inside, outside = _split(canary_scores, canaries.included)
    excluded_halves = [h for h, i in zip(canaries.control_half, canaries.included, strict=True) if not i]
    half_a, half_b = _split(outside, excluded_halves)
    base_auc = None
    if base_scores is not None:
        base_in, base_out = _split(base_scores, canaries.included)
        base_auc = stats.auc(base_in, base_out)
    return Membership(score="loss relative to the base model" if base_scores is not None else "loss",
                      auc=stats.auc(inside, outside), members=len(inside), non_members=len(outside),
                      tpr_at_fpr=_tprs(inside, outside), roc=stats.roc(inside, outside),
                      negative_control_auc=stats.auc(half_a, half_b), base_model_auc=base_auc)


def _lower_bound(canaries: Canaries, canary_scores: list[float], inputs: AuditInputs) -> EpsilonLowerBound:
    """Guesses on the best and worst quarter of the canaries: a number fixed before any score is seen."""
    m = len(canaries)
    r, v = stats.guesses(canary_scores, canaries.included, m // 4, canaries.tie_keys)
    value = stats.epsilon_lower_bound(m, r, v, inputs.delta, CONFIDENCE)
    ceiling = stats.epsilon_lower_bound(m, r, r, inputs.delta, CONFIDENCE)
    claimed = inputs.claimed_epsilon
    return EpsilonLowerBound(value=value, ceiling=ceiling, confidence=CONFIDENCE, guesses=r, correct=v, canaries=m,
                             delta=inputs.delta, claimed_epsilon=claimed,
                             exceeds_claim=claimed is not None and value > claimed)


def _sample(examples: Sequence[Example], limit: int, key: bytes) -> list[Example]:
    """``limit`` of ``examples`` at random (all of them when there are fewer): the smallest keyed hashes of
    their texts, so whether one record is scored does not depend on which other records exist."""
    if len(examples) <= limit:
        return list(examples)

    def rank(i: int) -> bytes:
        return hashlib.blake2b(examples[i].text.encode("utf-8", "surrogatepass"), key=key, digest_size=8).digest()

    return [examples[i] for i in sorted(sorted(range(len(examples)), key=rank)[:limit])]


def _real_records(inputs: AuditInputs, note: Say) -> RealRecords | None:
    limit = inputs.spec.membership_records
    if limit <= 0 or not inputs.members or not inputs.non_members:
        return None
    key = MechanismRandom(inputs.key).derived_key("scored records")
    members = _sample(inputs.members, limit, key)
    non_members = _sample(inputs.non_members, limit, key)
    note(f"scoring {len(members)} training and {len(non_members)} held-out records")
    inside, _ = scores(inputs.task, inputs.loaded, members, max_len=inputs.max_len, batch=inputs.batch,
                       device=inputs.device)
    outside, _ = scores(inputs.task, inputs.loaded, non_members, max_len=inputs.max_len, batch=inputs.batch,
                        device=inputs.device)
    return RealRecords(auc=stats.auc(inside, outside), members=len(inside), non_members=len(outside),
                       tpr_at_fpr=_tprs(inside, outside))


def _exposure(inputs: AuditInputs, canaries: Canaries) -> Exposure:
    """Each canary's loss ranked among random secrets of the same shape (same template, so the ranking
    compares the secrets alone)."""
    count = inputs.spec.exposure_candidates
    pool = candidates(inputs.task, count, MechanismRandom(inputs.key).derived_key("candidates"),
                      chat=canaries.chat)
    def trained_losses(examples: Sequence[Example]) -> list[float]:
        return losses(inputs.task, inputs.loaded.model, inputs.loaded.tokenizer, examples, max_len=inputs.max_len,
                      batch=inputs.batch, device=inputs.device)

    pool_losses = trained_losses(pool)
    canary_losses = trained_losses(canaries.examples)
    values = [stats.exposure(x, pool_losses) for x in canary_losses]
    inside, outside = _split(values, canaries.included)
    ceiling = math.log2(count + 1)
    histogram = [0] * (int(ceiling) + 1)
    for x in inside:
        histogram[min(len(histogram) - 1, max(0, int(x)))] += 1
    return Exposure(median=stats.median(inside) or 0.0, max=max(inside, default=0.0),
                    excluded_median=stats.median(outside), candidates=count, ceiling=ceiling, histogram=histogram)


def _extraction(inputs: AuditInputs, lap: Callable[[str], None]) -> Extraction:
    from auditor.leakage.extraction import ValueIndex, count

    spec = inputs.spec
    chat = any(e.chat is not None for e in inputs.members[:1])
    source = MechanismRandom(inputs.key)
    index = ValueIndex.build(source.derived_key("values"), (e.text for e in inputs.members))
    lap("training PII index")
    seed = int.from_bytes(source.derived_key("sampling")[:4], "big")
    trained, prompts = inputs.task.generate(inputs.loaded, spec.extraction_samples, chat, spec.max_new_tokens, seed,
                                            inputs.device)
    base, _ = inputs.task.generate(inputs.loaded, spec.extraction_samples, chat, spec.max_new_tokens, seed,
                                   inputs.device, base=True)
    lap("generation")
    counted = count(index, trained, base)
    lap("scanning generations")
    return Extraction(samples=spec.extraction_samples, max_new_tokens=spec.max_new_tokens, prompts=prompts,
                      training_values=counted.training_values, training_pii_reproduced=counted.reproduced,
                      base_model_reproduced=counted.base_reproduced, by_entity=counted.by_entity)
