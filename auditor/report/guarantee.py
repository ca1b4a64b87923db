"""What the signed DP claim says in plain words, and exactly which released numbers it covers.

A lawyer or regulator reads "ε = 3" as a promise about people. The promise holds for the released model
(and anything computed only from it) against an attacker who knows every other record; it does not hold
for statistics computed on the data without noise, and the report must say which those are rather than let
the reader assume the ε covers the whole file. When in doubt this module under-claims.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from auditor.report.evidence import EvidenceBundle
from auditor.report.rows import composed
from auditor.train.evidence import TrainingEvidence


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Released(_Frozen):
    """One thing this report (or the training folder) releases, and whether ε covers it."""

    item: str
    covered: bool
    why: str


class GuaranteeView(_Frozen):
    statement: str
    reading: str
    unit: str
    randomness: str
    limits: list[str]
    released: list[Released]


def _unit_words(t: TrainingEvidence) -> tuple[str, str]:
    if t.unit == "user":
        field = f" (identified by {t.units.user_id_field}, ids {t.units.user_id_normalisation})" \
            if t.units.user_id_field else ""
        return "person", f"the person{field}: all of one person's records together"
    return "record", "one record (a person with several records is protected only at about k·ε for k records)"


def _tpr(epsilon: float, delta: float, fpr: float) -> float:
    """The most power any test can have at this false-positive rate against an (ε, δ)-DP mechanism: both
    sides of the hypothesis-testing region (Kairouz, Oh, Viswanath 2015)."""
    return max(fpr, min(1.0, math.exp(epsilon) * fpr + delta, 1.0 - math.exp(-epsilon) * (1.0 - delta - fpr)))


def guarantee(ev: EvidenceBundle) -> GuaranteeView | None:
    """None unless a DP training run completed: without one there is no claim to state."""
    t = ev.training
    if t is None or t.epsilon is None or t.delta is None or t.mechanism == "none":
        return None
    eps, delta = t.epsilon, t.delta
    who, unit = _unit_words(t)
    statement = (f"For any one {who} (the privacy unit), the released model is ({eps:.3g}, {delta:.2g})-"
                 f"indistinguishable from a model trained without that {who}'s data: whatever anyone does "
                 f"with the model, the probability of any outcome is at most e^{eps:.3g} ≈ {math.exp(eps):.3g} "
                 f"times what it would be without that {who}, plus {delta:.2g}. This holds for the model and "
                 "anything computed from it alone, against an attacker who knows every other record and the "
                 "mechanism's parameters; the numbers marked 'no' in the table below are released outside it.")
    reading = (f"As a test: an attacker who must decide whether a given {who} was in the training data, and "
               f"wrongly accuses at most 1% of those who were not, correctly identifies at most "
               f"{_tpr(eps, delta, 0.01):.1%} of those who were (TPR ≤ e^ε·FPR + δ and TPR ≤ 1 − e^−ε·(1 − δ − FPR); "
               f"at FPR 0.1%: "
               f"{_tpr(eps, delta, 0.001):.2%}, at 10%: {_tpr(eps, delta, 0.1):.1%}).")
    if t.ledger is not None and t.ledger.runs > 1:
        reading += (f" Over every run recorded for these people in the ledger checked, the worst-off unit has "
                    f"composed ε = {composed(t.ledger.composed_epsilon)} at δ = {t.ledger.composed_delta:.2g}.")
    r = t.randomness
    randomness = (f"Sampling, the choice of each person's record, the train/eval split and the noise were drawn "
                  f"from {r.mechanism_generator}; the noise is {r.gaussian}. {r.secure_mode_note}. The public "
                  f"seed {r.public_seed} covers only the {' and the '.join(r.public_seed_covers)}: re-running with it "
                  "does not reproduce the model.")
    limits = [
        "Data about a person inside other people's records (a customer named in someone else's ticket) is "
        "protected only as part of those records: each unit's own contribution is what is bounded.",
        "The base model's own pre-training data, and any copy of the dataset kept elsewhere, are outside it.",
        "ε composes: other models or statistics released from the same people add to it, and only runs in "
        "the privacy ledger this run was checked against are counted"
        + ("" if t.ledger is None or t.ledger.ledger_default else
           " -- here a separate ledger (--ledger), not the user's own") + ".",
        "One person under several ids (or records nobody linked to them) counts as several units: such a "
        "person is protected only at about k·ε for k units.",
        "The arithmetic is checked by two accountants (Opacus and dp-accounting PLD, the larger enforced); it "
        "assumes Poisson sampling, which the training performs.",
    ]
    return GuaranteeView(statement=statement, reading=reading, unit=unit, randomness=randomness, limits=limits,
                         released=_released(ev, t))


def _released(ev: EvidenceBundle, t: TrainingEvidence) -> list[Released]:
    items = [
        Released(item="The trained model (weights, their sha256) and any prediction made with it", covered=True,
                 why="the output of the DP mechanism"),
    ] if t.lora is None else [
        Released(item="The trained LoRA adapter (weights, their sha256)"
                      + (", the base model with it merged in" if t.lora.merged else "")
                      + ", and any text generated with it", covered=True,
                 why="the output of the DP mechanism; combining it with the base model is post-processing, "
                     "provided the base model itself was not trained on this data"),
    ]
    items += [
        Released(item="σ, q, C, steps, ε and δ per step, the stop reason", covered=True,
                 why="fixed by the plan, the policies and n before any data is read"),
        Released(item=f"n = {t.privacy_units:,} privacy units, {t.records:,} records", covered=False,
                 why="treated as public, as DP-SGD accounting does (q and δ depend on n)"),
        Released(item=f"Train / held-out sizes ({t.train_records:,} / {t.eval_records:,} records"
                      + (f"; {t.units.train_units:,} units trained on" if t.units.train_units is not None else "")
                      + (f", {t.units.canaries:,} of them synthetic canaries" if t.units.canaries else "")
                      + ")", covered=False,
                 why="each unit's side is a secret coin, but the counts are released without noise"),
    ]
    if t.eval.records:
        metrics = "Held-out perplexity" if t.task == "causal-lm" else "Held-out accuracy and macro-F1"
        items.append(Released(item=metrics, covered=False, why=t.eval.note))
    if t.units.users_with_multiple_records is not None:
        items.append(Released(item="People with more than one record", covered=False,
                              why="a count computed on the data without noise"))
    if ev.scan is not None:
        items.append(Released(item="The scan: counts per entity and category, masked examples, languages",
                              covered=False, why="computed on the raw data, before and outside training; "
                                                 "examples are masked, not noised"))
    items.append(Released(item="Gate findings and their facts", covered=False,
                          why="derived from the plan and the scan's counts"))
    items.append(Released(item="Wall time and step timings", covered=False,
                          why="timing depends on the sampled batch sizes"))
    if t.ledger is not None:
        items.append(Released(item="Ledger totals (runs and units seen before)", covered=False,
                              why="counts of overlap between this dataset and earlier runs"))
    items += _leakage_items(ev)
    return items


def _leakage_items(ev: EvidenceBundle) -> list[Released]:
    """The leakage audit's numbers: those about canaries are computed from the released model and synthetic
    records (post-processing); those about real records use personal data without noise."""
    report = ev.leakage
    if report is None or report.status != "completed":
        return []
    items = [Released(item="Leakage audit on the canaries (AUC, ROC, TPR, ε lower bound"
                           + (", exposure" if report.exposure is not None else "") + ")", covered=True,
                      why="computed from the released model and synthetic canaries, each a unit of the mechanism; "
                          "their coins are revealed only as these aggregates")]
    if report.membership is not None and report.membership.real_records is not None:
        items.append(Released(item="Membership inference on real records (AUC, TPR)", covered=False,
                              why="computed from training and held-out personal data without noise"))
    if report.extraction is not None:
        items.append(Released(item="PII extraction counts", covered=False,
                              why="counts of the training split's PII values the model wrote, without noise"))
    return items
