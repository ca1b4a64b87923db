"""What a worker does with a batch of texts: detect, rewrite with Presidio's ``AnonymizerEngine``, detect again.

The rewrite is Presidio's own (overlapping spans merged, replacements applied end to start); auditor adds
one operator, the keyed pseudonym, registered the way Presidio's custom operators are. The re-detection
runs on the rewritten texts only -- a text with nothing to replace is the output as it is, and the detector
is deterministic, so its first result is its re-scan -- which keeps the verification from doubling the
cost of a redaction. Placeholders are not personal data to the scan (:mod:`auditor.scan.placeholders`), so
a masked text without other capitalised words does not go through the NER model a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import InvalidParamError, OperatorConfig, RecognizerResult
from presidio_anonymizer.operators import Operator, OperatorType

from auditor.redact.keys import MIN_KEY_BYTES, pseudonym_digest
from auditor.scan.placeholders import mask_token, pseudonym_token
from auditor.scan.types import Span, TextResult

PSEUDONYM_OPERATOR = "auditor_pseudonym"


class Secret:
    """The key inside Presidio's operator parameters, where a ``repr`` (a log line, a traceback) shows
    ``<key>`` rather than the key."""

    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<key>"


class KeyedPseudonym(Operator):
    """Presidio anonymize operator: ``<ENTITY_xxxxxxxx>``, the first hex digits of HMAC-SHA256(key, entity and
    normalised value) -- the same value gets the same token in every record and every run with the key."""

    def operate(self, text: str | None = None, params: dict[str, Any] | None = None) -> str:
        params = params or {}
        key: Secret = params["key"]
        entity = str(params["entity_type"])
        return pseudonym_token(entity, pseudonym_digest(key.value, entity, text or ""))

    def validate(self, params: dict[str, Any] | None = None) -> None:
        key = (params or {}).get("key")
        if not isinstance(key, Secret) or len(key.value) < MIN_KEY_BYTES:
            raise InvalidParamError(f"{PSEUDONYM_OPERATOR} needs a key of at least {MIN_KEY_BYTES} bytes")

    def operator_name(self) -> str:
        return PSEUDONYM_OPERATOR

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


class RedactSettings(NamedTuple):
    """Sent with every batch (workers may be spawned, not forked, so nothing is assumed to be inherited)."""

    ner: bool
    mode: str
    entities: frozenset[str]
    key: bytes | None
    #: a text file's line must not become blank (a blank line is no record): such a line is masked instead
    keep_nonblank: bool = False


class TextRedaction(NamedTuple):
    text: str | None                # the rewritten text; None when nothing was replaced
    replaced: tuple[str, ...]       # the entity type of each span replaced
    source: TextResult              # what the scan found in the text as read
    residual: TextResult            # what the scan finds in the text as written


class Rewriter:
    """One ``AnonymizerEngine`` and the operators for one mode, built once per worker."""

    def __init__(self, mode: str, entities: frozenset[str], key: bytes | None) -> None:
        self.engine = AnonymizerEngine()  # type: ignore[no-untyped-call]
        self.engine.add_anonymizer(KeyedPseudonym)
        self.operators = self._operators(mode, entities, key)
        self.masks = self._operators("mask", entities, None)

    @staticmethod
    def _operators(mode: str, entities: frozenset[str], key: bytes | None) -> dict[str, OperatorConfig]:
        if mode == "mask":
            return {e: OperatorConfig("replace", {"new_value": mask_token(e)}) for e in entities}
        if mode == "pseudonym":
            if key is None:
                raise ValueError("pseudonym mode needs a key")
            return {"DEFAULT": OperatorConfig(PSEUDONYM_OPERATOR, {"key": Secret(key)})}
        return {"DEFAULT": OperatorConfig("redact")}

    def rewrite(self, text: str, spans: Sequence[Span], keep_nonblank: bool = False) -> tuple[str, tuple[str, ...]]:
        results = [RecognizerResult(s.entity, s.start, s.end, s.score) for s in spans]
        out = self.engine.anonymize(text, results, dict(self.operators))
        if keep_nonblank and not out.text.strip():
            out = self.engine.anonymize(text, results, dict(self.masks))
        return out.text, tuple(item.entity_type for item in sorted(out.items, key=lambda i: i.start))


@lru_cache(maxsize=4)
def _rewriter(mode: str, entities: frozenset[str], key: bytes | None) -> Rewriter:
    return Rewriter(mode, entities, key)


def redact_batch(job: tuple[list[str], RedactSettings]) -> list[TextRedaction]:
    """The driver's task (:func:`auditor.scan.drive.drive`): one result per text, in order."""
    from auditor.scan.engine import get_detector

    texts, settings = job
    detector = get_detector(settings.ner)
    rewriter = _rewriter(settings.mode, settings.entities, settings.key)
    found = detector.detect(texts)
    rewritten: dict[int, tuple[str, tuple[str, ...]]] = {}
    for i, (text, result) in enumerate(zip(texts, found, strict=True)):
        chosen = [s for s in result.spans if s.entity in settings.entities]
        if chosen:
            rewritten[i] = rewriter.rewrite(text, chosen, settings.keep_nonblank)
    again = dict(zip(rewritten, detector.detect([t for t, _ in rewritten.values()]), strict=True)) \
        if rewritten else {}
    out: list[TextRedaction] = []
    for i, result in enumerate(found):
        if i in rewritten:
            text, replaced = rewritten[i]
            out.append(TextRedaction(text, replaced, result, again[i]))
        else:
            out.append(TextRedaction(None, (), result, result))
    return out
