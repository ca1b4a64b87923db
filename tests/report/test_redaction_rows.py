"""The report shows the redaction chain: verified or not, source -> output = dataset, and the re-scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.facts import RedactionFacts
from auditor.report.evidence import EvidenceBundle
from auditor.report.redaction import redaction_rows
from auditor.report.render import render_text
from auditor.report.view import SigningInfo
from tests.report.report_factories import evidence

FACTS = RedactionFacts(evidence=True, verified=True, file="tickets.red.jsonl.redaction.json", mode="pseudonym",
                       entities=["PERSON", "EMAIL_ADDRESS"], source_sha256="1" * 64, output_sha256="2" * 64,
                       dataset_sha256="2" * 64, replaced={"PERSON": 1200, "EMAIL_ADDRESS": 340},
                       residual={"PERSON": 3}, residual_direct_identifier=3)


def with_redaction(ev: EvidenceBundle, facts: RedactionFacts | None) -> EvidenceBundle:
    return ev.model_copy(update={"gate": ev.gate.model_copy(update={"redaction": facts})})


def test_no_evidence_no_rows(tmp_path: Path) -> None:
    assert redaction_rows(evidence(tmp_path)) == []


def test_verified_chain_rows(tmp_path: Path) -> None:
    rows = {r.label: r for r in redaction_rows(with_redaction(evidence(tmp_path), FACTS))}
    chain = rows["Redaction evidence"]
    assert chain.status == "ok" and chain.value.startswith("verified")
    assert "source 1111111111111111… → output 2222222222222222… = the dataset" in chain.note
    assert rows["Redaction"].value == "pseudonym: EMAIL_ADDRESS 340, PERSON 1,200"
    assert rows["Re-scan of the redacted data"].status == "warn" and "PERSON in 3" in rows[
        "Re-scan of the redacted data"].value


@pytest.mark.parametrize("kind", ["html", "md"])
def test_a_broken_chain_is_shown_as_such_in_the_report(tmp_path: Path, kind: str) -> None:
    broken = FACTS.model_copy(update={"verified": False, "problem": "it is the evidence of another file"})
    text = render_text(kind, with_redaction(evidence(tmp_path), broken), SigningInfo(signed=False))  # type: ignore[arg-type]
    assert "NOT verified (tickets.red.jsonl.redaction.json)" in text and "evidence of another file" in text
