"""The placeholders ``auditor redact`` writes (``<PERSON>``, ``<PERSON_7f3a09c1>``), as the scan reads them.

The scan must read a redacted file as it reads any other -- the gate scans the file that trains -- yet a
placeholder is not personal data: ``<HEALTH>`` would otherwise hit the health lexicon, and ``<PERSON>`` reads
to the NER tier like a capitalised word. A span lying wholly inside a placeholder is therefore dropped, and
placeholders do not make a text go through the NER model. Only the entity types the scan knows form a
placeholder, so ``<JOHN>`` in a dataset is still read as text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from auditor.scan.types import Span

#: Hex digits of a pseudonym: 32 bits, so two of 10,000 distinct values share a token with probability ~1%.
PSEUDONYM_HEX = 8


def mask_token(entity: str) -> str:
    return f"<{entity}>"


def pseudonym_token(entity: str, digest_hex: str) -> str:
    return f"<{entity}_{digest_hex[:PSEUDONYM_HEX]}>"


@lru_cache(maxsize=1)
def placeholder_pattern() -> re.Pattern[str]:
    from auditor.scan.categories import category_map

    names = sorted(category_map().entities, key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(rf"<(?:{alternatives})(?:_[0-9a-f]{{{PSEUDONYM_HEX}}})?>")


def placeholder_spans(text: str) -> list[tuple[int, int]]:
    """Where the placeholders are; cheap for the texts that hold none (no ``<``)."""
    if "<" not in text:
        return []
    return [m.span() for m in placeholder_pattern().finditer(text)]


def without_placeholders(text: str) -> str:
    """The text with each placeholder replaced by a lower-case word, for the NER tier's capital-letter test."""
    if "<" not in text:
        return text
    return placeholder_pattern().sub("x", text)


def drop_inside(spans: list[Span], holes: list[tuple[int, int]]) -> list[Span]:
    """``spans`` less those lying wholly inside a placeholder (a span reaching past one is kept: a name
    that continues after ``<PERSON>`` is still a name)."""
    if not holes:
        return spans
    return [s for s in spans if not any(start <= s.start and s.end <= end for start, end in holes)]
