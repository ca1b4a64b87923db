"""The terminal table (rich): what a person reads when ``auditor check`` stops their pipeline."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.findings import GateResult
from auditor.output import Formatter, RenderContext
from auditor.output.order import ordered, summary

STYLES = {"fail": "bold red", "error": "bold magenta", "waived": "yellow", "pass": "green",
          "not_applicable": "dim"}


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
            console.print("No scan given: rules that need dataset facts are reported as 'needs a scan' "
                          "(run `auditor scan` and pass --scan).", style="yellow")
        table = Table(show_lines=False, expand=True, header_style="bold")
        table.add_column("Status", no_wrap=True)
        table.add_column("Severity", no_wrap=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Citation", max_width=26)
        table.add_column("Finding", ratio=1)
        shown = [f for f in ordered(result.findings) if f.status != "not_applicable"]
        for finding in shown:
            table.add_row(Text(finding.status.upper().replace("_", " "), style=STYLES[finding.status]),
                          finding.severity, finding.rule, finding.citation, finding.message)
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
