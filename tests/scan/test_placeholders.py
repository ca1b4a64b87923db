"""The scan reads a redacted file like any other, but its placeholders are not personal data."""

from __future__ import annotations

import pytest

from auditor.scan.engine import Detector
from auditor.scan.ner import needs_ner
from auditor.scan.placeholders import drop_inside, placeholder_spans, pseudonym_token, without_placeholders
from auditor.scan.types import Span


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def test_placeholders_of_known_entity_types_are_found() -> None:
    text = f"Dear <PERSON>, {pseudonym_token('EMAIL_ADDRESS', 'ab12cd34ef')} and <HEALTH> but not <JOHN> or <PERSON_zz>"
    found = [text[s:e] for s, e in placeholder_spans(text)]
    assert found == ["<PERSON>", "<EMAIL_ADDRESS_ab12cd34>", "<HEALTH>"]
    assert placeholder_spans("no angle brackets here") == []


def test_only_spans_wholly_inside_a_placeholder_are_dropped() -> None:
    holes = [(5, 13)]
    inside, across, outside = Span("HEALTH", 6, 12, 0.6, "x"), Span("PERSON", 6, 20, 0.85, "x"), \
        Span("PERSON", 14, 20, 0.85, "x")
    assert drop_inside([inside, across, outside], holes) == [across, outside]


def test_a_placeholder_does_not_send_a_text_through_the_ner_model() -> None:
    masked = "Please update the contact number for <PERSON> to <PHONE_NUMBER> before the renewal."
    assert needs_ner(masked)                      # the raw capital-letter test would run the model
    assert not needs_ner(without_placeholders(masked))
    assert needs_ner(without_placeholders("Please call <PERSON> or Margaret Thatcherly."))


def test_the_detector_reports_no_placeholder_but_still_what_is_around_it(detector: Detector) -> None:
    masked = "Dear <PERSON>, your <HEALTH> claim for <PERSON_7f3a09c1>, card <CREDIT_CARD>."
    assert detector.detect([masked])[0].spans == ()
    left = detector.detect(["Dear <PERSON>, I have diabetes; mail me at wanda.quist77@example.com"])[0]
    assert {s.entity for s in left.spans} == {"HEALTH", "EMAIL_ADDRESS"}
    # an unknown upper-case word in angle brackets is text like any other
    assert "HEALTH" in {s.entity for s in detector.detect(["<DIABETES> health insurance"])[0].spans}
