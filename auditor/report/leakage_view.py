"""The report's leakage section: what the audit of the trained model found, in words, beside what it could
find at most, and which of the attacks EDPB Opinion 28/2024 names it did not run.

Written to under-claim: every number is shown with its ceiling or its chance level, the ε lower bound is
called a bug detector, and a test that did not run is listed as not run, never as passed.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from auditor.leakage.model import EDPB_ATTACKS, MEANING, LeakageReport, TprAtFpr
from auditor.report.evidence import EvidenceBundle
from auditor.report.rows import Row, num

#: What each attack asks, in the opinion's terms, and where the opinion names it.
EDPB_QUESTIONS = {
    "membership inference": ("Can someone tell from the model whether a person's data was used to train it?",
                             "¶¶43, 55, 58"),
    "extraction (regurgitation of training data)": ("Can personal data used in training be extracted from the "
                                                    "model, or does it come out in answers?", "¶¶43, 55, 58"),
    "attribute inference": ("Can attributes of a person in the training data be inferred from the model?",
                            "¶¶55, 58"),
    "model inversion (reconstruction of training data)": ("Can training records be reconstructed from the "
                                                          "model's parameters or outputs?", "¶¶55, 58"),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TprRow(_Frozen):
    population: str
    fpr: str
    tpr: str
    interval: str
    dp_bound: str = Field(default="", description="The most TPR the claimed (ε, δ) allows at this FPR")


class AttackRow(_Frozen):
    attack: str
    question: str
    where: str
    run: bool
    result: str


class LeakageView(_Frozen):
    ran: bool
    status_line: str
    rows: list[Row] = Field(default_factory=list)
    tpr: list[TprRow] = Field(default_factory=list)
    attacks: list[AttackRow] = Field(default_factory=list)
    meaning: str = MEANING


def _pct(value: float) -> str:
    return f"{value:.1%}" if value < 0.1 else f"{value:.0%}"


def _tpr_rows(population: str, rows: list[TprAtFpr], epsilon: float | None, delta: float | None) -> list[TprRow]:
    """Each TPR beside what DP allows: an (ε, δ)-DP model lets no attack reach TPR > e^ε·FPR + δ."""
    def bound(fpr: float) -> str:
        return f"≤ {min(1.0, math.exp(epsilon) * fpr + (delta or 0.0)):.3f}" if epsilon is not None else "—"

    return [TprRow(population=population, fpr=_pct(r.fpr), tpr=f"{r.tpr:.3f} ({r.true_positives:,} of "
                   f"{r.positives:,})", interval=f"{r.ci95[0]:.3f}–{r.ci95[1]:.3f}", dp_bound=bound(r.fpr))
            for r in rows]


def _not_run_reason(ev: EvidenceBundle) -> str:
    t, outcome = ev.training, ev.training_outcome
    if t is None:
        return f"No leakage audit: no model was trained in this run ({outcome.status})."
    if ev.leakage is None:
        return "No leakage audit ran on this model (the plan disabled it, or it was skipped): nothing is claimed " \
               "about what the model leaks beyond the DP guarantee."
    return ""


def leakage_view(ev: EvidenceBundle) -> LeakageView:
    report = ev.leakage
    if report is None:
        attacks = [AttackRow(attack=a, question=q, where=w, run=False, result="not run")
                   for a, (q, w) in EDPB_QUESTIONS.items()]
        return LeakageView(ran=False, status_line=_not_run_reason(ev), attacks=attacks)
    if report.status != "completed":
        return LeakageView(ran=False, status_line=f"The leakage audit did not complete ({report.failure}): no "
                           "claim is made about what the model leaks.",
                           attacks=[AttackRow(attack=a, question=q, where=w, run=False, result="not run")
                                    for a, (q, w) in EDPB_QUESTIONS.items()])
    t = ev.training
    epsilon = t.epsilon if t is not None else None
    return LeakageView(ran=True, status_line=_status(report), rows=_rows(report),
                       tpr=_tprs(report, epsilon, t.delta if t is not None else None), attacks=_attacks(report))


def _status(report: LeakageReport) -> str:
    if report.verdict == "fail":
        return "FAIL — " + report.verdict_reason + "."
    return "The audit ran on the released model after training: " + report.verdict_reason + "."


def _rows(report: LeakageReport) -> list[Row]:
    c = report.canaries
    rows = [Row(label="Canaries", value=f"{c.inserted:,} planted: {c.included:,} trained on, {c.excluded:,} not",
                note=f"each trained on by a secret fair coin; shape: {c.shape}" if c.shape else "")]
    b = report.epsilon_lower_bound
    if b is not None:
        claim = f"the claimed ε is {num(b.claimed_epsilon)}" if b.claimed_epsilon is not None else "no ε is claimed"
        rows.append(Row(label="ε lower bound (95%)", value=f"ε ≥ {num(b.value)}",
                        note=f"{claim}; the most {b.guesses:,} guesses can prove is {num(b.ceiling)} ({b.correct:,} "
                             "right); a bound above the claim means the DP implementation is broken, a bound "
                             "below it certifies nothing", status="bad" if b.exceeds_claim else "ok"))
    m = report.membership
    if m is not None and m.auc is not None:
        controls = [f"excluded halves {num(m.negative_control_auc)}" if m.negative_control_auc is not None else "",
                    f"base model {num(m.base_model_auc)}" if m.base_model_auc is not None else ""]
        rows.append(Row(label="Membership inference, canaries", value=f"AUC {num(m.auc)}",
                        note=f"{m.members:,} trained on against {m.non_members:,} not; score: {m.score}; chance is "
                             "0.5; negative controls (should be near 0.5): " + ", ".join(x for x in controls if x)))
    if m is not None and m.real_records is not None:
        r = m.real_records
        rows.append(Row(label="Membership inference, real records", value=f"AUC {num(r.auc)}",
                        note=f"{r.members:,} training against {r.non_members:,} held-out records; computed without "
                             "noise on personal data, outside the DP guarantee"))
    x = report.exposure
    if x is not None:
        rows.append(Row(label="Canary exposure", value=f"median {x.median:.1f} bits, max {x.max:.1f} bits",
                        note=f"rank of each trained canary's secret among {x.candidates:,} random ones (at most "
                             f"{x.ceiling:.1f} bits measurable); canaries not trained on: median "
                             f"{num(x.excluded_median, 2)} bits (about 1 bit is chance)"))
    e = report.extraction
    if e is not None:
        kinds = ", ".join(f"{k} {v:,}" for k, v in e.by_entity.items())
        rows.append(Row(label="PII extraction", value=f"{e.training_pii_reproduced:,} training PII values reproduced",
                        note=f"in {e.samples:,} samples of up to {e.max_new_tokens} tokens from {e.prompts} generic "
                             f"prompts, against {e.training_values:,} distinct PII values in the training split; "
                             f"the base model wrote {e.base_model_reproduced:,} of them too (not counted)"
                             + (f"; by type: {kinds}" if kinds else ""),
                        status="warn" if e.training_pii_reproduced else "ok"))
    rows.append(Row(label="Audit time", value=f"{report.wall_time_s:,.0f} s"))
    return rows


def _tprs(report: LeakageReport, epsilon: float | None, delta: float | None) -> list[TprRow]:
    m = report.membership
    if m is None:
        return []
    out = _tpr_rows("canaries", m.tpr_at_fpr, epsilon, delta)
    if m.real_records is not None:
        out += _tpr_rows("real records", m.real_records.tpr_at_fpr, epsilon, delta)
    return out


def _attacks(report: LeakageReport) -> list[AttackRow]:
    results = {}
    m, e = report.membership, report.extraction
    if m is not None:
        parts = [f"canaries AUC {num(m.auc)}" if m.auc is not None else "",
                 f"real records AUC {num(m.real_records_auc)}" if m.real_records_auc is not None else ""]
        results["membership inference"] = "; ".join(p for p in parts if p)
    if e is not None:
        results["extraction (regurgitation of training data)"] = (
            f"{e.training_pii_reproduced:,} training PII values reproduced in {e.samples:,} samples")
    return [AttackRow(attack=a, question=q, where=w, run=a in report.attacks_run,
                      result=results.get(a, "") if a in report.attacks_run else "not run")
            for a, (q, w) in EDPB_QUESTIONS.items() if a in EDPB_ATTACKS]
