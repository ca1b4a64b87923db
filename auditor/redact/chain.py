"""What the gate makes of a plan's redaction evidence: the sha256 chain checked, ``facts.redaction`` built.

The evidence says "file A (sha256 a) became file B (sha256 b), and a re-scan of B found this". It counts for
the plan only if B *is* the dataset the plan trains on -- the dataset file's digest, or, where the file is
not here (scan and check in separate CI jobs), the digest the scan recorded of it. It must also cover every
text field the plan trains on. And where a full scan of that same file is given, the evidence's re-scan must
agree with it in every count (records, records with personal data, entities, categories) and come from the
same scanner, so an edited residual count, or an edited scanner version that would skip the comparison, does
not pass. Counts about the *input* (spans detected and replaced) cannot be checked without the input; the
report shows them as the evidence's. A failed check is not an
error: the evidence is reported as not verified, and the rules that rely on it fail with the reason.

Light on purpose (pydantic and hashlib): ``auditor check`` imports it only for a plan that names evidence.
"""

from __future__ import annotations

from auditor.errors import PlanError
from auditor.facts import RedactionFacts, ScanFacts
from auditor.plan import PlanDocument
from auditor.redact.model import RedactionEvidence, read_evidence
from auditor.scan.model import ScanResult


def _short(digest: str) -> str:
    return f"{digest[:12]}…"


def load_plan_evidence(doc: PlanDocument) -> RedactionEvidence | None:
    """The plan's ``dataset.redaction_evidence``, read; a missing or invalid file names the plan line."""
    path = doc.redaction_evidence_path
    if path is None:
        return None
    if not path.is_file():
        line = doc.line_of("dataset.redaction_evidence")
        problem = "not found" if not path.exists() else "is not a regular file"
        raise PlanError(f"{doc.source}{f':{line}' if line else ''}: dataset.redaction_evidence: {path} {problem} "
                        "(the OUT.redaction.json that auditor redact wrote; relative to the plan's folder)")
    return read_evidence(path, PlanError)


def _dataset_digest(doc: PlanDocument, scan: ScanResult | ScanFacts | None) -> str | None:
    """The dataset's sha256: the scan's (the gate has matched it to the file, or to the file's name when the
    file is not here), else the file's own; ``None`` when there is neither."""
    if isinstance(scan, ScanResult):
        return scan.dataset.sha256
    dataset = doc.dataset_path
    if dataset.is_file():
        from auditor.fsutil import sha256_file

        return sha256_file(dataset)
    return None


def _same_scanner(scan: ScanResult, evidence: RedactionEvidence) -> bool:
    ours, theirs = scan.engine, evidence.engine
    return (ours.auditor, ours.presidio, ours.spacy_model, ours.recognizers) == (
        theirs.auditor, theirs.presidio, theirs.spacy_model, theirs.recognizers)


def _problems(doc: PlanDocument, evidence: RedactionEvidence, scan: ScanResult | ScanFacts | None,
              digest: str | None) -> list[str]:
    problems: list[str] = []
    if digest is None:
        problems.append(f"the dataset {doc.dataset_path.name} is not here and no scan of it was given, so the "
                        "evidence's output digest could not be compared with it")
    elif digest != evidence.output.sha256:
        problems.append(f"the evidence describes an output with sha256 {_short(evidence.output.sha256)}, but the "
                        f"dataset's sha256 is {_short(digest)}: it is the evidence of another file")
    trained = ["text"] if evidence.output.format == "text" else list(doc.plan.dataset.text_fields)
    uncovered = [f for f in trained if f not in evidence.text_fields]
    if uncovered:
        problems.append(f"the plan trains on {', '.join(uncovered)}, which the redaction did not cover (it "
                        f"covered {', '.join(evidence.text_fields)})")
    if (isinstance(scan, ScanResult) and scan.sample is None and scan.dataset.sha256 == evidence.output.sha256
            and sorted(scan.dataset.text_fields) == sorted(evidence.text_fields)):
        # The evidence is not signed: what it says of the output counts only where this scan confirms it. A
        # re-scan by another scanner cannot be compared, so it cannot be confirmed either.
        if not _same_scanner(scan, evidence):
            theirs = evidence.engine
            problems.append(f"it was written by another scanner (auditor {theirs.auditor}, {theirs.spacy_model}) "
                            f"than this scan's (auditor {scan.engine.auditor}, {scan.engine.spacy_model}), so its "
                            "re-scan of the output cannot be confirmed: redact again, or scan with that version")
        elif _residual(scan) != _claimed(evidence) or evidence.records != scan.records:
            problems.append("its re-scan of the output does not match this scan of the same file by the same "
                            "scanner (was the evidence edited?)")
    return problems


def _residual(scan: ScanResult) -> tuple[object, ...]:
    return (scan.records, scan.records_with_personal_data,
            {name: (s.count, s.records) for name, s in scan.entities.items()},
            {name: c.records for name, c in scan.categories.items()})


def _claimed(evidence: RedactionEvidence) -> tuple[object, ...]:
    r = evidence.residual
    return (r.records, r.records_with_personal_data, {name: (c.spans, c.records) for name, c in r.entities.items()},
            dict(r.categories))


def check_redaction(doc: PlanDocument, scan: ScanResult | ScanFacts | None) -> RedactionFacts | None:
    """``facts.redaction`` for the plan, or ``None`` when the plan names no evidence."""
    evidence = load_plan_evidence(doc)
    if evidence is None:
        return None
    digest = _dataset_digest(doc, scan)
    problems = _problems(doc, evidence, scan, digest)
    residual = evidence.residual
    return RedactionFacts(
        evidence=True, verified=not problems, problem="; ".join(problems),
        file=doc.redaction_evidence_path.name if doc.redaction_evidence_path else "",
        mode=evidence.mode, entities=list(evidence.entities), source_sha256=evidence.source.sha256,
        output_sha256=evidence.output.sha256, dataset_sha256=digest or "",
        replaced={name: count.spans for name, count in evidence.replaced.items()},
        residual={name: count.records for name, count in residual.entities.items()},
        residual_direct_identifier=residual.categories.get("direct_identifier", 0))
