"""What the templates see: the evidence bundle plus rows derived from it, decided once in Python.

Templates stay dumb (loops and formatting) so that a user-supplied template cannot get a legal mapping
wrong by accident, and the HTML and Markdown reports say exactly the same things. Every derived value is a
small frozen model; :func:`template_context` flattens them to plain JSON data, which is all a sandboxed
template is ever given.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.findings import Finding, severity_rank
from auditor.report.charts import bar_chart, epsilon_chart
from auditor.report.evidence import EvidenceBundle
from auditor.report.finding_rows import FindingRow, finding_rows
from auditor.report.guarantee import GuaranteeView, guarantee
from auditor.report.labels import category_label, policy_label
from auditor.report.scope import ScopeView, scope
from auditor.report.signer import SignerIdentity
from auditor.train.evidence import TrainingEvidence


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


class Row(_Frozen):
    label: str
    value: str
    note: str = ""
    status: Literal["ok", "warn", "bad", ""] = ""


class LawRow(_Frozen):
    law: str
    applies: str
    basis: str
    details: list[Row]


class EntityRow(_Frozen):
    name: str
    count: int
    records: int
    fields: str
    examples: list[str]


class CategoryRow(_Frozen):
    name: str
    label: str = ""
    records: int
    count: int
    entities: str


class RiskRow(_Frozen):
    risk: str
    source: str
    severity: str
    mitigation: str


class MappingRow(_Frozen):
    section: str
    anchor: str
    gdpr: str
    ai_act: str


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
    mapping: list[MappingRow]
    verify_commands: list[str] = Field(default_factory=list)


def _yn(value: bool | None) -> str:
    return "not recorded" if value is None else ("yes" if value else "no")


def _ref(value: str | None) -> str:
    return value if value else "not recorded"


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if "." in f"{value:.{digits}f}" else f"{value}"


def _policy_applies(ev: EvidenceBundle, policy_id: str) -> str:
    for ref in ev.gate.policies:
        if ref.id == policy_id:
            return "applies" if ref.applies else "does not apply"
    return "not evaluated"


#: Report sections → GDPR Art. 35(7) minimum DPIA content and EU AI Act Annex IV technical documentation.
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
    MappingRow(section="11. Verdict", anchor="verdict",
               gdpr="Art. 35(7)(d) demonstrating compliance; Art. 36 prior consultation if risk remains",
               ai_act="Annex IV §2(g) test results; §8 declaration (provider's own)"),
    MappingRow(section="12. How to verify this report", anchor="verify",
               gdpr="Art. 5(2) accountability (integrity of the record)",
               ai_act="Annex IV §2(g) signed test reports; Art. 18 documentation kept 10 years"),
)


def _laws(ev: EvidenceBundle) -> list[LawRow]:
    legal = ev.plan.content.legal
    gdpr, pipl, ccpa, hipaa, ai = legal.gdpr, legal.pipl, legal.ccpa, legal.hipaa, legal.eu_ai_act
    return [
        LawRow(law="GDPR", applies=_policy_applies(ev, "gdpr"), basis=_ref(gdpr.lawful_basis), details=[
            Row(label="Art. 9(2) condition", value=_ref(gdpr.special_category_condition)),
            Row(label="Legitimate interest assessment", value=_ref(gdpr.legitimate_interest_assessment)),
            Row(label="Opt-out offered", value=_yn(gdpr.opt_out)),
            Row(label="Compatibility assessment (Art. 6(4))", value=_ref(gdpr.compatibility_assessment)),
            Row(label="Art. 10 basis (criminal offence data)", value=_ref(gdpr.criminal_offence_basis)),
        ]),
        LawRow(law="PIPL", applies=_policy_applies(ev, "pipl"), basis=_ref(pipl.legal_basis), details=[
            Row(label="Separate consent, sensitive PI (Art. 29)", value=_yn(pipl.separate_consent_sensitive)),
            Row(label="Separate consent, export (Art. 39)", value=_yn(pipl.separate_consent_export)),
            Row(label="Notice of necessity and impact (Art. 30)", value=_yn(pipl.notice_of_necessity)),
            Row(label="Guardian consent (Art. 31)", value=_yn(pipl.guardian_consent)),
        ]),
        LawRow(law="CCPA / CPRA", applies=_policy_applies(ev, "ccpa"),
               basis="notice at collection: " + _yn(ccpa.notice_at_collection), details=[
            Row(label="Limit use of SPI honoured (§1798.121)", value=_yn(ccpa.limit_use_of_spi_honoured)),
            Row(label="Necessary and proportionate (§1798.100(c))",
                value=_yn(ccpa.purpose_necessary_and_proportionate)),
            Row(label="Deidentified (§1798.140(m))", value=_yn(ccpa.deidentified)),
        ]),
        LawRow(law="HIPAA", applies=_policy_applies(ev, "hipaa"),
               basis="de-identification: " + _ref(hipaa.deidentification), details=[
            Row(label="PHI of a covered entity", value=_yn(hipaa.applies)),
            Row(label="Expert determination", value=_ref(hipaa.expert_determination_ref)),
        ]),
        LawRow(law="EU AI Act", applies=_policy_applies(ev, "eu_ai_act"),
               basis="high-risk: " + _yn(ai.high_risk), details=[
            Row(label="General-purpose model", value=_yn(ai.general_purpose_model)),
            Row(label="Technical documentation", value=_ref(ai.technical_documentation)),
            Row(label="Copyright policy", value=_ref(ai.copyright_policy)),
        ]),
    ]


def _provenance(ev: EvidenceBundle) -> list[Row]:
    ds = ev.plan.content.dataset
    plan_ai = ev.plan.content.legal.eu_ai_act
    scan = ev.scan
    languages = ", ".join(f"{k} ({v:,})" for k, v in sorted(scan.languages.items(), key=lambda kv: -kv[1])) \
        if scan and scan.languages else ", ".join(ds.languages) or "not recorded"
    rows = [
        Row(label="Source", value=_ref(ds.source)),
        Row(label="Original purpose", value=_ref(ds.original_purpose)),
        Row(label="Format", value=(scan.dataset.format if scan else ds.format) or "inferred from suffix"),
        Row(label="Text fields", value=", ".join(ds.text_fields)),
        Row(label="Label field", value=_ref(ds.label_field)),
        Row(label="User id field", value=_ref(ds.user_id_field)),
        Row(label="Records", value=f"{scan.records:,}" if scan else "not scanned"),
        Row(label="Distinct users", value=f"{scan.distinct_users:,}" if scan and scan.distinct_users else "—"),
        Row(label="Languages", value=languages),
        Row(label="Retention (dataset)", value=f"{ds.retention_days} days" if ds.retention_days is not None
            else "not recorded", status="" if ds.retention_days is not None else "warn"),
        Row(label="Retention (checkpoints)", value=f"{ds.checkpoint_retention_days} days"
            if ds.checkpoint_retention_days is not None else "not recorded"),
        Row(label="Preparation steps", value=_ref(plan_ai.preparation_steps)),
        Row(label="Bias examination", value=_ref(plan_ai.bias_examination)),
        Row(label="Data gaps", value=_ref(plan_ai.data_gaps)),
        Row(label="Dataset sha256", value=ev.dataset_sha256 or "—"),
    ]
    if scan and scan.read_errors_total:
        rows.append(Row(label="Unreadable records", value=f"{scan.read_errors_total:,}", status="warn",
                        note="lines: " + ", ".join(str(e.line) for e in scan.read_errors[:10])))
    return rows


def _scan_summary(ev: EvidenceBundle) -> list[Row]:
    scan = ev.scan
    if scan is None:
        return []
    share = scan.records_with_personal_data / scan.records_scanned if scan.records_scanned else 0.0
    rows = [
        Row(label="Records scanned", value=f"{scan.records_scanned:,} of {scan.records:,}"),
        Row(label="Records with personal data", value=f"{scan.records_with_personal_data:,} ({share:.1%})"),
        Row(label="Engine", value=f"auditor {scan.engine.auditor}"
            + (f", presidio {scan.engine.presidio}" if scan.engine.presidio else "")
            + (f", spaCy model {scan.engine.spacy_model}" if scan.engine.spacy_model else "")),
    ]
    if scan.sample:
        rows.append(Row(label="Sample", value=f"{scan.sample.sampled_records:,} of "
                        f"{scan.sample.population_records:,} records, uniform, seed {scan.sample.seed}",
                        status="warn", note="counts for the full data are estimates with 95% upper bounds"))
    return rows


def _sorted_findings(findings: list[Finding]) -> list[Finding]:
    order = {"error": 0, "fail": 1, "needs_scan": 2, "waived": 3, "pass": 4, "not_applicable": 5}
    return sorted(findings, key=lambda f: (order.get(f.status, 9), -severity_rank(f.severity), f.policy, f.rule))


def _waivers(ev: EvidenceBundle) -> list[Row]:
    rows = []
    for finding in ev.gate.findings:
        if finding.waiver is None:
            continue
        w = finding.waiver
        expired = finding.status != "waived"
        rows.append(Row(label=f"{finding.policy}/{w.rule}", value=w.reason,
                        note=f"approved by {w.approver}; expires {w.expires}"
                             + ("; EXPIRED — not applied" if expired else ""),
                        status="bad" if expired else "warn"))
    return rows


def _category(ev: EvidenceBundle, name: str) -> int:
    if ev.scan is None or name not in ev.scan.categories:
        return 0
    return ev.scan.categories[name].records


def _necessity(ev: EvidenceBundle) -> list[Row]:
    plan = ev.plan.content
    scan = ev.scan
    rows = [
        Row(label="Declared purpose", value=_ref(plan.purpose)),
        Row(label="Original purpose of collection", value=_ref(plan.dataset.original_purpose),
            note="compatibility assessment: " + _ref(plan.legal.gdpr.compatibility_assessment)),
        Row(label="Fields used", value=", ".join(plan.dataset.text_fields)
            + (f"; label: {plan.dataset.label_field}" if plan.dataset.label_field else "")),
    ]
    if scan:
        rows.append(Row(label="Personal data in the training text",
                        value=f"{scan.records_with_personal_data:,} of {scan.records_scanned:,} records",
                        note="the task (routing) does not need identifiers; see minimisation measures"))
    minimised = plan.measures.redaction or plan.measures.pseudonymisation
    rows += [
        Row(label="Minimisation", value="redaction" if plan.measures.redaction else (
            "pseudonymisation" if plan.measures.pseudonymisation else "none declared"),
            status="ok" if minimised else "warn"),
        Row(label="Storage limitation", value=f"dataset {plan.dataset.retention_days} days"
            if plan.dataset.retention_days is not None else "no retention declared",
            status="ok" if plan.dataset.retention_days is not None else "warn"),
        Row(label="Necessary and proportionate (CCPA §1798.100(c))",
            value=_yn(plan.legal.ccpa.purpose_necessary_and_proportionate)),
        Row(label="Legitimate interest balancing", value=_ref(plan.legal.gdpr.legitimate_interest_assessment),
            note="opt-out: " + _yn(plan.legal.gdpr.opt_out)),
        Row(label=f"Contribution of one {plan.privacy.unit} bounded",
            value=f"differential privacy, unit of privacy: {plan.privacy.unit}"
            if plan.privacy.mechanism == "dp-sgd" else "no (training without DP)",
            status="ok" if plan.privacy.mechanism == "dp-sgd" else "warn"),
    ]
    return rows


def _risks(ev: EvidenceBundle) -> list[RiskRow]:
    risks: list[RiskRow] = []
    for finding in _sorted_findings(ev.gate.findings):
        if finding.status in ("fail", "error", "needs_scan"):
            risks.append(RiskRow(risk=finding.conclusion or finding.title, source=f"{finding.policy}/{finding.rule}",
                                 severity=finding.severity, mitigation=finding.remediation or "—"))
        elif finding.status == "waived" and finding.waiver is not None:  # accepted, not removed: still a risk
            risks.append(RiskRow(risk=f"Not met: {finding.title}", source=f"{finding.policy}/{finding.rule} (waived)",
                                 severity=finding.severity, mitigation=f"accepted by {finding.waiver.approver} "
                                 f"until {finding.waiver.expires}: {finding.waiver.reason}"))
    training = ev.training
    dp_line = (f"DP-SGD, ε = {_num(training.epsilon)} (δ = {_num(training.delta)})"
               if training and training.mechanism == "dp-sgd" and training.epsilon is not None else
               "DP-SGD required before training: " + (f"ε ≤ {_num(ev.gate.privacy_requirements.max_epsilon)}"
                                                       if ev.gate.privacy_requirements.max_epsilon else "as planned"))
    risks.append(RiskRow(risk="Memorisation: the model reveals whether a person's records were used, or "
                              "reproduces their text (membership inference, extraction)",
                         source="EDPB Opinion 28/2024", severity="high" if ev.training is None or
                         ev.training.mechanism == "none" else "medium", mitigation=dp_line))
    special = _category(ev, "gdpr_special")
    if special:
        risks.append(RiskRow(risk=f"Special category data in {special:,} records (GDPR Art. 9)",
                             source="scan", severity="high",
                             mitigation="Art. 9(2) condition: "
                                        + _ref(ev.plan.content.legal.gdpr.special_category_condition)
                                        + "; differential privacy bounds each "
                                        + ("person's" if ev.plan.content.privacy.unit == "user" else "record's")
                                        + " influence"))
    minors = _category(ev, "minors")
    if minors or ev.plan.content.data_subjects.minors:
        risks.append(RiskRow(risk="Personal data of minors", source="scan" if minors else "plan",
                             severity="high", mitigation="guardian consent (PIPL Art. 31): "
                             + _yn(ev.plan.content.legal.pipl.guardian_consent)))
    tr = ev.plan.content.transfers
    if tr.storage_region and tr.compute_region and tr.storage_region != tr.compute_region:
        mech = tr.mechanism if isinstance(tr.mechanism, str) or tr.mechanism is None else ", ".join(tr.mechanism)
        risks.append(RiskRow(risk=f"Transfer from {tr.storage_region} to {tr.compute_region} for training",
                             source="plan", severity="medium", mitigation="mechanism: " + _ref(mech)))
    ledger = ev.ledger
    if ledger and ledger.max_epsilon_allowed is not None and ledger.composed_epsilon > ledger.max_epsilon_allowed:
        risks.append(RiskRow(risk=f"Composed ε across {ledger.runs} runs on these people "
                                  f"({_num(ledger.composed_epsilon)}) exceeds the allowed "
                                  f"{_num(ledger.max_epsilon_allowed)}", source="privacy ledger",
                             severity="high", mitigation="stop training further models on these people"))
    return risks


def _measures(ev: EvidenceBundle) -> list[Row]:
    plan = ev.plan.content
    m, a, tr = plan.measures, plan.assessments, plan.transfers
    mech = tr.mechanism if isinstance(tr.mechanism, str) or tr.mechanism is None else ", ".join(tr.mechanism)

    def flag(label: str, value: bool) -> Row:
        return Row(label=label, value="yes" if value else "no", status="ok" if value else "")

    return [
        flag("Redaction", m.redaction), flag("Pseudonymisation", m.pseudonymisation),
        flag("Encryption at rest", m.encryption_at_rest), flag("Access control", m.access_control),
        flag("Classification", m.classification),
        Row(label="Transfers", value=f"storage {_ref(tr.storage_region)}, compute {_ref(tr.compute_region)}",
            note="mechanism: " + _ref(mech)),
        Row(label="DPIA (GDPR Art. 35)", value=_ref(a.dpia)),
        Row(label="PIPIA (PIPL Arts. 55-56)", value=_ref(a.pipia)),
        Row(label="CPPA risk assessment", value=_ref(a.cppa_risk_assessment)),
        Row(label="Record of processing (GDPR Art. 30)", value=_ref(a.ropa)),
        Row(label="Transfer impact assessment", value=_ref(a.transfer_impact_assessment)),
    ]


def _dp(ev: EvidenceBundle) -> list[Row]:
    req = ev.gate.privacy_requirements
    plan = ev.plan.content.privacy
    t = ev.training
    bound = req.bound_by
    allowed = t.max_epsilon_allowed if t and t.max_epsilon_allowed is not None else req.max_epsilon
    rows: list[Row] = []
    if t is not None:
        within = allowed is None or (t.epsilon is not None and t.epsilon <= allowed + 1e-9)
        rows += [
            Row(label="Mechanism", value=t.mechanism),
            Row(label="ε spent vs allowed", value=f"{_num(t.epsilon)} of {_num(allowed)}",
                note="allowed by " + bound.get("max_epsilon", "the plan"), status="ok" if within else "bad"),
            Row(label="ε by accountant", value=f"{t.accountant}: {_num(t.epsilon_opacus)}; "
                f"{t.cross_check_accountant} (independent cross-check): {_num(t.epsilon_pld)}",
                note="the larger of the two is enforced"),
            Row(label="Target ε (noise calibrated for)", value=_num(t.target_epsilon)),
            Row(label="δ", value=_num(t.delta), note=f"n = {_units(t.privacy_units, t.unit)} in the data; set by "
                + (t.settings["delta"].source if "delta" in t.settings else "the plan")),
            Row(label="Noise multiplier σ", value=_num(t.noise_multiplier)),
            Row(label="Sampling", value=f"{t.sampling}, q = {_num(t.sample_rate, 4)}", note=_q_note(t)),
            Row(label="Clipping norm C", value=_num(t.max_grad_norm),
                note=f"{t.clipping.used} clipping" + (f" (requested {t.clipping.requested}: "
                                                      f"{t.clipping.fallback_reason})"
                                                      if t.clipping.fallback_reason else "")),
            Row(label="Steps", value=f"{t.steps:,} of {t.steps_planned:,} planned "
                f"({t.epochs_planned} epoch{'s' if t.epochs_planned != 1 else ''})",
                note=f"stopped: {t.stop_reason}" + (f" — {t.stop_detail}" if t.stop_detail else ""),
                status="ok" if t.stop_reason == "completed" else "warn"),
            Row(label="Unit of privacy", value=t.unit,
                note=f"{t.privacy_units:,} units; {t.units.contribution_bound}"
                     + (f"; user ids {t.units.user_id_normalisation}" if t.units.user_id_normalisation else "")),
            Row(label="Mechanism randomness", value="OS CSPRNG → ChaCha20, fresh per run, never written",
                note="Opacus secure_mode is off (it needs torchcsprng, which is unavailable); the checkpoint "
                     "holding the key is 0600 and deleted when the run ends"),
        ]
    else:
        rows += [
            Row(label="Mechanism (planned)", value=plan.mechanism),
            Row(label="ε allowed", value=_num(req.max_epsilon), note="bound by " + bound.get("max_epsilon", "—")),
            Row(label="δ bound", value=_num(ev.delta_resolved) if ev.delta_resolved is not None
                else str(req.delta_shown(None) or "—"),
                note="set by " + (req.delta_origin(ev.gate.privacy_units) or "the plan")),
            Row(label="Minimum privacy units", value=str(req.min_units) if req.min_units else "—",
                note="set by " + bound.get("min_units", "—") if req.min_units else ""),
            Row(label="Clipping norm bound", value=_num(req.max_grad_norm)),
            Row(label="Sampling", value=req.sampling or plan.sampling),
            Row(label="Accountant (planned)", value=plan.accountant),
            Row(label="Unit of privacy", value=plan.unit),
            Row(label="Training", value=ev.training_outcome.status, note=ev.training_outcome.reason,
                status="warn"),
        ]
    if ev.ledger is not None:
        lg = ev.ledger
        over = lg.max_epsilon_allowed is not None and lg.composed_epsilon > lg.max_epsilon_allowed + 1e-9
        rows.append(Row(label="Ledger: composed ε for these people", value=_num(lg.composed_epsilon),
                        note=f"worst-off unit over {lg.runs} run(s), composed by the accountants at δ "
                             f"{_num(lg.composed_delta)}; {lg.units_in_earlier_runs:,} of {lg.units:,} units are "
                             f"held by runs in the ledger; plain sum of the runs' own ε: spent "
                             f"{_num(lg.epsilon_spent)}, reserved {_num(lg.epsilon_reserved)}",
                        status="bad" if over else "ok"))
        rows.append(Row(label="Ledger checked", value="the user's own ledger" if lg.ledger_default else
                        "a separate ledger (--ledger), not the user's own",
                        note=f"{lg.ledger_entries} entries, head {lg.ledger_head[:16]}…: a later ledger must extend "
                             "this chain" if lg.ledger_head else "empty before this run",
                        status="" if lg.ledger_default else "warn"))
    return rows


def _model_card(ev: EvidenceBundle) -> list[Row]:
    model = ev.plan.content.model
    t = ev.training
    rows = [Row(label="Base model", value=model.base), Row(label="Task", value=model.task),
            Row(label="Labels", value=str(model.num_labels))]
    if t is None:
        rows.append(Row(label="Trained", value="no", note=ev.training_outcome.reason, status="warn"))
        return rows
    rows += [
        Row(label="Training / evaluation records", value=f"{t.train_records:,} / {t.eval_records:,}",
            note=_split_note(t)),
        Row(label="Accuracy (held out)", value=_num(t.eval.accuracy), note="not covered by the DP guarantee"),
        Row(label="Macro F1 (held out)", value=_num(t.eval.macro_f1), note="not covered by the DP guarantee"),
        Row(label="Learning rate", value=_num(t.learning_rate, 6)),
        Row(label="Trainable parameters", value=f"{t.clipping.trainable_parameters:,} of "
            f"{t.clipping.total_parameters:,}", note=t.clipping.trainable_layers),
        Row(label="Device / precision", value=f"{t.device} / {t.precision}"),
        Row(label="Public seed", value=str(t.randomness.public_seed),
            note="head initialisation and dropout only; the DP mechanism's randomness is secret"
                 + ("; resumed from a checkpoint" if t.resumed else "")),
        Row(label="Weights sha256", value=t.model_weights_sha256),
        Row(label="Libraries", value=f"torch {t.versions.torch}, transformers {t.versions.transformers}, "
            f"opacus {t.versions.opacus}, dp-accounting {t.versions.dp_accounting}"),
    ]
    return rows


def _units(n: int, unit: str) -> str:
    return f"{n:,} {'people' if unit == 'user' else 'records'}" if unit in ("user", "record") else f"{n:,} units"


def _q_note(t: TrainingEvidence) -> str:
    """Where q comes from, said with the numbers it is computed from, so a reader can check it."""
    train = t.units.train_units
    each = "person" if t.unit == "user" else "record"
    if train:
        batches = math.ceil(train / t.logical_batch_size)
        return (f"q = 1/{batches:,}: the {_units(train, t.unit)} of the training split make ⌈{train:,} / "
                f"{t.logical_batch_size:,}⌉ = {batches:,} logical batches of {t.logical_batch_size:,}; each {each} "
                f"is in a step's batch with probability q (about {t.sample_rate * train:,.0f} per step); "
                f"physical batch {t.physical_batch_size:,}")
    return f"logical batch {t.logical_batch_size:,}, physical {t.physical_batch_size:,}"


def _split_note(t: TrainingEvidence) -> str:
    train = t.units.train_units
    if train is None:
        return ""
    held = t.privacy_units - train
    return (f"{_units(train, t.unit)} trained on, {_units(held, t.unit)} held out for evaluation, of "
            f"{_units(t.privacy_units, t.unit)}; everyone's records stay on one side")


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
        rows.append(Row(label="Privacy budget", value=f"ε {_num(t.epsilon)} spent of {_num(allowed)} allowed",
                        note=f"δ {_num(t.delta)}, {t.unit}-level", status="ok" if within else "bad"))
    elif req.max_epsilon is not None:
        rows.append(Row(label="Privacy budget", value=f"ε ≤ {_num(req.max_epsilon)} required",
                        note="no training in this run"))
    if ev.ledger is not None:
        rows.append(Row(label="Ledger, these people", value=f"ε {_num(ev.ledger.composed_epsilon)} composed",
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
        Row(label="Controller", value=_ref(plan.controller)),
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
    ordered = _sorted_findings(ev.gate.findings)
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
        policies=policies, laws=_laws(ev),
        provenance=_provenance(ev), scan_summary=_scan_summary(ev), entities=entities, categories=categories,
        finding_counts=counts, rules_outside=outside, findings=ordered, scope=scope(ev), run_details=_run_details(ev),
        open_findings=finding_rows(ev, [f for f in ordered if f.status in ("fail", "error", "needs_scan", "waived")]),
        met=finding_rows(ev, [f for f in ordered if f.status == "pass"]),
        not_applicable=finding_rows(ev, [f for f in ordered if f.status == "not_applicable" and f.policy in applying]),
        inapplicable_policies=inapplicable, waivers=_waivers(ev),
        necessity=_necessity(ev), risks=_risks(ev), measures=_measures(ev), dp=_dp(ev), guarantee=guarantee(ev),
        model_card=_model_card(ev), mapping=list(MAPPING), verify_commands=verify)


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
        category = bar_chart([(category_label(n), c.records) for n, c in ev.scan.categories.items()
                              if c.records > 0],
                             label="Records per legal category")
    return {"epsilon": epsilon, "entities": entity, "categories": category}


def template_context(ev: EvidenceBundle, signing: SigningInfo) -> dict[str, Any]:
    """Plain JSON data plus pre-escaped SVG: nothing a sandboxed template could use to reach Python."""
    return {
        "evidence": ev.model_dump(mode="json"),
        "view": build_view(ev, signing).model_dump(mode="json"),
        "signing": signing.model_dump(mode="json"),
        "charts": charts(ev),
    }
