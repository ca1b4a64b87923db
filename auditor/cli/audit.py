"""``auditor audit``: scan → check → train → report → sign in one command; exit code as ``check``."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.options import gate_options, signer_options


@click.command("audit", short_help="Scan, gate, train, report and sign: the whole audit in one go.")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("audit-out"), show_default=True,
              help="Folder for everything the audit writes.")
@click.option("--key", type=click.Path(path_type=Path),
              help="Ed25519 private key (PEM). Default: your own key in the user config folder (made on first "
                   "use); never inside OUT, which gets only the public key.")
@click.option("--no-train", is_flag=True, help="Stop after the gate; the report says training was skipped.")
@click.option("--no-leakage-audit", is_flag=True,
              help="Train without canaries and skip the leakage audit (on by default; the plan's audit section "
                   "sets its size).")
@click.option("--ledger", "ledger_dir", type=click.Path(path_type=Path),
              help="Privacy ledger folder (default: the training's default ledger).")
@gate_options
@click.option("--format", "formats", default="html,md,pdf", show_default=True,
              help="Report formats, comma-separated: html, md, pdf.")
@click.option("--templates", type=click.Path(path_type=Path),
              help="Folder of your own report templates (rendered in Jinja's sandbox).")
@signer_options
@click.option("--quiet", is_flag=True, help="No progress output; only the summary.")
@click.option("--force", is_flag=True,
              help="Replace an earlier audit in OUT (its report, model and evidence are removed first).")
@click.pass_context
def audit(ctx: click.Context, plan: Path, out_dir: Path, key: Path | None, no_train: bool, no_leakage_audit: bool,
          ledger_dir: Path | None,
          policies: tuple[str, ...], waivers: str | None, fail_on: str, formats: str, templates: Path | None,
          signer_name: str | None, signer_role: str | None, signer_org: str | None, quiet: bool,
          force: bool) -> None:
    """Audit PLAN end to end and write a signed HTML/Markdown/PDF report into OUT."""
    from auditor.api import audit as audit_plan
    from auditor.cli.report import echo_signed
    from auditor.plan import load_plan
    from auditor.report.render import parse_formats
    from auditor.report.signer import identity_from_options
    from auditor.train.distributed import launched

    if launched():  # each rank would run, book and sign a whole audit of its own
        raise click.UsageError("torchrun runs `auditor train` on several processes; run `auditor audit` in one "
                               "process (or train with torchrun and report with `auditor report`)")
    load_plan(plan).require_dataset()  # before anything: a missing file names the plan's dataset.path and line

    def say(line: str) -> None:
        if not quiet:
            click.echo(line, err=True)

    outcome = audit_plan(plan, out=out_dir, key=key, train=not no_train, ledger=ledger_dir, policies=policies,
                         waivers=waivers, fail_on=fail_on, formats=parse_formats(formats), templates=templates,
                         progress=not quiet, say=say,
                         signer=identity_from_options(signer_name, signer_role, signer_org), force=force,
                         leakage=not no_leakage_audit)
    report = outcome.report
    verdict = click.style(outcome.verdict.upper(), fg="green" if outcome.verdict == "pass" else "red", bold=True)
    # A training that fails after a passing gate (a ledger refusal, bad labels) decides the exit code.
    code = (outcome.error_exit_code or 3) if outcome.error is not None else outcome.exit_code
    status = outcome.training.status
    shown = click.style(status.upper(), fg="red", bold=True) if status in ("refused", "failed") else status
    click.echo(f"verdict: {verdict} (exit {code}); training {shown}"
               + (f": {outcome.training.reason}" if outcome.training.reason else ""))
    for line in outcome.blocking:
        click.echo(f"  blocking: {line}")
    main_file = "report.html" if "report.html" in report.files else report.files[1]
    click.echo(f"report: {out_dir / main_file}")
    click.echo(f"files: {', '.join([*report.subjects, *([report.envelope] if report.envelope else [])])}")
    if report.envelope:
        echo_signed(out_dir / report.envelope, report.key_fingerprint, report.signer,
                    Path(outcome.public_key) if outcome.public_key else None)
    if outcome.generated_key:  # said here only, once: the progress lines do not repeat it
        click.echo(f"key: generated your signing key {outcome.key}; it signs every later audit. Publish "
                   f"{outcome.public_key} (or its fingerprint) for whoever verifies; keep the private key secret "
                   "(it is never put in a report folder)")
    if outcome.error is not None:
        click.echo(f"auditor: {outcome.error}", err=True)
    ctx.exit(code)
