"""``auditor check``: the pre-training gate. Parses arguments, runs :func:`auditor.gate.run_gate`, writes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.cli.options import gate_options

SUFFIX_FORMATS = {".json": "json", ".sarif": "sarif", ".xml": "junit", ".md": "markdown", ".txt": "table"}


@click.command("check", short_help="The pre-training gate: a plan and its scan against the policies.")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--scan", "scan_path", type=click.Path(path_type=Path), default=None,
              help="scan.json from `auditor scan`. Without it, rules that read dataset facts say 'needs a "
                   "scan' and fail the gate at their severity (see --plan-only).")
@click.option("--plan-only", is_flag=True,
              help="Lint the plan alone, before the data exists: rules that need a scan are listed as 'needs "
                   "a scan' but do not fail the gate. Not a pre-training gate.")
@gate_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "sarif", "junit", "markdown"]), default=None,
              help="Output format (default: from -o's suffix, else table).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write to FILE (atomically) instead of standard output.")
@click.pass_context
def check(ctx: click.Context, plan: Path, scan_path: Path | None, plan_only: bool, policies: tuple[str, ...],
          waivers: str | None, fail_on: str, fmt: str | None, output: Path | None) -> None:
    """Evaluate PLAN (and a saved scan) against the policies; exit 1 on blocking findings.

    Blocking: an unwaived failure or rule error at or above --fail-on, and, without --scan, a rule at or
    above --fail-on that needs dataset facts ("needs a scan"): a gate that has not seen the data does not
    pass it. --plan-only reports those rules without blocking, to lint a plan before its data exists.
    """
    from auditor.errors import InputError
    from auditor.gate import run_gate
    from auditor.output import RenderContext, render_check
    from auditor.plan import load_plan
    from auditor.scan.model import read_scan

    doc = load_plan(plan)
    if plan_only and scan_path is not None:
        raise InputError("--plan-only checks the plan without its data; drop it, or drop --scan")
    if output is not None:
        # Before the gate runs: a bad -o is one line (exit 2), and the gate result never replaces an input.
        from auditor.fsutil import ensure_writable  # tempfile & co.: only when writing a file

        inputs = [plan, doc.dataset_path, *([scan_path] if scan_path else []), *([Path(waivers)] if waivers else [])]
        ensure_writable(output, "gate result", protect=inputs)
    scan = read_scan(scan_path) if scan_path else None
    result = run_gate(doc, scan, policies, Path(waivers) if waivers else None, fail_on, scan_source=scan_path,
                      plan_only=plan_only)
    problem = doc.dataset_problem() if scan is None else None
    if problem is not None:  # after the gate, so that a bad input stays one line
        click.echo(f"auditor: warning: {problem}; this gate has not seen the data", err=True)
    if scan is not None and scan.sample is not None:
        click.echo(f"note: {scan_path} is a sample scan ({scan.sample.sampled_records:,} of "
                   f"{scan.sample.population_records:,} records); dataset facts are 95% upper bounds, so "
                   "rules may fire on categories the sample did not see. Scan in full to clear them.", err=True)
    fmt = fmt or (SUFFIX_FORMATS.get(output.suffix.lower(), "table") if output else "table")
    to_terminal = output is None and sys.stdout.isatty()
    lines = {".".join(str(p) for p in key): line for key, line in doc.lines.items()}
    text = render_check(result, fmt, RenderContext(plan_path=str(plan), plan_lines=lines, color=to_terminal,
                                                   width=_width(ctx)))
    if output is not None:
        from auditor.fsutil import atomic_write  # tempfile & co.: only when writing a file

        atomic_write(output, text)
        click.echo(f"wrote {output} ({result.verdict}, exit {result.exit_code})", err=True)
    else:
        click.echo(text, nl=False)
    ctx.exit(result.exit_code)


def _width(ctx: click.Context) -> int:
    """The terminal's width (``COLUMNS`` too), 100 for a pipe or file; never narrower than 60 columns."""
    import shutil

    return max(60, ctx.terminal_width or shutil.get_terminal_size((100, 24)).columns)
