"""Special-category detectors driven by the lexicons in ``data/special_*.yaml``.

One Aho-Corasick automaton holds every term of every language, so the cost is one pass per text whatever
the vocabulary size. English terms need word boundaries (``gay`` must not fire inside ``Gaylord``);
Chinese terms are substrings, because Chinese is written without spaces. Numeric ages under 14 ("my
12-year-old son", "我今年12岁") are a small pattern next to the lexicon. Precision limits are documented in the
lexicon files themselves.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from auditor.scan.types import Span

#: Lexicon category -> entity type reported in scan.json (mapped to legal categories by categories.yaml).
CATEGORY_ENTITY: dict[str, str] = {
    "health": "HEALTH", "religion": "RELIGION", "political_opinion": "POLITICAL_OPINION",
    "ethnic_origin": "ETHNIC_ORIGIN", "trade_union": "TRADE_UNION", "sex_life": "SEX_LIFE",
    "biometric": "BIOMETRIC", "genetic": "GENETIC", "criminal_offence": "CRIMINAL_OFFENCE", "minors": "MINOR",
}
LEXICON_FILES = ("special_en.yaml", "special_zh.yaml")
_AGE = re.compile(
    r"(?<![A-Za-z])(?:i am|i'm|my (?:son|daughter|child|kid) is) (\d{1,2})(?: years? old)?(?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z])(\d{1,2})[- ]years?[- ]old (?:son|daughter|child|kid|boy|girl|student|pupil)"
    r"|(?:我|孩子|儿子|女儿)(?:今年)?(\d{1,2})岁", re.IGNORECASE)
_WORD = re.compile(r"[0-9a-z]")


@lru_cache(maxsize=1)
def load_lexicons() -> dict[str, dict[str, list[str]]]:
    """File name -> category -> terms, validated against the known categories."""
    out: dict[str, dict[str, list[str]]] = {}
    for name in LEXICON_FILES:
        text = resources.files("auditor.scan").joinpath(f"data/{name}").read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        unknown = sorted(set(data) - set(CATEGORY_ENTITY))
        if unknown:
            raise ValueError(f"auditor/scan/data/{name}: unknown categories {unknown}")
        out[name] = {cat: [str(t).lower() for t in terms] for cat, terms in data.items()}
    return out


class LexiconTier:
    def __init__(self) -> None:
        import ahocorasick

        self.automaton: Any = ahocorasick.Automaton()
        for lexicon in load_lexicons().values():
            for category, terms in lexicon.items():
                for term in terms:
                    self.automaton.add_word(term, (term, CATEGORY_ENTITY[category], term.isascii()))
        self.automaton.make_automaton()

    def find(self, text: str) -> list[Span]:
        lowered = text.lower()
        spans: list[Span] = []
        if len(lowered) != len(text):  # a few characters change length when lowered; keep offsets true
            lowered = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
        for end, (term, entity, ascii_term) in self.automaton.iter(lowered):
            start = end - len(term) + 1
            if ascii_term and ((start > 0 and _WORD.match(lowered[start - 1]))
                               or (end + 1 < len(lowered) and _WORD.match(lowered[end + 1]))):
                continue
            spans.append(Span(entity, start, end + 1, 0.6, "lexicon"))
        for match in _AGE.finditer(text):
            age = int(next(g for g in match.groups() if g))
            if age < 14:
                spans.append(Span("MINOR", match.start(), match.end(), 0.6, "age"))
        return spans
