"""Findings as a lawyer reads them: a conclusion in words, the requirement it answers, the fix, the plan line.

The gate's :class:`Finding` is written for pipelines (status codes, facts by CEL path). In the report each
becomes a row whose first words are a conclusion ("Met", "Not met"), followed by the rule's own sentence for
that outcome, what to change, and where in the plan the deciding value sits, so the reader can check it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from auditor.findings import Finding, WaiverRef, waiver_note
from auditor.output.order import OPEN, plan_anchor
from auditor.report.evidence import EvidenceBundle
from auditor.report.labels import policy_label

STATUS_WORDS: dict[str, str] = {
    "pass": "Met", "fail": "Not met", "waived": "Not met — waived", "error": "Could not be evaluated",
    "not_applicable": "Not applicable", "needs_scan": "Not decided — needs a scan",
}


class FindingRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str
    policy_label: str
    rule: str
    title: str = Field(description="The requirement, as the rule states it")
    status: str
    status_word: str = Field(description="The conclusion's first words: Met, Not met, Not applicable …")
    severity: str
    citation: str
    url: str
    conclusion: str = Field(description="The rule's sentence for this outcome")
    message: str = Field(description="The gate's message (kept for templates written against it)")
    fix: str = ""
    plan_line: str = Field(default="", description="Where the deciding value is: 'plan.yaml:12 (field)'")
    facts: dict[str, Any] = Field(default_factory=dict)
    waiver: WaiverRef | None = None


def plan_line(ev: EvidenceBundle, finding: Finding) -> str:
    """``plan.yaml:12 (legal.gdpr.lawful_basis)``: the line the gate's outputs point at, with its field."""
    anchor = plan_anchor(finding, ev.plan.lines)
    return f"{ev.plan.file}:{anchor[0]} ({anchor[1]})" if anchor else ""


def finding_row(ev: EvidenceBundle, finding: Finding, titles: dict[str, str]) -> FindingRow:
    conclusion = finding.conclusion or finding.message
    if finding.status == "waived" and finding.waiver is not None:
        # the engine appends the waiver to the sentence; the report shows it on its own line below
        conclusion = conclusion.removesuffix(waiver_note(finding.waiver))
    return FindingRow(
        policy=finding.policy, policy_label=policy_label(finding.policy, titles.get(finding.policy, "")),
        rule=finding.rule, title=finding.title, status=finding.status,
        status_word=STATUS_WORDS.get(finding.status, finding.status), severity=finding.severity,
        citation=finding.citation, url=finding.url, conclusion=conclusion, message=finding.message,
        fix=finding.remediation if finding.status in OPEN else "",
        plan_line=plan_line(ev, finding), facts=dict(finding.facts), waiver=finding.waiver)


def finding_rows(ev: EvidenceBundle, findings: list[Finding]) -> list[FindingRow]:
    titles = {p.id: p.title for p in ev.gate.policies}
    return [finding_row(ev, f, titles) for f in findings]
