"""Law rows for the UK, US state, Brazilian, Indian, Canadian, Korean and Japanese policies (kept beside
sections.py, which shows the first five laws always and these only where they apply)."""

from __future__ import annotations

from auditor.report.evidence import EvidenceBundle
from auditor.report.rows import LawRow, Row, ref, yn


def other_law_rows(ev: EvidenceBundle) -> list[LawRow]:
    """The laws added with the UK, US state, Brazilian, Indian, Canadian, Korean and Japanese policies, shown only
    where their policy applies, so a report on EU data does not list seven empty sections."""
    legal = ev.plan.content.legal
    uk, states, lgpd, dpdp, canada = legal.uk_gdpr, legal.us_states, legal.lgpd, legal.dpdp, legal.canada
    korea, japan = legal.korea_pipa, legal.japan_appi
    rows = [
        ("uk_gdpr", LawRow(law="UK GDPR", applies="applies", basis=ref(uk.lawful_basis), details=[
            Row(label="Schedule 1 condition (DPA 2018)", value=ref(uk.schedule_1_condition)),
            Row(label="Compatibility assessment (Art. 8A)", value=ref(uk.compatibility_assessment))])),
        ("us_states", LawRow(law="US state laws", applies="applies",
                             basis="sensitive-data consent: " + yn(states.sensitive_data_consent), details=[
            Row(label="Controller thresholds met", value=yn(states.meets_thresholds)),
            Row(label="Washington health data consent", value=yn(states.wa_health_data_consent)),
            Row(label="BIPA written release", value=yn(states.bipa_written_release))])),
        ("lgpd", LawRow(law="LGPD", applies="applies", basis=ref(lgpd.legal_basis), details=[
            Row(label="Sensitive data basis (Art. 11)", value=ref(lgpd.sensitive_data_basis))])),
        ("dpdp", LawRow(law="DPDP Act", applies="applies", basis=ref(dpdp.basis), details=[
            Row(label="Verifiable parental consent (s. 9)", value=yn(dpdp.verifiable_parental_consent))])),
        ("canada", LawRow(law="PIPEDA / Quebec Law 25", applies="applies", basis=ref(canada.consent), details=[
            Row(label="Quebec secondary use (s. 12)", value=ref(canada.quebec_secondary_use))])),
        ("korea_pipa", LawRow(law="PIPA (Korea)", applies="applies", basis=ref(korea.legal_basis), details=[
            Row(label="Use beyond the original purpose (Arts. 15(3), 18, 28-2)", value=ref(korea.further_use)),
            Row(label="Legal representative's consent under 14 (Art. 22-2)", value=yn(korea.guardian_consent))])),
        ("japan_appi", LawRow(law="APPI (Japan)", applies="applies",
                              basis="purpose of use notified or published: " + yn(japan.purpose_notified), details=[
            Row(label="Use beyond the purpose of use (Arts. 17-18, 41, 43)", value=ref(japan.further_use)),
            Row(label="Special care-required information (Art. 20(2))", value=ref(japan.special_care_basis))])),
    ]
    applying = {policy.id for policy in ev.gate.policies if policy.applies}
    return [row for policy_id, row in rows if policy_id in applying]
