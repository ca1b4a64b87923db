"""Privacy units as both the scan and the training see them: one normalisation of user ids for both.

The gate counts people from the scan and the mechanism samples people from the training data; if the two
normalised ids differently, the gate could pass a dataset whose people the training then counts (and
protects) differently. ``" Alice@X.com"`` and ``"alice@x.com"`` are one person in a CRM export.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

UserIdNormalisation = Literal["casefold", "trim", "exact"]

#: What each mode does, in the words the evidence and the report use.
DESCRIPTIONS: dict[str, str] = {
    "casefold": "trimmed, Unicode NFKC-normalised and case-folded",
    "trim": "trimmed and Unicode NFKC-normalised (case kept)",
    "exact": "used exactly as stored",
}


def normalise_user_id(raw: str, mode: UserIdNormalisation = "casefold") -> str:
    """The id as a privacy unit: ``casefold`` (default) trims, NFKC-normalises and case-folds; ``trim`` keeps
    case; ``exact`` keeps every byte (for ids whose case is significant, such as base64 tokens)."""
    if mode == "exact":
        return raw
    value = unicodedata.normalize("NFKC", raw).strip()
    return value.casefold() if mode == "casefold" else value


def normalised_text(text: str) -> str:
    """A record's content as a privacy unit: NFKC, case-folded, whitespace runs collapsed (a copy re-exported
    with other line ends, trailing blanks or in upper case is still the same person's text). A text edited in
    substance (redacted, rewritten) is a new text: the ledger then recognises its person by id or not at all."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
