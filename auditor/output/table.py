"""The terminal table (rich): what a person reads when ``auditor check`` stops their pipeline.

Two columns so it reads at 80 columns: what happened (status, severity), and the rule (id, citation) with
its finding; a failure also says how to fix it and which plan line decides it, the same line SARIF points
at (:func:`auditor.output.order.plan_line`). Rules that do not apply are counted, not listed.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.findings import Finding, GateResult
from auditor.output import Formatter, RenderContext
from auditor.output.order import OPEN, STATUS_LABELS, ordered, plan_line, summary

STYLES = {"fail": "bold red", "error": "bold magenta", "needs_scan": "bold yellow", "waived": "yellow",
          "pass": "green", "not_applicable": "dim"}


def _finding_cell(finding: Finding, ctx: RenderContext) -> Text:
    cell = Text(finding.rule, style="bold").append(f"  {finding.citation}", style="dim")
    cell.append(f"\n{finding.conclusion or finding.message}")  # the rule's sentence for this outcome
    if finding.status in OPEN and finding.status != "needs_scan":  # needs_scan's message says what to do
        if finding.remediation:
            cell.append("\nFix: ", style="bold").append(" ".join(finding.remediation.split()))
        line = plan_line(finding, ctx.plan_lines)
        if line is not None:
            cell.append("\nPlan: ", style="bold").append(f"{ctx.plan_path}:{line}")
    return cell


class TableFormatter(Formatter):
    name = "table"
    suffix = ".txt"

    def render(self, result: GateResult, ctx: RenderContext) -> str:
        buffer = io.StringIO()
        console = Console(file=buffer, force_terminal=ctx.color, no_color=not ctx.color, width=ctx.width,
                          highlight=False, soft_wrap=False)
        applied = [f"{p.id} {p.version}" for p in result.policies if p.applies]
        skipped = [p.id for p in result.policies if not p.applies]
        console.print(f"Policies applied: {', '.join(applied) or 'none'}"
                      + (f"   (not applicable: {', '.join(skipped)})" if skipped else ""))
        if not result.scan_used:
            blocks = "listed, not blocking (--plan-only)" if result.plan_only else "blocking at their severity"
            console.print(f"No scan given: rules that need dataset facts say NEEDS A SCAN, {blocks} "
                          "(run `auditor scan` and pass --scan).", style="yellow")
        table = Table(show_lines=True, expand=True, header_style="bold")
        table.add_column("Status", no_wrap=True)
        table.add_column("Rule, citation and finding", ratio=1)
        for finding in (f for f in ordered(result.findings) if f.status != "not_applicable"):
            status = Text(STATUS_LABELS[finding.status].upper().replace(" A ", " A\n"),
                          style=STYLES[finding.status])
            status.append(f"\n{finding.severity}", style="")
            table.add_row(status, _finding_cell(finding, ctx))
        console.print(table)
        req = result.privacy_requirements
        if req.dp_required or req.max_epsilon is not None:
            delta = result.to_json_v1()["privacy_requirements"]["max_delta"]
            delta = f"{delta:.3g}" if isinstance(delta, float) else delta
            bound = req.bound_by.get("max_epsilon", "")
            units = f", at least {req.min_units} privacy units" if req.min_units is not None else ""
            console.print(f"Training must use DP-SGD with ε ≤ {req.max_epsilon} (set by {bound}), δ ≤ {delta}, "
                          f"clipping ≤ {req.max_grad_norm}, {req.sampling or 'any'} sampling{units}.")
        console.print(summary(result), style="bold red" if result.verdict == "fail" else "bold green")
        return buffer.getvalue()
