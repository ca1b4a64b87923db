"""The redaction chain in the report: which file was redacted into which, and whether that is the data that
trained -- the rows a reviewer reads before believing a "redaction: yes"."""

from __future__ import annotations

from auditor.report.evidence import EvidenceBundle
from auditor.report.rows import Row


def _short(digest: str) -> str:
    return f"{digest[:16]}…" if digest else "—"


def redaction_rows(ev: EvidenceBundle) -> list[Row]:
    """Nothing without redaction evidence; otherwise the chain (source → output = dataset) and the re-scan."""
    facts = ev.gate.redaction
    if facts is None:
        return []
    replaced = ", ".join(f"{name} {count:,}" for name, count in sorted(facts.replaced.items())) or "nothing"
    residual = ", ".join(f"{name} in {count:,}" for name, count in sorted(facts.residual.items())) or "none"
    chain = f"source {_short(facts.source_sha256)} → output {_short(facts.output_sha256)}"
    if facts.verified:
        chain += " = the dataset scanned and trained on"
    return [
        Row(label="Redaction evidence", value=f"verified ({facts.file})" if facts.verified
            else f"NOT verified ({facts.file})", status="ok" if facts.verified else "bad",
            note=chain if facts.verified else f"{chain}; {facts.problem}"),
        Row(label="Redaction", value=f"{facts.mode}: {replaced}", note="spans replaced per entity type, by "
            "auditor redact with Presidio's anonymizer"),
        Row(label="Re-scan of the redacted data", value=f"records with: {residual}",
            status="ok" if facts.residual_direct_identifier == 0 else "warn",
            note=f"records with direct identifiers left: {facts.residual_direct_identifier:,}"),
    ]
