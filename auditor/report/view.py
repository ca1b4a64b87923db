"""What the templates see: the evidence bundle plus rows derived from it, decided once in Python.

Templates stay dumb (loops and formatting) so that a user-supplied template cannot get a legal mapping
wrong by accident, and the HTML and Markdown reports say exactly the same things. Every derived value is a
small frozen model; :func:`template_context` flattens them to plain JSON data, which is all a sandboxed
template is ever given.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.findings import Finding
from auditor.report.charts import bar_chart, epsilon_chart, histogram_chart, roc_chart
from auditor.report.evidence import EvidenceBundle
from auditor.report.finding_rows import FindingRow, finding_rows
from auditor.report.guarantee import GuaranteeView, guarantee
from auditor.report.labels import category_label, category_short, policy_label
from auditor.report.leakage_view import LeakageView, leakage_view
from auditor.report.rows import CategoryRow, EntityRow, LawRow, MappingRow, RiskRow, Row, composed, num, ref
from auditor.report.scope import ScopeView, scope
from auditor.report.sections import (
    dp_rows,
    law_rows,
    measure_rows,
    model_card_rows,
    necessity_rows,
    provenance_rows,
    risk_rows,
    scan_rows,
    sorted_findings,
    waiver_rows,
)
from auditor.report.signer import SignerIdentity

__all__ = ["CategoryRow", "EntityRow", "LawRow", "MappingRow", "ReportView", "RiskRow", "Row", "SigningInfo",
           "build_view", "charts", "template_context"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SigningInfo(_Frozen):
    """How (and whether) the rendered files will be signed; known before rendering, so pages can say it."""

    signed: bool
    key_fingerprint: str | None = None
    key_id: str | None = None
    envelope: str = "report.intoto.jsonl"
    signer: SignerIdentity | None = None
    signer_claim: str | None = None  # signer.describe(): who the signer says they are, not verified


class ReportView(_Frozen):
    """Derived, display-ready rows; the evidence itself is passed alongside, unchanged."""

    title: str
    verdict: Literal["pass", "fail"]
    banner: Literal["pass", "fail", "refused"] = Field(description="What the cover shows: the gate's verdict, "
                                                       "or 'refused' when it passed but no model was trained")
    verdict_line: str
    training_line: str
    summary: list[Row]
    identification: list[Row]
    policies: list[Row]
    laws: list[LawRow]
    provenance: list[Row]
    scan_summary: list[Row]
    entities: list[EntityRow]
    categories: list[CategoryRow]
    finding_counts: dict[str, int] = Field(description="Statuses of the rules in the policies that apply")
    rules_outside: int = Field(default=0, description="Rules of policies that do not apply (not counted above)")
    scope: ScopeView
    run_details: list[Row] = Field(default_factory=list, description="Appendix: throughput and timings")
    findings: list[Finding]
    open_findings: list[FindingRow] = Field(description="fail, error, needs a scan and waived: shown in full")
    met: list[FindingRow]
    not_applicable: list[FindingRow] = Field(description="Rules not applicable within policies that apply")
    inapplicable_policies: list[Row] = Field(description="Policies that do not apply, with their rule count")
    waivers: list[Row]
    necessity: list[Row]
    risks: list[RiskRow]
    measures: list[Row]
    dp: list[Row]
    guarantee: GuaranteeView | None = Field(default=None, description="The DP claim in plain words, and "
                                                                        "which released numbers it covers")
    model_card: list[Row]
    leakage: LeakageView = Field(description="What the audit of the trained model found (section 11)")
    mapping: list[MappingRow]
    verify_commands: list[str] = Field(default_factory=list)


MAPPING: tuple[MappingRow, ...] = (
    MappingRow(section="1. Identification", anchor="identification", gdpr="—",
               ai_act="Annex IV §1(a) provider, version; §2(g) test reports dated and signed"),
    MappingRow(section="2. Scope and limits of this audit", anchor="scope",
               gdpr="Art. 35(7) what the assessment covers; Art. 5(2) accountability",
               ai_act="Annex IV §3 limitations; §7 standards and specifications applied"),
    MappingRow(section="3. Processing, purposes and lawful basis", anchor="processing",
               gdpr="Art. 35(7)(a) description of processing and purposes, incl. legitimate interest",
               ai_act="Annex IV §1(a) intended purpose; Art. 10(2)(b)"),
    MappingRow(section="4. Data provenance (datasheet)", anchor="provenance",
               gdpr="Art. 35(7)(a) nature and scope of the data",
               ai_act="Annex IV §2(d) datasheets: provenance, scope, selection, labelling, cleaning; Art. 10(2)"),
    MappingRow(section="5. What the scan found", anchor="scan",
               gdpr="Art. 35(7)(a) categories of data; Art. 9(1) special categories",
               ai_act="Annex IV §2(d) main characteristics of the data; Art. 10(5)"),
    MappingRow(section="6. Findings and waivers", anchor="findings",
               gdpr="Art. 35(7)(b)-(d) assessment against the law; Art. 5(2) accountability",
               ai_act="Annex IV §5 risk management (Art. 9); §7 standards applied"),
    MappingRow(section="7. Necessity and proportionality", anchor="necessity",
               gdpr="Art. 35(7)(b) necessity and proportionality in relation to the purposes",
               ai_act="Art. 10(2)(a)-(c) design choices, data collection and purpose"),
    MappingRow(section="8. Risks", anchor="risks",
               gdpr="Art. 35(7)(c) risks to the rights and freedoms of data subjects",
               ai_act="Annex IV §3 foreseeable risks and limitations; §5 risk management"),
    MappingRow(section="9. Measures, including differential privacy", anchor="measures",
               gdpr="Art. 35(7)(d) measures, safeguards and security; Art. 25, Art. 32",
               ai_act="Annex IV §2(a), §2(e)-(h) methods, safeguards, cybersecurity; §5"),
    MappingRow(section="10. Model card", anchor="model",
               gdpr="Art. 35(7)(a) the processing's output",
               ai_act="Annex IV §2(b)-(c) design and architecture; §2(g) validation metrics; §3; §4"),
    MappingRow(section="11. What the trained model leaks", anchor="leakage",
               gdpr="Art. 35(7)(c)-(d) residual risk after the measures; EDPB Opinion 28/2024 ¶¶43, 55, 58 "
                    "(evidence for or against an anonymity claim)",
               ai_act="Annex IV §2(g) test results; Art. 15(5) resilience to confidentiality attacks"),
    MappingRow(section="12. Verdict", anchor="verdict",
               gdpr="Art. 35(7)(d) demonstrating compliance; Art. 36 prior consultation if risk remains",
               ai_act="Annex IV §2(g) test results; §8 declaration (provider's own)"),
    MappingRow(section="13. How to verify this report", anchor="verify",
               gdpr="Art. 5(2) accountability (integrity of the record)",
               ai_act="Annex IV §2(g) signed test reports; Art. 18 documentation kept 10 years"),
)




def _claimed(signing: SigningInfo) -> str:
    """The signer's own words beside the fingerprint, labelled: only the fingerprint is ever checked."""
    return f"claimed signer: {signing.signer_claim}" if signing.signed and signing.signer_claim else ""


def _summary(ev: EvidenceBundle, signing: SigningInfo) -> list[Row]:
    """The cover's key facts: what a reader needs before deciding whether to read further."""
    rows: list[Row] = []
    applied = [policy_label(p.id, p.title) for p in ev.gate.policies if p.applies]
    rows.append(Row(label="Policies applied", value=", ".join(applied) or "none"))
    if ev.scan is not None:
        s = ev.scan
        share = s.records_with_personal_data / s.records_scanned if s.records_scanned else 0.0
        rows.append(Row(label="Records with personal data",
                        value=f"{s.records_with_personal_data:,} of {s.records_scanned:,} ({share:.0%})"))
    t = ev.training
    req = ev.gate.privacy_requirements
    if t is not None and t.epsilon is not None:
        allowed = t.max_epsilon_allowed if t.max_epsilon_allowed is not None else req.max_epsilon
        within = allowed is None or t.epsilon <= allowed + 1e-9
        rows.append(Row(label="Privacy budget", value=f"ε {num(t.epsilon)} spent of {num(allowed)} allowed",
                        note=f"δ {num(t.delta)}, {t.unit}-level", status="ok" if within else "bad"))
    elif req.max_epsilon is not None:
        rows.append(Row(label="Privacy budget", value=f"ε ≤ {num(req.max_epsilon)} required",
                        note="no training in this run"))
    if ev.ledger is not None:
        rows.append(Row(label="Ledger, these people", value=f"ε {composed(ev.ledger.composed_epsilon)} composed",
                        note=f"worst-off unit, over {ev.ledger.runs} run(s)"))
    rows.append(Row(label="Signer key", value=signing.key_fingerprint or "UNSIGNED", note=_claimed(signing),
                    status="" if signing.signed else "bad"))
    return rows


def _run_details(ev: EvidenceBundle) -> list[Row]:
    """How long things took: useful to whoever runs the pipeline, meaningless to a regulator up front."""
    rows: list[Row] = []
    if ev.scan is not None:
        rows.append(Row(label="Scan throughput", value=f"{ev.scan.records_per_s:,.0f} records/s"))
    if ev.training is not None:
        t = ev.training
        rows.append(Row(label="Training wall time", value=f"{t.wall_time_s:,.0f} s",
                        note=f"{t.steps:,} steps on {t.device}; not covered by the DP guarantee"))
    rows += [Row(label=name.replace("_", " ").capitalize(), value=value) for name, value in ev.timestamps.items()]
    return rows


def build_view(ev: EvidenceBundle, signing: SigningInfo) -> ReportView:
    plan = ev.plan.content
    fail = ev.gate.verdict == "fail"
    blocking = ev.gate.blocking()
    outcome = ev.training_outcome
    banner: Literal["pass", "fail", "refused"] = "fail" if fail else (
        "refused" if outcome.status in ("refused", "failed") else "pass")
    verdict_line = {
        "fail": f"FAIL — {len(blocking)} finding(s) at or above '{ev.gate.fail_on}' block this fine-tune.",
        "pass": f"PASS — no unwaived finding at or above '{ev.gate.fail_on}'.",
        "refused": ("TRAINING REFUSED" if outcome.status == "refused" else "TRAINING FAILED")
        + f" — the policy gate passed (no unwaived finding at or above '{ev.gate.fail_on}'), but no model was "
          "trained in this run.",
    }[banner]
    training_line = {
        "completed": "Training ran under the enforced differential-privacy budget.",
        "refused": "Training was refused: " + (outcome.reason or "the gate failed") + ".",
        "skipped": "Training was not run: " + (outcome.reason or "skipped on request") + ".",
        "failed": "Training failed: " + (outcome.reason or "see logs") + ".",
    }[outcome.status]
    identification = [
        Row(label="Report id", value=ev.report_id),
        Row(label="Created", value=ev.created_at),
        Row(label="Controller", value=ref(plan.controller)),
        Row(label="Plan", value=f"{ev.plan.file} ({plan.name})", note="sha256 " + ev.plan.sha256),
        Row(label="Dataset sha256", value=ev.dataset_sha256 or "—"),
        Row(label="Waivers", value=f"{ev.waivers.file}" if ev.waivers else "none",
            note="sha256 " + ev.waivers.sha256 if ev.waivers else ""),
        Row(label="Signer key", value=signing.key_fingerprint or "UNSIGNED", note=_claimed(signing),
            status="" if signing.signed else "bad"),
        Row(label="Tool", value=f"auditor {ev.tool.auditor}, Python {ev.tool.python} ({ev.tool.platform})"),
        Row(label="Libraries", value=", ".join(f"{k} {v}" for k, v in sorted(ev.tool.libraries.items()))),
    ]
    policies = [Row(label=f"{policy_label(p.id, p.title)} ({p.id} {p.version})", value=p.title,
                    note=(p.reason or ("applies" if p.applies else "does not apply")) + f"; sha256 {p.sha256}",
                    status="ok" if p.applies else "")
                for p in ev.gate.policies]
    applying = {p.id for p in ev.gate.policies if p.applies}
    counts: dict[str, int] = {}  # the rules of the policies that apply: what section 6 lists one by one
    for finding in ev.gate.findings:
        if finding.policy in applying:
            counts[finding.status] = counts.get(finding.status, 0) + 1
    outside = sum(1 for f in ev.gate.findings if f.policy not in applying)
    entities = [EntityRow(name=name, count=s.count, records=s.records, fields=", ".join(s.fields),
                          examples=list(s.examples))
                for name, s in sorted((ev.scan.entities if ev.scan else {}).items(), key=lambda kv: -kv[1].count)]
    categories = [CategoryRow(name=name, label=category_label(name), records=c.records, count=c.count,
                              entities=", ".join(c.entities))
                  for name, c in sorted((ev.scan.categories if ev.scan else {}).items(),
                                        key=lambda kv: -kv[1].records) if c.records > 0]
    ordered = sorted_findings(ev.gate.findings)
    inapplicable = []
    for p in ev.gate.policies:
        if not p.applies:
            n = sum(1 for f in ordered if f.policy == p.id)
            inapplicable.append(Row(label=policy_label(p.id, p.title),
                                    value=f"does not apply: {n} rule{'s' if n != 1 else ''} not evaluated",
                                    note=p.reason))
    verify = []
    if signing.signed:
        # never a key from this folder: a forger who re-signs an edited report puts their own key there
        verify = [f"auditor verify {signing.envelope} --key ORGANISATION-PUBLIC-KEY.pub",
                  f"auditor verify {signing.envelope} --fingerprint PUBLISHED-FINGERPRINT"]
    return ReportView(
        title=f"Audit report — {plan.name}", verdict=ev.gate.verdict, banner=banner, verdict_line=verdict_line,
        training_line=training_line, summary=_summary(ev, signing), identification=identification,
        policies=policies, laws=law_rows(ev),
        provenance=provenance_rows(ev), scan_summary=scan_rows(ev), entities=entities, categories=categories,
        finding_counts=counts, rules_outside=outside, findings=ordered, scope=scope(ev), run_details=_run_details(ev),
        open_findings=finding_rows(ev, [f for f in ordered if f.status in ("fail", "error", "needs_scan", "waived")]),
        met=finding_rows(ev, [f for f in ordered if f.status == "pass"]),
        not_applicable=finding_rows(ev, [f for f in ordered if f.status == "not_applicable" and f.policy in applying]),
        inapplicable_policies=inapplicable, waivers=waiver_rows(ev),
        necessity=necessity_rows(ev), risks=risk_rows(ev), measures=measure_rows(ev), dp=dp_rows(ev),
        guarantee=guarantee(ev),
        model_card=model_card_rows(ev), leakage=leakage_view(ev), mapping=list(MAPPING), verify_commands=verify)


def charts(ev: EvidenceBundle) -> dict[str, Any]:
    """Inline SVG (already escaped Markup), keyed by name; absent charts are ``None``."""
    epsilon = None
    t = ev.training
    if t is not None and t.epsilon_per_step:
        steps = [s.step for s in t.epsilon_per_step]
        allowed = t.max_epsilon_allowed if t.max_epsilon_allowed is not None else \
            ev.gate.privacy_requirements.max_epsilon
        epsilon = epsilon_chart(steps, [(f"{t.accountant} (enforced accountant)",
                                         [s.epsilon_opacus for s in t.epsilon_per_step]),
                                        ("pld (independent cross-check)",
                                         [s.epsilon_pld for s in t.epsilon_per_step])], allowed)
    entity = None
    category = None
    if ev.scan is not None:
        entity = bar_chart([(n, s.count) for n, s in ev.scan.entities.items()], label="Detected entities")
        category = bar_chart([(category_short(n), c.records) for n, c in ev.scan.categories.items()
                              if c.records > 0],
                             label="Records per legal category")
    roc = exposure = None
    if ev.leakage is not None and ev.leakage.membership is not None and ev.leakage.membership.roc:
        roc = roc_chart(ev.leakage.membership.roc, ev.leakage.membership.non_members)
    if ev.leakage is not None and ev.leakage.exposure is not None:
        exposure = histogram_chart(ev.leakage.exposure.histogram, label="Exposure of the trained canaries",
                                   x_label="exposure (bits)")
    return {"epsilon": epsilon, "entities": entity, "categories": category, "roc": roc, "exposure": exposure}


def template_context(ev: EvidenceBundle, signing: SigningInfo) -> dict[str, Any]:
    """Plain JSON data plus pre-escaped SVG: nothing a sandboxed template could use to reach Python."""
    return {
        "evidence": ev.model_dump(mode="json"),
        "view": build_view(ev, signing).model_dump(mode="json"),
        "signing": signing.model_dump(mode="json"),
        "charts": charts(ev),
    }
