"""Scope and limits of an audit, and the run details a regulator does not need up front.

A reader who signs off on a report must know its edges: what auditor checked itself (the plan against the
rules, the data with the scanner, the training's DP settings, the ledger), what the plan only *declares*
(a DPIA reference is a string; nobody here read the document), and which laws and obligations no bundled
policy covers. Each list is derived from the evidence alone, so a re-render says the same thing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from auditor.plan import TransferFlow
from auditor.report.evidence import EvidenceBundle
from auditor.report.labels import policy_label
from auditor.report.rows import Row as ScopeRow


class ScopeView(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checked: list[ScopeRow]
    declared: list[ScopeRow]
    not_covered: list[ScopeRow]


#: What no bundled policy or stage looks at, whatever the plan says.
GENERAL_LIMITS: tuple[tuple[str, str], ...] = (
    ("Documents the plan refers to", "whether the DPIA, balancing test, transfer assessment, consents or notices "
     "referred to exist, are current or are adequate: auditor records the references, it does not read them"),
    ("Personal data the scanner cannot recognise", "detection is statistical (patterns, checksums, a named-entity "
     "model) and limited to the entity types in section 5; indirect identifiers, paraphrases, images and audio "
     "are not detected"),
    ("The base model", "personal data in the base model's own pre-training data, and its licence"),
    ("Rights of data subjects", "access, erasure and objection handling, and whether an opt-out was honoured in "
     "this dataset"),
)


def _declared(ev: EvidenceBundle) -> list[ScopeRow]:
    plan = ev.plan.content
    legal, a, m, tr = plan.legal, plan.assessments, plan.measures, plan.transfers
    refs: list[tuple[str, object]] = [
        ("DPIA (GDPR Art. 35)", a.dpia), ("PIPIA (PIPL Arts. 55-56)", a.pipia),
        ("CPPA risk assessment", a.cppa_risk_assessment), ("Record of processing (GDPR Art. 30)", a.ropa),
        ("Transfer impact assessment", a.transfer_impact_assessment),
        ("Legitimate interest assessment (GDPR Art. 6(1)(f))", legal.gdpr.legitimate_interest_assessment),
        ("Compatibility assessment (GDPR Art. 6(4))", legal.gdpr.compatibility_assessment),
        ("Art. 9(2) condition", legal.gdpr.special_category_condition),
        ("Art. 10 basis (criminal offence data)", legal.gdpr.criminal_offence_basis),
        ("Opt-out from training offered (mitigating measure, EDPB Opinion 28/2024)", legal.gdpr.opt_out),
        ("PIPL legal basis", legal.pipl.legal_basis),
        ("Separate consent, sensitive PI (PIPL Art. 29)", legal.pipl.separate_consent_sensitive),
        ("Separate consent, export (PIPL Art. 39)", legal.pipl.separate_consent_export),
        ("Guardian consent (PIPL Art. 31)", legal.pipl.guardian_consent),
        ("Notice at collection (CCPA §1798.100)", legal.ccpa.notice_at_collection),
        ("Limit use of SPI honoured (CCPA §1798.121)", legal.ccpa.limit_use_of_spi_honoured),
        ("HIPAA de-identification method", legal.hipaa.deidentification),
        ("HIPAA expert determination", legal.hipaa.expert_determination_ref),
        ("Technical documentation (AI Act Annex IV)", legal.eu_ai_act.technical_documentation),
        ("Copyright policy (AI Act Art. 53(1)(c))", legal.eu_ai_act.copyright_policy),
        ("Transfer mechanism", tr.mechanism if isinstance(tr.mechanism, str) or tr.mechanism is None
         else ", ".join(tr.mechanism)),
        ("Transfer flows", "; ".join(_flow(f) for f in tr.flows)),
    ]
    rows = [ScopeRow(label=label, value=_shown(value), note="declared by the plan; not verified")
            for label, value in refs if value not in (None, "", False)]
    scanned = ev.scan is not None
    for label, flag, checkable in (("Redaction", m.redaction, True), ("Pseudonymisation", m.pseudonymisation, True),
                                   ("Encryption at rest", m.encryption_at_rest, False),
                                   ("Access control", m.access_control, False),
                                   ("Classification", m.classification, False)):
        if flag:
            rows.append(ScopeRow(label=label, value="declared", note=(
                "declared by the plan; checked only against what the scan finds in the training text"
                if checkable and scanned else "declared by the plan; not verified")))
    return rows


def _flow(flow: TransferFlow) -> str:
    """One declared transfer as a reader wants it: whose data goes where, how, on which tool."""
    tools = [flow.mechanism] if isinstance(flow.mechanism, str) else list(flow.mechanism or [])
    return f"{flow.origin} to {flow.destination} ({flow.kind.replace('_', ' ')}) on {', '.join(tools) or 'no tool'}"


def _shown(value: object) -> str:
    if value is True:
        return "yes"
    return str(value).replace("_", " ")


def _checked(ev: EvidenceBundle) -> list[ScopeRow]:
    applying = [p for p in ev.gate.policies if p.applies]
    evaluated = [f for f in ev.gate.findings if f.policy in {p.id for p in applying}]
    rows = [ScopeRow(label="The training plan", value=f"{ev.plan.file}, against {len(evaluated)} rules of "
                     + (", ".join(p.title for p in applying) or "no policy"),
                     note="what the plan states is taken as stated; section 6 lists each rule's conclusion")]
    if ev.scan is not None:
        s = ev.scan
        rows.append(ScopeRow(label="The training data", value=f"{s.records_scanned:,} of {s.records:,} records "
                             f"scanned; {len(s.entities) or 'no'} kinds of personal data found",
                             note="sampled: counts are estimates with 95% upper bounds" if s.sample else
                             "every record read; the dataset's sha256 ties this report to the file"))
    else:
        rows.append(ScopeRow(label="The training data", value="not scanned",
                             note="rules that need the data could not be decided"))
    t = ev.training
    if t is not None:
        rows.append(ScopeRow(label="The fine-tune", value=f"{t.mechanism} enforced and accounted as it ran",
                             note="ε from two independent accountants, the larger enforced; the weights' sha256 "
                                  "ties the model to this report"))
    else:
        rows.append(ScopeRow(label="The fine-tune", value="no model was trained in this run",
                             note=ev.training_outcome.status))
    if ev.ledger is not None:
        rows.append(ScopeRow(label="Earlier runs on the same people", value=f"{ev.ledger.runs} run(s) in the "
                             "privacy ledger, composed", note="a ledger on another machine is not seen"))
    return rows


def _not_covered(ev: EvidenceBundle) -> list[ScopeRow]:
    rows: list[ScopeRow] = []
    for ref in ev.gate.policies:
        if not ref.applies:
            continue
        for item in ref.not_covered:
            rows.append(ScopeRow(label=policy_label(ref.id, ref.title), value=item))
    rows.append(_leakage_limit(ev))
    rows += [ScopeRow(label=label, value=text) for label, text in GENERAL_LIMITS]
    return rows


def _leakage_limit(ev: EvidenceBundle) -> ScopeRow:
    """What was not tested about the trained model, from the leakage audit itself: a report whose audit ran
    must not say none did, and one whose audit ran must still name the attacks it left out."""
    label = "What the trained model reveals in practice"
    audit = ev.leakage
    if audit is None or audit.status != "completed":
        what = ("no membership-inference or extraction test was run" if audit is None else
                "the leakage audit failed, so no membership-inference or extraction result stands")
        return ScopeRow(label=label, value=f"{what}; the differential-privacy bound in section 9 is the "
                        "protection claimed")
    left = ", ".join(audit.attacks_not_run) or "none of EDPB Opinion 28/2024's list"
    return ScopeRow(label=label, value=f"attacks the leakage audit (section 11) did not run: {left}; and any "
                    "attack stronger than the ones it ran")


def scope(ev: EvidenceBundle) -> ScopeView:
    return ScopeView(checked=_checked(ev), declared=_declared(ev), not_covered=_not_covered(ev))
