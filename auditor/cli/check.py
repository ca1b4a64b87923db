"""``auditor check``: the pre-training gate. Parses arguments, runs :func:`auditor.check`, writes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.cli.options import gate_options, output_width, sarif_options

if TYPE_CHECKING:
    from auditor.output import SarifOptions

SUFFIX_FORMATS = {".json": "json", ".sarif": "sarif", ".xml": "junit", ".md": "markdown", ".txt": "table"}


@click.command("check", short_help="The pre-training gate: a plan and its scan against the policies.")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--scan", "scan_path", type=click.Path(path_type=Path), default=None,
              help="scan.json from `auditor scan`. Without it, rules that read dataset facts say 'needs a "
                   "scan' and fail the gate at their severity (see --plan-only).")
@click.option("--plan-only", is_flag=True,
              help="Lint the plan alone, before the data exists: rules that need a scan are listed as 'needs "
                   "a scan' but do not fail the gate. Not a pre-training gate.")
@click.option("--training", "training_dir", type=click.Path(path_type=Path), default=None,
              help="A training run's folder (training.json + leakage.json): rules may then read the leakage "
                   "audit's results as facts.leakage (after training, e.g. an anonymity claim).")
@gate_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "sarif", "junit", "markdown"]), default=None,
              help="Output format (default: from -o's suffix, else table).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write to FILE (atomically) instead of standard output.")
@sarif_options
@click.pass_context
def check(ctx: click.Context, plan: Path, scan_path: Path | None, plan_only: bool, training_dir: Path | None,
          policies: tuple[str, ...],
          waivers: str | None, fail_on: str, fmt: str | None, output: Path | None, sarif_all: bool,
          sarif_waived: bool, category: str | None, repo_root: Path | None) -> None:
    """Evaluate PLAN (and a saved scan) against the policies; exit 1 on blocking findings.

    Blocking: an unwaived failure or rule error at or above --fail-on, and, without --scan, a rule at or
    above --fail-on that needs dataset facts ("needs a scan"): a gate that has not seen the data does not
    pass it. --plan-only reports those rules without blocking, to lint a plan before its data exists.
    """
    from auditor.api import check as check_plan
    from auditor.errors import InputError
    from auditor.output import RenderContext, render_check
    from auditor.plan import load_plan
    from auditor.scan.model import read_scan

    fmt = fmt or (SUFFIX_FORMATS.get(output.suffix.lower(), "table") if output else "table")
    sarif = _sarif_settings(fmt, sarif_all, sarif_waived, category, repo_root)
    doc = load_plan(plan)
    if plan_only and scan_path is not None:  # before -o is touched (check_plan says the same)
        raise InputError("--plan-only checks the plan without its data; drop it, or drop --scan")
    if output is not None:
        # Before the gate runs: a bad -o is one line (exit 2), and the gate result never replaces an input.
        from auditor.fsutil import ensure_writable  # tempfile & co.: only when writing a file

        inputs = [plan, doc.dataset_path, *([scan_path] if scan_path else []), *([Path(waivers)] if waivers else [])]
        ensure_writable(output, "gate result", protect=inputs)
    scan = read_scan(scan_path) if scan_path else None
    result = check_plan(doc, scan, policies=policies, waivers=waivers, fail_on=fail_on, plan_only=plan_only,
                        training=training_dir, scan_source=scan_path)
    problem = doc.dataset_problem() if scan is None else None
    if problem is not None:  # after the gate, so that a bad input stays one line
        click.echo(f"auditor: warning: {problem}; this gate has not seen the data", err=True)
    if scan is not None and scan.sample is not None:
        click.echo(f"note: {scan_path} is a sample scan ({scan.sample.sampled_records:,} of "
                   f"{scan.sample.population_records:,} records); dataset facts are 95% upper bounds, so "
                   "rules may fire on categories the sample did not see. Scan in full to clear them.", err=True)
    to_terminal = output is None and sys.stdout.isatty()
    lines = {".".join(str(p) for p in key): line for key, line in doc.lines.items()}
    location = None
    if fmt == "sarif":
        from auditor.output.location import locate_plan

        location = locate_plan(plan, repo_root)
        if location.note:
            click.echo(f"auditor: warning: {plan}: {location.note}", err=True)
    text = render_check(result, fmt, RenderContext(
        plan_path=str(plan), plan_lines=lines, color=to_terminal, width=output_width(ctx), plan_location=location,
        scan_sampled=scan is not None and scan.sample is not None, sarif=sarif))
    if output is not None:
        from auditor.fsutil import atomic_write  # tempfile & co.: only when writing a file

        atomic_write(output, text)
        click.echo(f"wrote {output} ({result.verdict}, exit {result.exit_code})", err=True)
    else:
        click.echo(text, nl=False)
    ctx.exit(result.exit_code)


def _sarif_settings(fmt: str, sarif_all: bool, sarif_waived: bool, category: str | None,
                    repo_root: Path | None) -> SarifOptions:
    """The SARIF options, refused (exit 2, before any work) where they cannot mean anything."""
    from auditor.errors import InputError
    from auditor.output import SarifOptions

    given = {"--sarif-all": sarif_all, "--sarif-waived": sarif_waived, "--category": category is not None,
             "--repo-root": repo_root is not None}
    stray = [name for name, used in given.items() if used]
    if fmt != "sarif" and stray:
        raise InputError(f"{', '.join(stray)} only applies to --format sarif (the output is {fmt})")
    if category is not None and not category.strip():
        raise InputError("--category: empty; give a name such as auditor/eu-plan")
    if repo_root is not None and not repo_root.is_dir():
        raise InputError(f"--repo-root {repo_root}: is not a folder" if repo_root.exists()
                         else f"--repo-root {repo_root}: no such folder")
    return SarifOptions(all_results=sarif_all, waived=sarif_waived, category=category.strip() if category else None)

