"""Which keys read from a dataset may appear in an output, and how: keys are data too.

A dataset keyed by e-mail address, card number or name must not have those keys printed in a message, a
finding or scan.json. Every key that reaches an output goes through :func:`safe_key` (cheap: the scan's hot
path, where finding locations are named); the "fields present" hint of an error message also runs the names
through the whole scanner (:func:`unflagged`), which only an error pays for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from auditor.scan.identifiers import IdentifierTier

#: A data key safe to echo once identifier-like parts are masked: a plain name, possibly holding masks.
#: Keys are data too: a dataset keyed by e-mail address, card number or name must not have those keys
#: printed, so a key that is (or starts with) an identifier, or holds anything but letters, digits, ``_``
#: and ``-`` (a ``.``, an ``@``, a space) is only counted, never shown.
#: It must start with a lower-case letter or ``_`` as schema names do (``text``, ``customer_id``, ``userId``): a
#: capitalised word as a key (``Quackenbush``, or a headerless CSV's first row read as its header) is as
#: likely a name as a field.
_PLAIN_KEY = re.compile(r"[a-z_][A-Za-z0-9_\-]*(?:<[A-Z_]+>[A-Za-z0-9_\-]*)*")
_LONG_DIGITS = re.compile(r"[0-9]{6,}")


@lru_cache(maxsize=1)
def _identifier_tier() -> IdentifierTier:
    """The pattern tier without Hyperscan: a handful of short keys do not pay for compiling its database."""
    from auditor.scan.identifiers import IdentifierTier

    return IdentifierTier(use_hyperscan=False)


@lru_cache(maxsize=4096)
def safe_key(key: str) -> str | None:
    """``key`` with identifier-like content masked (``phone_4155550132`` -> ``phone_<PHONE_NUMBER>``), or None
    when it cannot be shown at all. Used wherever a key read from the data would reach an output."""
    if not key or len(key) > 64 or "@" in key:
        return None
    masked = key
    for span in sorted(_identifier_tier().find(key), key=lambda s: s.start, reverse=True):
        masked = f"{masked[:span.start]}<{span.entity}>{masked[span.end:]}"
    masked = _LONG_DIGITS.sub("<DIGITS>", masked)
    return masked if _PLAIN_KEY.fullmatch(masked) else None


#: Words that are field names before they are anything else: a key made only of these (and masks) is shown
#: without asking NER, which on a bare word flags "label" as readily as "smith".
_SCHEMA_WORDS = frozenset({
    "id", "ids", "text", "texts", "label", "labels", "body", "subject", "title", "content", "contents", "message",
    "messages", "role", "user", "users", "customer", "customers", "client", "account", "ticket", "tickets", "email",
    "mail", "phone", "address", "city", "country", "region", "name", "date", "time", "created", "updated", "at",
    "by", "on", "type", "kind", "category", "categories", "status", "priority", "source", "meta", "metadata", "data",
    "value", "values", "note", "notes", "summary", "description", "comment", "comments", "lang", "language", "score",
    "rating", "channel", "team", "queue", "product", "order", "amount", "payment", "record", "records", "field",
    "fields", "key", "keys", "tag", "tags", "url", "chat", "turn", "turns", "conversation", "prompt", "response",
    "answer", "question", "context", "input", "output", "instruction", "assistant", "system", "event", "events",
    "item", "items", "line", "lines", "number", "count"
})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def unflagged(names: list[str]) -> list[str]:
    """The names the whole scanner (identifiers, NER, special-category lexicon) finds nothing in: a key such
    as ``smith`` is a surname before it is a field. NER is asked about each word bare, capitalised and as a
    name in a sentence (a false alarm only hides a field name, which is still counted); keys made only of
    common schema words skip it. Only error messages pay for this (the NER model loads once)."""
    masked = [re.sub(r"<[A-Z_]+>", " ", name) for name in names]
    ask = [i for i, m in enumerate(masked) if any(w.lower() not in _SCHEMA_WORDS for w in _WORDS.findall(m))]
    if not ask:
        return names
    from auditor.scan.engine import get_detector

    texts = [" ".join(_WORDS.findall(masked[i])) for i in ask]
    contexts = texts + [t.title() for t in texts] + [f"Ask {t.title()} about it." for t in texts]
    results = get_detector(ner=True).detect(contexts)
    flagged = {ask[i % len(ask)] for i, result in enumerate(results) if result.spans}
    return [name for i, name in enumerate(names) if i not in flagged]


#: Distinct data keys the scan asks NER about while naming finding locations; past this, an unknown key is
#: hidden without asking (a file with a million distinct keys must not cost a million NER calls).
MAX_KEYS_CHECKED = 256
_checked: dict[str, bool] = {}


def location_key(key: str) -> str | None:
    """A key as it may appear in a finding's location (``meta.<key#0>``): :func:`safe_key`, and -- unless it
    is made of common schema words -- cleared by the whole scanner once (cached, at most
    :data:`MAX_KEYS_CHECKED` distinct keys)."""
    shown = safe_key(key)
    if shown is None:
        return None
    masked = re.sub(r"<[A-Z_]+>", " ", shown)
    if all(w.lower() in _SCHEMA_WORDS for w in _WORDS.findall(masked)):
        return shown
    if shown not in _checked:
        if len(_checked) >= MAX_KEYS_CHECKED:
            return None
        _checked[shown] = bool(unflagged([shown]))
    return shown if _checked[shown] else None


def shown_field_name(keys: Sequence[str]) -> str | None:
    """A key path as it may appear in a message: every key masked by :func:`safe_key`; None if any key
    cannot be shown (then the field is only counted)."""
    shown = [safe_key(key) for key in keys]
    return None if any(s is None for s in shown) else ".".join(cast(list[str], shown))


