"""The report's sections as rows, each derived from the evidence alone: laws, provenance, scan, necessity,
risks, measures, differential privacy and the model card. Templates only lay these out."""

from __future__ import annotations

import math

from auditor.findings import Finding, severity_rank
from auditor.report.evidence import EvidenceBundle
from auditor.report.jurisdictions import other_law_rows
from auditor.report.labels import task_label
from auditor.report.redaction import redaction_rows
from auditor.report.rows import LawRow, RiskRow, Row, composed, num, ref, yn
from auditor.train.evidence import TrainingEvidence


def _policy_applies(ev: EvidenceBundle, policy_id: str) -> str:
    for policy in ev.gate.policies:
        if policy.id == policy_id:
            return "applies" if policy.applies else "does not apply"
    return "not evaluated"


#: Report sections → GDPR Art. 35(7) minimum DPIA content and EU AI Act Annex IV technical documentation.
def law_rows(ev: EvidenceBundle) -> list[LawRow]:
    legal = ev.plan.content.legal
    gdpr, pipl, ccpa, hipaa, ai = legal.gdpr, legal.pipl, legal.ccpa, legal.hipaa, legal.eu_ai_act
    return [
        LawRow(law="GDPR", applies=_policy_applies(ev, "gdpr"), basis=ref(gdpr.lawful_basis), details=[
            Row(label="Art. 9(2) condition", value=ref(gdpr.special_category_condition)),
            Row(label="Legitimate interest assessment", value=ref(gdpr.legitimate_interest_assessment)),
            Row(label="Opt-out offered", value=yn(gdpr.opt_out)),
            Row(label="Compatibility assessment (Art. 6(4))", value=ref(gdpr.compatibility_assessment)),
            Row(label="Art. 10 basis (criminal offence data)", value=ref(gdpr.criminal_offence_basis)),
        ]),
        LawRow(law="PIPL", applies=_policy_applies(ev, "pipl"), basis=ref(pipl.legal_basis), details=[
            Row(label="Separate consent, sensitive PI (Art. 29)", value=yn(pipl.separate_consent_sensitive)),
            Row(label="Separate consent, export (Art. 39)", value=yn(pipl.separate_consent_export)),
            Row(label="Notice of necessity and impact (Art. 30)", value=yn(pipl.notice_of_necessity)),
            Row(label="Guardian consent (Art. 31)", value=yn(pipl.guardian_consent)),
        ]),
        LawRow(law="CCPA / CPRA", applies=_policy_applies(ev, "ccpa"),
               basis="notice at collection: " + yn(ccpa.notice_at_collection), details=[
            Row(label="Limit use of SPI honoured (§1798.121)", value=yn(ccpa.limit_use_of_spi_honoured)),
            Row(label="Necessary and proportionate (§1798.100(c))",
                value=yn(ccpa.purpose_necessary_and_proportionate)),
            Row(label="Deidentified (§1798.140(m))", value=yn(ccpa.deidentified)),
        ]),
        LawRow(law="HIPAA", applies=_policy_applies(ev, "hipaa"),
               basis="de-identification: " + ref(hipaa.deidentification), details=[
            Row(label="Role (covered entity, business associate)",
                value=ref(hipaa.role) if hipaa.role else "PHI of a covered entity: " + yn(hipaa.applies)),
            Row(label="Permitted use of PHI as PHI", value=ref(hipaa.permitted_use)),
            Row(label="Expert determination", value=ref(hipaa.expert_determination_ref)),
        ]),
        LawRow(law="EU AI Act", applies=_policy_applies(ev, "eu_ai_act"),
               basis="high-risk: " + yn(ai.high_risk), details=[
            Row(label="General-purpose model", value=yn(ai.general_purpose_model)),
            Row(label="Technical documentation", value=ref(ai.technical_documentation)),
            Row(label="Copyright policy", value=ref(ai.copyright_policy)),
            Row(label="Role", value=ref(ai.role)),
        ]),
        *other_law_rows(ev),
    ]



def provenance_rows(ev: EvidenceBundle) -> list[Row]:
    ds = ev.plan.content.dataset
    plan_ai = ev.plan.content.legal.eu_ai_act
    scan = ev.scan
    languages = ", ".join(f"{k} ({v:,})" for k, v in sorted(scan.languages.items(), key=lambda kv: -kv[1])) \
        if scan and scan.languages else ", ".join(ds.languages) or "not recorded"
    rows = [
        Row(label="Source", value=ref(ds.source)),
        Row(label="Original purpose", value=ref(ds.original_purpose)),
        Row(label="Format", value=(scan.dataset.format if scan else ds.format) or "inferred from suffix"),
        Row(label="Text fields", value=", ".join(ds.text_fields)),
        Row(label="Label field", value=ref(ds.label_field)),
        Row(label="User id field", value=ref(ds.user_id_field)),
        Row(label="Records", value=f"{scan.records:,}" if scan else "not scanned"),
        Row(label="Distinct users", value=f"{scan.distinct_users:,}" if scan and scan.distinct_users else "—"),
        Row(label="Languages", value=languages),
        Row(label="Retention (dataset)", value=f"{ds.retention_days} days" if ds.retention_days is not None
            else "not recorded", status="" if ds.retention_days is not None else "warn"),
        Row(label="Retention (checkpoints)", value=f"{ds.checkpoint_retention_days} days"
            if ds.checkpoint_retention_days is not None else "not recorded"),
        Row(label="Preparation steps", value=ref(plan_ai.preparation_steps)),
        Row(label="Bias examination", value=ref(plan_ai.bias_examination)),
        Row(label="Data gaps", value=ref(plan_ai.data_gaps)),
        Row(label="Dataset sha256", value=ev.dataset_sha256 or "—"),
    ]
    if scan and scan.read_errors_total:
        rows.append(Row(label="Unreadable records", value=f"{scan.read_errors_total:,}", status="warn",
                        note="lines: " + ", ".join(str(e.line) for e in scan.read_errors[:10])))
    return rows


def scan_rows(ev: EvidenceBundle) -> list[Row]:
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


def sorted_findings(findings: list[Finding]) -> list[Finding]:
    order = {"error": 0, "fail": 1, "needs_scan": 2, "waived": 3, "pass": 4, "not_applicable": 5}
    return sorted(findings, key=lambda f: (order.get(f.status, 9), -severity_rank(f.severity), f.policy, f.rule))


def waiver_rows(ev: EvidenceBundle) -> list[Row]:
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


def _identifiers_note(task: str) -> str:
    """Whether the purpose needs the identifiers is the controller's to justify; a generative model is the
    case where keeping them costs most, since it can write them out again."""
    if task == "causal-lm":
        return ("a generative model can reproduce text it was trained on; whether the purpose needs these "
                "identifiers is for the controller to justify (see minimisation measures)")
    return "whether the purpose needs these identifiers is for the controller to justify (see minimisation measures)"


def necessity_rows(ev: EvidenceBundle) -> list[Row]:
    plan = ev.plan.content
    scan = ev.scan
    rows = [
        Row(label="Declared purpose", value=ref(plan.purpose)),
        Row(label="Original purpose of collection", value=ref(plan.dataset.original_purpose),
            note="compatibility assessment: " + ref(plan.legal.gdpr.compatibility_assessment)),
        Row(label="Fields used", value=", ".join(plan.dataset.text_fields)
            + (f"; label: {plan.dataset.label_field}" if plan.dataset.label_field else "")),
    ]
    if scan:
        rows.append(Row(label="Personal data in the training text",
                        value=f"{scan.records_with_personal_data:,} of {scan.records_scanned:,} records",
                        note=_identifiers_note(plan.model.task)))
    minimised = plan.measures.redaction or plan.measures.pseudonymisation
    rows += [
        Row(label="Minimisation", value="redaction" if plan.measures.redaction else (
            "pseudonymisation" if plan.measures.pseudonymisation else "none declared"),
            status="ok" if minimised else "warn"),
        *redaction_rows(ev),
        Row(label="Storage limitation", value=f"dataset {plan.dataset.retention_days} days"
            if plan.dataset.retention_days is not None else "no retention declared",
            status="ok" if plan.dataset.retention_days is not None else "warn"),
        Row(label="Necessary and proportionate (CCPA §1798.100(c))",
            value=yn(plan.legal.ccpa.purpose_necessary_and_proportionate)),
        Row(label="Legitimate interest balancing", value=ref(plan.legal.gdpr.legitimate_interest_assessment),
            note="opt-out: " + yn(plan.legal.gdpr.opt_out)),
        Row(label=f"Contribution of one {plan.privacy.unit} bounded",
            value=f"differential privacy, unit of privacy: {plan.privacy.unit}"
            if plan.privacy.mechanism == "dp-sgd" else "no (training without DP)",
            status="ok" if plan.privacy.mechanism == "dp-sgd" else "warn"),
    ]
    return rows


def risk_rows(ev: EvidenceBundle) -> list[RiskRow]:
    risks: list[RiskRow] = []
    for finding in sorted_findings(ev.gate.findings):
        if finding.status in ("fail", "error", "needs_scan"):
            risks.append(RiskRow(risk=finding.conclusion or finding.title, source=f"{finding.policy}/{finding.rule}",
                                 severity=finding.severity, mitigation=finding.remediation or "—"))
        elif finding.status == "waived" and finding.waiver is not None:  # accepted, not removed: still a risk
            risks.append(RiskRow(risk=f"Not met: {finding.title}", source=f"{finding.policy}/{finding.rule} (waived)",
                                 severity=finding.severity, mitigation=f"accepted by {finding.waiver.approver} "
                                 f"until {finding.waiver.expires}: {finding.waiver.reason}"))
    training = ev.training
    dp_line = (f"DP-SGD, ε = {num(training.epsilon)} (δ = {num(training.delta)})"
               if training and training.mechanism == "dp-sgd" and training.epsilon is not None else
               "DP-SGD required before training: " + (f"ε ≤ {num(ev.gate.privacy_requirements.max_epsilon)}"
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
                                        + ref(ev.plan.content.legal.gdpr.special_category_condition)
                                        + "; differential privacy bounds each "
                                        + ("person's" if ev.plan.content.privacy.unit == "user" else "record's")
                                        + " influence"))
    minors = _category(ev, "minors")
    if minors or ev.plan.content.data_subjects.minors:
        risks.append(RiskRow(risk="Personal data of minors", source="scan" if minors else "plan",
                             severity="high", mitigation="guardian consent (PIPL Art. 31): "
                             + yn(ev.plan.content.legal.pipl.guardian_consent)))
    tr = ev.plan.content.transfers
    if tr.storage_region and tr.compute_region and tr.storage_region != tr.compute_region:
        mech = tr.mechanism if isinstance(tr.mechanism, str) or tr.mechanism is None else ", ".join(tr.mechanism)
        risks.append(RiskRow(risk=f"Transfer from {tr.storage_region} to {tr.compute_region} for training",
                             source="plan", severity="medium", mitigation="mechanism: " + ref(mech)))
    ledger = ev.ledger
    if ledger and ledger.max_epsilon_allowed is not None and (
            ledger.composed_epsilon is None or ledger.composed_epsilon > ledger.max_epsilon_allowed):
        risks.append(RiskRow(risk=f"Composed ε across {ledger.runs} runs on these people "
                                  f"({composed(ledger.composed_epsilon)}) exceeds the allowed "
                                  f"{num(ledger.max_epsilon_allowed)}", source="privacy ledger",
                             severity="high", mitigation="stop training further models on these people"))
    return risks


def measure_rows(ev: EvidenceBundle) -> list[Row]:
    plan = ev.plan.content
    m, a, tr = plan.measures, plan.assessments, plan.transfers
    mech = tr.mechanism if isinstance(tr.mechanism, str) or tr.mechanism is None else ", ".join(tr.mechanism)

    def flag(label: str, value: bool) -> Row:
        return Row(label=label, value="yes" if value else "no", status="ok" if value else "")

    return [
        flag("Redaction", m.redaction), flag("Pseudonymisation", m.pseudonymisation),
        flag("Encryption at rest", m.encryption_at_rest), flag("Access control", m.access_control),
        flag("Classification", m.classification),
        Row(label="Transfers", value=f"storage {ref(tr.storage_region)}, compute {ref(tr.compute_region)}",
            note="mechanism: " + ref(mech)),
        Row(label="DPIA (GDPR Art. 35)", value=ref(a.dpia)),
        Row(label="PIPIA (PIPL Arts. 55-56)", value=ref(a.pipia)),
        Row(label="CPPA risk assessment", value=ref(a.cppa_risk_assessment)),
        Row(label="Record of processing (GDPR Art. 30)", value=ref(a.ropa)),
        Row(label="Transfer impact assessment", value=ref(a.transfer_impact_assessment)),
    ]


def dp_rows(ev: EvidenceBundle) -> list[Row]:
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
            Row(label="ε spent vs allowed", value=f"{num(t.epsilon)} of {num(allowed)}",
                note="allowed by " + bound.get("max_epsilon", "the plan"), status="ok" if within else "bad"),
            Row(label="ε by accountant", value=f"{t.accountant}: {num(t.epsilon_opacus)}; "
                f"{t.cross_check_accountant} (independent cross-check): {num(t.epsilon_pld)}",
                note="the larger of the two is enforced"),
            Row(label="Target ε (noise calibrated for)", value=num(t.target_epsilon)),
            Row(label="δ", value=num(t.delta), note=f"n = {_units(t.privacy_units, t.unit)} in the data; set by "
                + (t.settings["delta"].source if "delta" in t.settings else "the plan")),
            Row(label="Noise multiplier σ", value=num(t.noise_multiplier)),
            Row(label="Sampling", value=f"{t.sampling}, q = {num(t.sample_rate, 4)}", note=_q_note(t)),
            Row(label="Clipping norm C", value=num(t.max_grad_norm),
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
            Row(label="ε allowed", value=num(req.max_epsilon), note="bound by " + bound.get("max_epsilon", "—")),
            Row(label="δ bound", value=num(ev.delta_resolved) if ev.delta_resolved is not None
                else str(req.delta_shown(None) or "—"),
                note="set by " + (req.delta_origin(ev.gate.privacy_units) or "the plan")),
            Row(label="Minimum privacy units", value=str(req.min_units) if req.min_units else "—",
                note="set by " + bound.get("min_units", "—") if req.min_units else ""),
            Row(label="Clipping norm bound", value=num(req.max_grad_norm)),
            Row(label="Sampling", value=req.sampling or plan.sampling),
            Row(label="Accountant (planned)", value=plan.accountant),
            Row(label="Unit of privacy", value=plan.unit),
            Row(label="Training", value=ev.training_outcome.status, note=ev.training_outcome.reason,
                status="warn"),
        ]
    if ev.ledger is not None:
        lg = ev.ledger
        over = lg.max_epsilon_allowed is not None and (lg.composed_epsilon is None
                                                        or lg.composed_epsilon > lg.max_epsilon_allowed + 1e-9)
        rows.append(Row(label="Ledger: composed ε for these people", value=composed(lg.composed_epsilon),
                        note=f"worst-off unit over {lg.runs} run(s), composed by the accountants at δ "
                             f"{num(lg.composed_delta)}; {lg.units_in_earlier_runs:,} of {lg.units:,} units are "
                             f"held by runs in the ledger; plain sum of the runs' own ε: spent "
                             f"{num(lg.epsilon_spent)}, reserved {num(lg.epsilon_reserved)}",
                        status="bad" if over else "ok"))
        rows.append(Row(label="Ledger checked", value="the user's own ledger" if lg.ledger_default else
                        "a separate ledger (--ledger), not the user's own",
                        note=f"{lg.ledger_entries} entries, head {lg.ledger_head[:16]}…: a later ledger must extend "
                             "this chain" if lg.ledger_head else "empty before this run",
                        status="" if lg.ledger_default else "warn"))
    return rows


def model_card_rows(ev: EvidenceBundle) -> list[Row]:
    model = ev.plan.content.model
    t = ev.training
    rows = [Row(label="Base model", value=model.base), Row(label="Task", value=task_label(model.task), note=model.task)]
    if model.task == "sequence-classification":
        rows.append(Row(label="Labels", value=str(model.num_labels)))
    if t is None:
        rows.append(Row(label="Trained", value="no", note=ev.training_outcome.reason, status="warn"))
        return rows
    rows += [
        Row(label="Training / evaluation records", value=f"{t.train_records:,} / {t.eval_records:,}",
            note=_split_note(t)),
        *_quality_rows(t),
        Row(label="Learning rate", value=num(t.learning_rate, 6)),
        Row(label="Trainable parameters", value=f"{t.clipping.trainable_parameters:,} of "
            f"{t.clipping.total_parameters:,}", note=t.clipping.trainable_layers),
        Row(label="Device / precision", value=f"{t.device} / {t.precision}"),
        Row(label="Public seed", value=str(t.randomness.public_seed),
            note="the new head's or adapter's initial weights and dropout only; the DP mechanism's randomness "
                 "is secret"
                 + ("; resumed from a checkpoint" if t.resumed else "")),
        Row(label="Weights sha256", value=t.model_weights_sha256, note=f"{t.model_dir}/{t.model_weights_file}"),
        *([Row(label="Merged weights sha256", value=t.merged_weights_sha256,
               note=f"{t.model_dir}/merged/model.safetensors: the base with the adapter merged in")]
          if t.merged_weights_sha256 else []),
        Row(label="Libraries", value=f"torch {t.versions.torch}, transformers {t.versions.transformers}, "
            f"opacus {t.versions.opacus}, dp-accounting {t.versions.dp_accounting}"
            + (f", peft {t.versions.peft}" if t.lora is not None and t.versions.peft else "")),
    ]
    return rows


def _quality_rows(t: TrainingEvidence) -> list[Row]:
    """The held-out metrics that fit the task: accuracy and F1 for a classifier; perplexity and the LoRA
    adapter for a causal LM."""
    outside = "not covered by the DP guarantee"
    if t.task == "causal-lm":
        rows = [Row(label="Perplexity (held out)", value=num(t.eval.perplexity, 2),
                    note=f"{outside}; over {t.eval.tokens or 0:,} target tokens (assistant turns of chats)")]
        if t.lora is not None:
            rows.append(Row(label="LoRA adapter", value=f"r = {t.lora.r}, α = {t.lora.alpha}, dropout "
                            f"{num(t.lora.dropout)}", note=f"on {', '.join(t.lora.target_modules)}: "
                            f"{t.lora.adapted_modules} modules; only the adapter is trained and released"))
        return rows
    return [Row(label="Accuracy (held out)", value=num(t.eval.accuracy), note=outside),
            Row(label="Macro F1 (held out)", value=num(t.eval.macro_f1), note=outside)]


def _units(n: int, unit: str) -> str:
    return f"{n:,} {'people' if unit == 'user' else 'records'}" if unit in ("user", "record") else f"{n:,} units"


def _q_note(t: TrainingEvidence) -> str:
    """Where q comes from, said with the numbers it is computed from, so a reader can check it."""
    train = t.units.train_units
    each = "person" if t.unit == "user" else "record"
    if train:
        batches = math.ceil(train / t.logical_batch_size)
        canaries = t.units.canaries
        split = (f"{_units(train - canaries, t.unit)} of the training split and {canaries:,} canaries" if canaries
                 else f"{_units(train, t.unit)} of the training split")
        return (f"q = 1/{batches:,}: the {split} make ⌈{train:,} / "
                f"{t.logical_batch_size:,}⌉ = {batches:,} logical batches of {t.logical_batch_size:,}; each {each} "
                f"is in a step's batch with probability q (about {t.sample_rate * train:,.0f} per step); "
                f"physical batch {t.physical_batch_size:,}")
    return f"logical batch {t.logical_batch_size:,}, physical {t.physical_batch_size:,}"


def _split_note(t: TrainingEvidence) -> str:
    train = t.units.train_units
    if train is None:
        return ""
    # train_units counts the leakage audit's canaries too (they are privacy units of the run); privacy_units
    # counts the data's own people only
    canaries = t.units.canaries
    real = train - canaries
    held = t.privacy_units - real
    planted = (f", plus {canaries:,} synthetic canaries (each trained on with probability 1/2)"
               if canaries else "")
    return (f"{_units(real, t.unit)} trained on{planted}, {_units(held, t.unit)} held out for evaluation, of "
            f"{_units(t.privacy_units, t.unit)}; everyone's records stay on one side")
