"""Hand-built, realistic values for report tests: no scan, gate or training run needed.

``PLANTED`` strings stand for raw dataset content that must never reach a rendered file; the builders put
them only where dataset-derived text can legitimately flow (masked examples, field names), so tests can show
they come out escaped or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.findings import Finding, GateResult, PolicyRef, WaiverRef
from auditor.plan import load_plan
from auditor.privacy.ledger import LedgerTotals
from auditor.privacy.requirements import DeltaBoundRef, PrivacyRequirement
from auditor.report.evidence import EvidenceBundle, TrainingOutcome, build_evidence
from auditor.scan.model import CategoryStats, DatasetInfo, EngineInfo, EntityStats, ScanResult
from auditor.train.evidence import (
    ClippingInfo,
    EvalMetrics,
    RandomnessInfo,
    SettingSource,
    StepEpsilon,
    TrainingEvidence,
    UnitInfo,
    Versions,
)

SCRIPT = "<script>alert('x')</script>"
DATASET_SHA = "d" * 64

PLAN_YAML = """\
version: 1
name: support-ticket-triage
purpose: Route customer support tickets to the right team
controller: Example GmbH
data_subjects: {regions: [EU, CN, US-CA], count: 2400, minors: false}
legal:
  gdpr: {lawful_basis: legitimate_interests, legitimate_interest_assessment: LIA-2026-03, opt_out: true,
         special_category_condition: explicit_consent}
  pipl: {legal_basis: consent, separate_consent_sensitive: true}
  ccpa: {notice_at_collection: true, limit_use_of_spi_honoured: true}
assessments: {dpia: DPIA-2026-07, ropa: ROPA-114}
dataset:
  path: data/tickets.jsonl
  text_fields: [text]
  label_field: label
  source: Support CRM export 2026-05
  original_purpose: customer support
  retention_days: 365
  languages: [en, zh]
transfers: {storage_region: EU, compute_region: US, mechanism: scc}
measures: {pseudonymisation: true, encryption_at_rest: true, access_control: true}
model: {base: bundled:minilm, num_labels: 4}
privacy: {mechanism: dp-sgd, target_epsilon: 3.0, max_grad_norm: 1.0}
"""


def write_plan(tmp: Path, text: str = PLAN_YAML) -> Path:
    path = tmp / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def scan_result(examples: list[str] | None = None) -> ScanResult:
    return ScanResult(
        dataset=DatasetInfo(path="data/tickets.jsonl", sha256=DATASET_SHA, format="jsonl", bytes=123456,
                            text_fields=["text"]),
        records=2400, records_scanned=2400, records_with_personal_data=1712, distinct_users=2100,
        languages={"en": 1600, "zh": 800},
        entities={
            "EMAIL_ADDRESS": EntityStats(count=900, records=880, fields=["text"],
                                         examples=examples or ["j***@e******.com"]),
            "PHONE_NUMBER": EntityStats(count=610, records=600, fields=["text"], examples=["+49 *** *** 12"]),
            "CN_RESIDENT_ID": EntityStats(count=120, records=120, fields=["text"], examples=["1101**********1234"]),
            "HEALTH_CONDITION": EntityStats(count=75, records=70, fields=["text"], examples=["d*****s"]),
        },
        categories={
            "personal_data": CategoryStats(records=1712, count=1705, entities=["EMAIL_ADDRESS", "PHONE_NUMBER"]),
            "contact": CategoryStats(records=1400, count=1510, entities=["EMAIL_ADDRESS", "PHONE_NUMBER"]),
            "government_id": CategoryStats(records=120, count=120, entities=["CN_RESIDENT_ID"]),
            "gdpr_special": CategoryStats(records=70, count=75, entities=["HEALTH_CONDITION"]),
            "health": CategoryStats(records=70, count=75, entities=["HEALTH_CONDITION"]),
            "minors": CategoryStats(records=0, count=0),
        },
        engine=EngineInfo(auditor="0.1.0", presidio="2.2.355", spacy_model="en_core_web_sm"),
        started_at="2026-11-23T10:00:00Z", duration_s=4.2, records_per_s=571.0, mb_per_s=0.03)


def gate_result(verdict: str = "pass", url: str = "https://eur-lex.europa.eu/eli/reg/2016/679/oj") -> GateResult:
    fail = verdict == "fail"
    findings = [
        Finding(policy="gdpr", rule="GDPR-9-SPECIAL-CATEGORY-BASIS", title="Special category data needs an "
                "Art. 9(2) condition", status="pass", severity="critical", citation="GDPR Art. 9(1)-(2)", url=url,
                message="70 records hold special category data; condition recorded: explicit_consent",
                facts={"categories.gdpr_special": 70, "condition": "explicit_consent"},
                remediation="Record the Art. 9(2) condition."),
        Finding(policy="gdpr", rule="GDPR-44-TRANSFER", title="Transfers outside the EEA need a mechanism",
                status="fail" if fail else "waived", severity="high", citation="GDPR Arts. 44-49", url=url,
                message="Compute in US; mechanism scc without transfer impact assessment",
                facts={"compute_region": "US", "mechanism": ["scc"]},
                remediation="Record the transfer impact assessment reference.",
                waiver=None if fail else WaiverRef(rule="GDPR-44-TRANSFER", reason="TIA in review", approver="DPO",
                                                   expires="2027-01-31", source="waivers.yaml")),
        Finding(policy="pipl", rule="PIPL-55-PIPIA", title="A PIPIA is needed before processing sensitive PI",
                status="fail" if fail else "pass", severity="high", citation="PIPL Arts. 55-56",
                url="javascript:alert(1)", message="120 records hold sensitive personal information",
                facts={"categories.pipl_sensitive": 120}, remediation="Carry out a PIPIA and record it."),
        Finding(policy="hipaa", rule="HIPAA-SAFE-HARBOR", title="PHI must be de-identified",
                status="not_applicable", severity="high", citation="45 CFR §164.514(b)",
                url="https://www.ecfr.gov/current/title-45/section-164.514", message="HIPAA does not apply"),
    ]
    return GateResult(
        verdict="fail" if fail else "pass", exit_code=1 if fail else 0, fail_on="high",
        policies=[PolicyRef(id="gdpr", title="EU General Data Protection Regulation", version="2026.11",
                            applies=True, sha256="a" * 64, source="policies/gdpr.yaml", reason="EU in regions",
                            not_covered=["data-subject rights handling", "UK GDPR"]),
                  PolicyRef(id="pipl", title="Personal Information Protection Law", version="2026.11",
                            applies=True, sha256="b" * 64, source="policies/pipl.yaml"),
                  PolicyRef(id="hipaa", title="HIPAA", version="2026.11", applies=False, sha256="c" * 64,
                            source="policies/hipaa.yaml")],
        findings=findings,
        privacy_requirements=PrivacyRequirement(
            dp_required=True, max_epsilon=8.0, max_delta=1e-5, max_grad_norm=1.0, sampling="poisson",
            delta_bounds=[DeltaBoundRef(expr="min(1e-5, 1/(10*n))", origin="pipl/PIPL-28-DP")], min_units=100,
            bound_by={"max_epsilon": "gdpr/GDPR-25-DP", "max_delta": "pipl/PIPL-28-DP",
                      "min_units": "pipl/PIPL-28-DP"}),
        privacy_units=2400, scan_used=True)


def training_evidence(steps: int = 24, weights_sha: str = "e" * 64) -> TrainingEvidence:
    curve = [StepEpsilon(step=i, epsilon_opacus=2.9 * (i / steps) ** 0.5, epsilon_pld=2.85 * (i / steps) ** 0.5)
             for i in range(1, steps + 1)]
    return TrainingEvidence(
        run_id="run-1", plan_name="support-ticket-triage", plan_sha256="f" * 64, dataset_sha256=DATASET_SHA,
        model_base="bundled:minilm", model_weights_sha256=weights_sha, records=2400, train_records=2160,
        eval_records=240, unit="user", privacy_units=2160, mechanism="dp-sgd", noise_multiplier=1.1,
        units=UnitInfo(unit="user", privacy_units=2160, train_units=1944, user_id_field="customer_id",
                       user_id_normalisation="trimmed, Unicode NFKC-normalised and case-folded",
                       users_with_multiple_records=408,
                       contribution_bound="at most one clipped gradient (norm ≤ C) per person per step"),
        randomness=RandomnessInfo(public_seed=7),
        sample_rate=1 / 8, max_grad_norm=1.0, logical_batch_size=256, physical_batch_size=32,
        clipping=ClippingInfo(requested="ghost", used="ghost", trainable_parameters=1_200_000,
                              total_parameters=22_700_000, trainable_layers="top 2 encoder layers + head"),
        epochs_planned=3, steps_planned=steps, steps=steps, learning_rate=5e-3, accountant="prv",
        target_epsilon=3.0, max_epsilon_allowed=8.0, delta=1 / 2400 / 10, epsilon_opacus=2.9, epsilon_pld=2.85,
        epsilon=2.9, epsilon_per_step=curve,
        settings={"epsilon": SettingSource(value=3.0, source="plan")},
        requirement=PrivacyRequirement(dp_required=True, max_epsilon=8.0), stop_reason="completed",
        eval=EvalMetrics(records=240, accuracy=0.81, macro_f1=0.79), device="cpu",
        versions=Versions(auditor="0.1.0", python="3.11", torch="2.5", transformers="4.50", opacus="1.6",
                          dp_accounting="0.4"),
        started_at="2026-11-23T10:01:00Z", wall_time_s=240.0)


def evidence(tmp: Path, *, verdict: str = "pass", trained: bool = True, **kw: Any) -> EvidenceBundle:
    doc = load_plan(write_plan(tmp, kw.pop("plan_text", PLAN_YAML)))
    training = training_evidence() if trained and verdict == "pass" else None
    outcome = TrainingOutcome(status="completed") if training else TrainingOutcome(
        status="refused" if verdict == "fail" else "skipped",
        reason="the gate failed" if verdict == "fail" else "--no-train")
    return build_evidence(doc, gate_result(verdict), scan=kw.pop("scan", scan_result()), training=training,
                          training_outcome=outcome,
                          ledger=LedgerTotals(dataset_sha256=DATASET_SHA, units=2400, runs=1,
                                              epsilon_reserved=0.0, epsilon_spent=2.9, composed_epsilon=2.9,
                                              composed_delta=1e-5, max_epsilon_allowed=8.0) if training else None,
                          report_id="00000000-0000-4000-8000-000000000001", created_at="2026-11-23T10:05:00Z",
                          **kw)


def leakage_report(exceeds: bool = False, task: str = "sequence-classification") -> Any:
    """A leakage audit as a classifier run writes it; ``exceeds``: the broken-implementation case."""
    from auditor.leakage.model import (
        EDPB_ATTACKS,
        CanaryCounts,
        EpsilonLowerBound,
        LeakageReport,
        Membership,
        RealRecords,
        TprAtFpr,
    )

    tprs = [TprAtFpr(fpr=f, tpr=t, true_positives=k, positives=103, ci95=(lo, hi))
            for f, t, k, lo, hi in ((0.001, 0.0, 0, 0.0, 0.035), (0.01, 0.0194, 2, 0.0024, 0.068),
                                    (0.1, 0.1165, 12, 0.0617, 0.195))]
    bound = EpsilonLowerBound(value=3.1 if exceeds else 0.0, ceiling=3.49, confidence=0.95, guesses=100,
                              correct=95 if exceeds else 52, canaries=200, delta=1e-5, claimed_epsilon=2.9,
                              exceeds_claim=exceeds)
    return LeakageReport(
        task=task, canaries=CanaryCounts(inserted=200, included=103, excluded=97, shape="twelve random words"),
        membership=Membership(score="loss", auc=0.97 if exceeds else 0.51, members=103, non_members=97,
                              tpr_at_fpr=tprs, roc=[(0.0, 0.0), (0.0103, 0.05), (0.1, 0.12), (0.5, 0.52), (1.0, 1.0)],
                              real_records_auc=0.502,
                              real_records=RealRecords(auc=0.502, members=500, non_members=240, tpr_at_fpr=tprs),
                              negative_control_auc=0.49),
        epsilon_lower_bound=bound, attacks_run=["membership inference"],
        attacks_not_run=[a for a in EDPB_ATTACKS if a != "membership inference"],
        verdict="fail" if exceeds else "pass",
        verdict_reason=("the canaries prove ε ≥ 3.10 (95% confidence) but the training claims ε = 2.90: the DP "
                        "implementation is broken; do not release this model") if exceeds else
        "no test found more leakage than the claimed ε allows", wall_time_s=12.0)
