"""The extraction count's matching key: one value however the scanner's span writes it."""

from __future__ import annotations

from auditor.leakage.extraction import normalise


def test_a_name_matches_with_or_without_its_title_or_degree() -> None:
    """The name rules keep a title in the span: "Mr. Jane Doe" in the training data and "Jane Doe" in a
    generation are one reproduced value, or the audit under-counts what the model gives away."""
    bare = normalise("PERSON", "Jane Doe")
    for spelling in ("Mr. Jane Doe", "MRS JANE DOE", "Dr Prof. Jane  Doe, PhD", "Jane Doe Jr."):
        assert normalise("PERSON", spelling) == bare, spelling
    assert normalise("PERSON", "Jane Doe") != normalise("PERSON", "Doe")
    assert normalise("LOCATION", "Dr Martens Way") != normalise("LOCATION", "Martens Way")   # names only
    assert normalise("PHONE_NUMBER", "+1 (415) 372-9061") == normalise("US_SSN", "1-415-372-9061")
