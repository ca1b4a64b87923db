"""Shared ordering and counting so every format lists findings the same way."""

from __future__ import annotations

from collections import Counter

from auditor.findings import Finding, GateResult, severity_rank

STATUS_ORDER = {"fail": 0, "error": 1, "waived": 2, "pass": 3, "not_applicable": 4}


def ordered(findings: list[Finding]) -> list[Finding]:
    """Failures first, most severe first; then errors, waived, passed, not applicable."""
    return sorted(findings, key=lambda f: (STATUS_ORDER[f.status], -severity_rank(f.severity), f.policy, f.rule))


def summary(result: GateResult) -> str:
    counts = Counter(f.status for f in result.findings)
    parts = [f"{counts.get(s, 0)} {s.replace('_', ' ')}" for s in ("fail", "error", "waived", "pass",
                                                                  "not_applicable")]
    blocking = len(result.blocking())
    verdict = "PASS" if result.verdict == "pass" else "FAIL"
    return (f"{verdict}: {blocking} blocking at --fail-on {result.fail_on} "
            f"({', '.join(parts)})")
