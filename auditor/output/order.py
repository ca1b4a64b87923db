"""What every format shares: the order findings are listed in, how they are counted and named, and the plan
line that decides each one, so the table, Markdown, JUnit and SARIF never disagree."""

from __future__ import annotations

import re
from collections import Counter

from auditor.findings import Finding, GateResult, severity_rank

STATUS_ORDER = {"fail": 0, "error": 1, "needs_scan": 2, "waived": 3, "pass": 4, "not_applicable": 5}
#: how a status is written for people (the JSON keeps the identifiers)
STATUS_LABELS = {"fail": "fail", "error": "error", "needs_scan": "needs a scan", "waived": "waived",
                 "pass": "pass", "not_applicable": "not applicable"}
#: statuses whose rows show the remediation and the plan line
OPEN = frozenset({"fail", "error", "needs_scan", "waived"})


def ordered(findings: list[Finding]) -> list[Finding]:
    """Failures first, most severe first; then errors, rules needing a scan, waived, passed, not applicable."""
    return sorted(findings, key=lambda f: (STATUS_ORDER[f.status], -severity_rank(f.severity), f.policy, f.rule))


def summary(result: GateResult) -> str:
    counts: Counter[str] = Counter(f.status for f in result.findings)
    parts = [f"{counts.get(s, 0)} {STATUS_LABELS[s]}" for s in STATUS_ORDER
             if s != "needs_scan" or counts.get(s)]
    blocking = len(result.blocking())
    verdict = "PASS" if result.verdict == "pass" else "FAIL"
    line = f"{verdict}: {blocking} blocking at --fail-on {result.fail_on} ({', '.join(parts)})"
    if counts.get("needs_scan"):
        line += ("; rules needing a scan are not blocking (--plan-only)" if result.plan_only
                 else "; pass --scan to decide the rules that need one")
    return line


#: The plan's top-level sections: a dotted name in a remediation that starts with one of them is a plan field.
PLAN_SECTIONS = frozenset({"version", "name", "purpose", "controller", "data_subjects", "legal", "assessments",
                           "dataset", "transfers", "measures", "model", "training", "privacy", "processors",
                           "recipients", "rights", "automated_decisions"})
_DOTTED = re.compile(r"(?<![\w.])([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)")


def plan_fields(finding: Finding) -> list[str]:
    """The plan fields that decide ``finding``; for an open one, the field its fix names first: a failing
    transfer rule that reads the regions and the mechanism points at ``transfers.mechanism``, where the fix
    goes."""
    read = [path[5:] for path in finding.facts if path.startswith("plan.")]
    if finding.status in ("pass", "not_applicable"):
        return read  # what shows it is met: the fields the rule read, not where a fix would go
    named = [m for m in _DOTTED.findall(finding.remediation) if m.split(".")[0] in PLAN_SECTIONS]
    return list(dict.fromkeys([*named, *read]))


def plan_anchor(finding: Finding, lines: dict[str, int] | None) -> tuple[int, str] | None:
    """The plan line that decides ``finding`` and the field it is for: the first of :func:`plan_fields` that
    the plan has, or that field's nearest section the plan does have -- an unset ``assessments.dpia`` points
    at ``assessments:``, where it belongs."""
    if not lines:
        return None
    for field in plan_fields(finding):
        parts = field.split(".")
        for end in range(len(parts), 0, -1):
            dotted = ".".join(parts[:end])
            if dotted in lines:
                return lines[dotted], field
    return None


def plan_line(finding: Finding, lines: dict[str, int] | None) -> int | None:
    anchor = plan_anchor(finding, lines)
    return anchor[0] if anchor else None
