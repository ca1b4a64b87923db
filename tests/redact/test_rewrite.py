"""The worker's task: Presidio's anonymizer rewrites the chosen spans, the result is detected again."""

from __future__ import annotations

import pytest

from auditor.redact.rewrite import RedactSettings, Rewriter, Secret, redact_batch
from auditor.scan.types import Span
from tests.scan.planted import CN_ID, EMAIL, NAME, SSN, US_PHONE

ENTITIES = frozenset({"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CN_RESIDENT_ID"})
TEXT = f"Hello, my name is {NAME} and my email is {EMAIL}. Call me on {US_PHONE}."


def settings(mode: str, key: bytes | None = b"k" * 32, **kw: object) -> RedactSettings:
    return RedactSettings(ner=True, mode=mode, entities=ENTITIES, key=key, **kw)  # type: ignore[arg-type]


def test_mask_replaces_each_chosen_span_with_its_type() -> None:
    [out] = redact_batch(([TEXT], settings("mask")))
    assert out.text == "Hello, my name is <PERSON> and my email is <EMAIL_ADDRESS>. Call me on <PHONE_NUMBER>."
    assert out.replaced == ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER")
    assert out.residual.spans == ()
    assert {s.entity for s in out.source.spans} == {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"}


def test_remove_drops_the_spans() -> None:
    [out] = redact_batch(([f"SSN {SSN} and ID {CN_ID}."], settings("remove")))
    assert out.text == "SSN  and ID ."


def test_unchosen_types_and_clean_texts_are_left_alone_and_their_scan_is_the_residual() -> None:
    text = "I paid from IP 203.118.42.17 and I have diabetes."
    [out] = redact_batch(([text], settings("mask")))
    assert out.text is None and out.replaced == ()
    assert out.residual == out.source and {s.entity for s in out.source.spans} == {"IP_ADDRESS", "HEALTH"}


def test_same_value_same_pseudonym_across_texts_different_key_different_token() -> None:
    texts = [f"Ticket from {EMAIL} about billing.", f"Second mail from {EMAIL}, still about billing.",
             "Ticket from other.person@example.org about billing."]
    one = [r.text for r in redact_batch((texts, settings("pseudonym")))]
    other_key = [r.text for r in redact_batch((texts, settings("pseudonym", key=b"z" * 32)))]
    token = one[0].split()[2]  # type: ignore[union-attr]
    assert token.startswith("<EMAIL_ADDRESS_") and len(token) == len("<EMAIL_ADDRESS_>") + 8
    assert token in one[1] and token not in one[2]  # type: ignore[operator]
    assert other_key[0].split()[2] != token  # type: ignore[union-attr]


def test_a_text_line_never_becomes_blank_in_remove_mode() -> None:
    [out] = redact_batch(([EMAIL], settings("remove", keep_nonblank=True)))
    assert out.text == "<EMAIL_ADDRESS>"
    [plain] = redact_batch(([EMAIL], settings("remove")))
    assert plain.text == ""


def test_overlapping_spans_are_merged_by_presidio_and_nothing_of_either_survives() -> None:
    rewriter = Rewriter("mask", ENTITIES, None)
    text, replaced = rewriter.rewrite("abc 123456789 xyz", [Span("US_SSN", 4, 13, 0.6, "x"),
                                                           Span("PHONE_NUMBER", 6, 13, 0.5, "x")])
    assert "123" not in text and "789" not in text and replaced


def test_the_key_never_shows_in_a_repr() -> None:
    rewriter = Rewriter("pseudonym", ENTITIES, b"supersecretkey-0123456789")
    assert "supersecret" not in repr(rewriter.operators) and repr(Secret(b"x")) == "<key>"
    with pytest.raises(ValueError):
        Rewriter("pseudonym", ENTITIES, None)
