"""SARIF 2.1.0: code-scanning UIs show each failing rule at the plan line that decides it.

One ``rules[]`` entry per rule (help = citation + remediation); results for every evaluated rule; waived
results carry ``suppressions`` so they stay visible but do not alert.
"""

from __future__ import annotations

import json
from typing import Any

from auditor import __version__
from auditor.findings import Finding, GateResult
from auditor.output import Formatter, RenderContext
from auditor.output.order import ordered, plan_line

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def _kind_level(finding: Finding) -> tuple[str, str]:
    if finding.status in ("fail", "error", "waived"):
        return "fail", LEVELS[finding.severity]
    if finding.status == "pass":
        return "pass", "none"
    if finding.status == "needs_scan":
        return "open", "none"  # SARIF's "cannot tell without more information"; a non-fail kind has level none
    return "notApplicable", "none"


class SarifFormatter(Formatter):
    name = "sarif"
    suffix = ".sarif"

    def render(self, result: GateResult, ctx: RenderContext) -> str:
        rules: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        for f in result.findings:
            if f.rule in index:
                continue
            index[f.rule] = len(rules)
            help_text = f"{f.citation} ({f.url}). {f.remediation}".strip()
            rules.append({
                "id": f.rule,
                "name": "".join(part.capitalize() for part in f.rule.split("-")),
                "shortDescription": {"text": f.title},
                "fullDescription": {"text": f"{f.title} — {f.citation}"},
                "helpUri": f.url or None,
                "help": {"text": help_text, "markdown": f"**{f.citation}** — [{f.url}]({f.url})\n\n{f.remediation}"},
                "defaultConfiguration": {"level": LEVELS[f.severity]},
                "properties": {"tags": ["compliance", f.policy], "security-severity": SECURITY_SEVERITY[f.severity],
                               "policy": f.policy, "severity": f.severity},
            })
            if not f.url:
                del rules[-1]["helpUri"]
        results: list[dict[str, Any]] = []
        for f in ordered(result.findings):
            kind, level = _kind_level(f)
            entry: dict[str, Any] = {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "kind": kind,
                "level": level,
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": ctx.plan_path},
                    "region": {"startLine": plan_line(f, ctx.plan_lines) or 1}}}],
                "properties": {"status": f.status, "severity": f.severity, "policy": f.policy,
                               "citation": f.citation, "facts": f.facts},
            }
            if f.status == "waived" and f.waiver is not None:
                entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                          "justification": f"{f.waiver.reason} (approved by {f.waiver.approver}, "
                                                           f"expires {f.waiver.expires})"}]
            results.append(entry)
        log = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": "auditor", "version": __version__, "semanticVersion": __version__,
                                    "rules": rules}},
                "results": results,
                "invocations": [{"executionSuccessful": True, "exitCode": result.exit_code}],
                "properties": {"verdict": result.verdict, "fail_on": result.fail_on,
                               "policies": [p.model_dump(mode="json") for p in result.policies]},
            }],
        }
        return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
