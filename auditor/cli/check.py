"""``auditor check``: the pre-training gate. Parses arguments, runs :func:`auditor.gate.run_gate`, writes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.cli.options import gate_options

SUFFIX_FORMATS = {".json": "json", ".sarif": "sarif", ".xml": "junit", ".md": "markdown", ".txt": "table"}


@click.command("check")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--scan", "scan_path", type=click.Path(path_type=Path), default=None,
              help="scan.json from `auditor scan`; without it, dataset rules report 'needs a scan'.")
@gate_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "sarif", "junit", "markdown"]), default=None,
              help="Output format (default: from -o's suffix, else table).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write to FILE (atomically) instead of standard output.")
@click.pass_context
def check(ctx: click.Context, plan: Path, scan_path: Path | None, policies: tuple[str, ...],
          waivers: str | None, fail_on: str, fmt: str | None, output: Path | None) -> None:
    """Evaluate PLAN (and a saved scan) against the policies; exit 1 on blocking findings."""
    from auditor.gate import run_gate
    from auditor.output import RenderContext, render_check
    from auditor.plan import load_plan
    from auditor.scan.model import read_scan

    doc = load_plan(plan)
    if output is not None:
        # Before the gate runs: a bad -o is one line (exit 2), and the gate result never replaces an input.
        from auditor.fsutil import ensure_writable  # tempfile & co.: only when writing a file

        inputs = [plan, doc.dataset_path, *([scan_path] if scan_path else []), *([Path(waivers)] if waivers else [])]
        ensure_writable(output, "gate result", protect=inputs)
    scan = read_scan(scan_path) if scan_path else None
    result = run_gate(doc, scan, policies, Path(waivers) if waivers else None, fail_on, scan_source=scan_path)
    if scan is not None and scan.sample is not None:
        click.echo(f"note: {scan_path} is a sample scan ({scan.sample.sampled_records:,} of "
                   f"{scan.sample.population_records:,} records); dataset facts are 95% upper bounds, so "
                   "rules may fire on categories the sample did not see. Scan in full to clear them.", err=True)
    fmt = fmt or (SUFFIX_FORMATS.get(output.suffix.lower(), "table") if output else "table")
    to_terminal = output is None and sys.stdout.isatty()
    width = ctx.terminal_width or 120
    lines = {".".join(str(p) for p in key): line for key, line in doc.lines.items()}
    text = render_check(result, fmt, RenderContext(plan_path=str(plan), plan_lines=lines, color=to_terminal,
                                                   width=max(width, 100)))
    if output is not None:
        from auditor.fsutil import atomic_write  # tempfile & co.: only when writing a file

        atomic_write(output, text)
        click.echo(f"wrote {output} ({result.verdict}, exit {result.exit_code})", err=True)
    else:
        click.echo(text, nl=False)
    ctx.exit(result.exit_code)
