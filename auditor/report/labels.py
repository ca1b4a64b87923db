"""Names a lawyer reads: legal categories and policies in words, not the ids the rules compute with.

The ids (``gdpr_special``, ``eu_ai_act``) stay in evidence.json and the machine outputs, where they are a
contract; the report shows these labels, with the id beside them where a reader may want to look it up.
"""

from __future__ import annotations

CATEGORY_LABELS: dict[str, str] = {
    "personal_data": "Personal data (any kind)",
    "direct_identifier": "Direct identifiers (names, contact details, ID and account numbers)",
    "government_id": "Government identifiers (SSN, passport, resident ID, licence)",
    "financial_account": "Financial accounts (card numbers, IBAN)",
    "contact": "Contact details (e-mail, phone, postal address)",
    "online_identifier": "Online identifiers (IP address, URL)",
    "precise_geolocation": "Precise geolocation",
    "gdpr_special": "Special categories of personal data (GDPR Art. 9)",
    "health": "Health",
    "biometric": "Biometric data",
    "genetic": "Genetic data",
    "ethnic_origin": "Racial or ethnic origin",
    "political_opinion": "Political opinions",
    "religion": "Religious or philosophical beliefs",
    "trade_union": "Trade union membership",
    "sex_life": "Sex life or sexual orientation",
    "criminal_offence": "Criminal convictions and offences (GDPR Art. 10)",
    "ccpa_spi": "Sensitive personal information (CCPA §1798.140(ae))",
    "pipl_sensitive": "Sensitive personal information (PIPL Art. 28)",
    "hipaa_identifier": "HIPAA Safe Harbor identifiers (§164.514(b)(2))",
    "phi": "Protected health information (HIPAA)",
    "minors": "Personal data of minors",
}

#: For chart axes, where a label has about 28 characters of room.
CATEGORY_SHORT: dict[str, str] = {
    "personal_data": "Personal data", "direct_identifier": "Direct identifiers", "government_id": "Government IDs",
    "financial_account": "Financial accounts", "contact": "Contact details", "online_identifier": "Online IDs",
    "precise_geolocation": "Precise geolocation", "gdpr_special": "Special categories (Art. 9)",
    "health": "Health", "biometric": "Biometric", "genetic": "Genetic", "ethnic_origin": "Ethnic origin",
    "political_opinion": "Political opinions", "religion": "Religion or beliefs", "trade_union": "Trade union",
    "sex_life": "Sex life / orientation", "criminal_offence": "Criminal offences", "ccpa_spi": "CCPA sensitive PI",
    "pipl_sensitive": "PIPL sensitive PI", "hipaa_identifier": "HIPAA identifiers", "phi": "PHI (HIPAA)",
    "minors": "Minors",
}

POLICY_LABELS: dict[str, str] = {"gdpr": "GDPR", "ccpa": "CCPA / CPRA", "pipl": "PIPL", "hipaa": "HIPAA",
                                 "eu_ai_act": "EU AI Act", "uk_gdpr": "UK GDPR", "us_states": "US state laws",
                                 "lgpd": "LGPD (Brazil)", "dpdp": "DPDP Act (India)",
                                 "canada": "PIPEDA / Quebec Law 25", "korea_pipa": "PIPA (Korea)",
                                 "japan_appi": "APPI (Japan)"}


def category_label(name: str) -> str:
    return CATEGORY_LABELS.get(name, name.replace("_", " ").capitalize())


def category_short(name: str) -> str:
    return CATEGORY_SHORT.get(name, category_label(name))


def policy_label(policy_id: str, title: str = "") -> str:
    """The bundled policies' short names; a user's own policy by its title (its id if it has none)."""
    return POLICY_LABELS.get(policy_id) or title or policy_id


TASK_LABELS: dict[str, str] = {
    "sequence-classification": "Text classification (a new head over the base model)",
    "causal-lm": "Generative language model (next-token fine-tune with LoRA adapters)",
}


def task_label(task: str) -> str:
    return TASK_LABELS.get(task, task)
