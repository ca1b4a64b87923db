"""Markdown: for pull-request comments and CI job summaries."""

from __future__ import annotations

from auditor.findings import GateResult
from auditor.mdtext import md_text as _cell
from auditor.output import Formatter, RenderContext
from auditor.output.order import ordered, summary

ICONS = {"fail": "❌ fail", "error": "⚠️ error", "needs_scan": "🔍 needs a scan", "waived": "🟡 waived",
         "pass": "✅ pass", "not_applicable": "— n/a"}


class MarkdownFormatter(Formatter):
    name = "markdown"
    suffix = ".md"

    def render(self, result: GateResult, ctx: RenderContext) -> str:
        lines = [f"## auditor check: {summary(result)}", ""]
        lines.append("| Status | Severity | Rule | Citation | Finding | Remediation |")
        lines.append("|---|---|---|---|---|---|")
        for f in ordered(result.findings):
            citation = f"[{_cell(f.citation)}]({f.url})" if f.url else _cell(f.citation)
            remediation = _cell(f.remediation) if f.status in ("fail", "error", "waived") else (
                "Run `auditor scan` and pass --scan." if f.status == "needs_scan" else "")
            said = _cell(f.conclusion or f.message)
            lines.append(f"| {ICONS[f.status]} | {f.severity} | `{f.rule}` | {citation} | {said} "
                         f"| {remediation} |")
        lines += ["", "Policies: " + ", ".join(f"{p.id} {p.version} ({'applies' if p.applies else 'n/a'})"
                                               for p in result.policies), ""]
        return "\n".join(lines)
