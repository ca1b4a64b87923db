"""``auditor report``, ``auditor verify`` and ``auditor keygen``: thin wrappers over :mod:`auditor.report`."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.cli.options import gate_options, signer_options
from auditor.errors import InputError, VerificationFailed

if TYPE_CHECKING:
    from auditor.report.signer import SignerIdentity


def verify_command(envelope: Path, fingerprint: str | None, public_key: Path | None) -> str:
    """A command that verifies as printed: verify finds only ``keys/auditor.pub`` beside the envelope by
    itself, so a public key kept elsewhere is named with ``--key`` (and still pinned by its fingerprint)."""
    from auditor.report.sign import PUBLIC_KEY_NAME

    base = f"auditor verify {shlex.quote(str(envelope))}"
    beside = envelope.parent / "keys" / PUBLIC_KEY_NAME
    if public_key is not None and Path(public_key).resolve() != beside.resolve():
        base += f" --key {shlex.quote(str(public_key))}"
    elif not beside.is_file():
        base += " --key SIGNER-PUBLIC-KEY.pub"
    return f"{base} --fingerprint {fingerprint}"


def echo_signed(envelope: Path, fingerprint: str | None, signer: SignerIdentity | None,
                public_key: Path | None = None) -> None:
    """Where the signature is, the key that made it, the claimed signer, and the command that checks it."""
    click.echo(f"signed: {envelope} (key {fingerprint})")
    if signer is not None:
        click.echo(f"claimed signer: {signer.describe()}")
    click.echo(f"verify: {verify_command(envelope, fingerprint, public_key)}")


def echo_written(out_dir: Path, files: list[str], envelope: str | None, fingerprint: str | None,
                 signer: SignerIdentity | None = None, public_key: Path | None = None) -> None:
    """The lines every report-writing command ends with; unsigned output is said loudly, on stderr."""
    report = out_dir / ("report.html" if "report.html" in files else files[-1])
    click.echo(f"report: {report}")
    click.echo(f"wrote {len(files)} files to {out_dir}: {', '.join(files)}")
    if envelope:
        echo_signed(out_dir / envelope, fingerprint, signer, public_key)
    else:
        click.secho("WARNING: this report is UNSIGNED; nobody can check it was not altered. "
                    "Pass --key (make one with 'auditor keygen').", err=True, fg="red", bold=True)


@click.command("report", short_help="Re-sign a report, or sign a training folder's first one.")
@click.argument("evidence_dir", required=False, type=click.Path(path_type=Path))
@click.option("--plan", "plan_path", type=click.Path(path_type=Path),
              help="EVIDENCE_DIR is a training folder (training.json from `auditor train` or the Trainer "
                   "integration): the plan it was trained under; the gate runs again and its first report is "
                   "signed with the model and training.json. Needs --scan.")
@click.option("--scan", "scan_path", type=click.Path(path_type=Path),
              help="With --plan: the scan.json the training was gated on.")
@gate_options
@click.option("--key", type=click.Path(path_type=Path), help="Ed25519 private key (PEM) to sign with.")
@click.option("--format", "formats", default="html,md,pdf", show_default=True,
              help="Comma-separated: html, md, pdf.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Folder to write into (default: EVIDENCE_DIR).")
@click.option("--templates", type=click.Path(path_type=Path),
              help="Folder of your own report.html.j2 / report.md.j2 (rendered in Jinja's sandbox).")
@signer_options
@click.option("--schema", is_flag=True, help="Print the JSON Schema of evidence.json and exit.")
def report(evidence_dir: Path | None, plan_path: Path | None, scan_path: Path | None, policies: tuple[str, ...],
           waivers: str | None, fail_on: str, key: Path | None, formats: str, out_dir: Path | None,
           templates: Path | None, signer_name: str | None, signer_role: str | None, signer_org: str | None,
           schema: bool) -> None:
    """Re-render and re-sign a report from a saved evidence.json; with --plan and --scan, write and sign the
    first report of a training folder."""
    from auditor.api import report as report_folder
    from auditor.report.evidence import evidence_schema_text
    from auditor.report.render import parse_formats
    from auditor.report.signer import identity_from_options

    if schema:
        click.echo(evidence_schema_text(), nl=False)
        return
    if evidence_dir is None:
        raise InputError("auditor report: missing EVIDENCE_DIR (a folder holding evidence.json)")
    if (plan_path is None) != (scan_path is None):
        raise InputError("--plan and --scan go together: a training folder is reported with the plan and the scan "
                         "it was gated on")
    wanted = parse_formats(formats)
    signer = identity_from_options(signer_name, signer_role, signer_org)
    source_dir = evidence_dir if evidence_dir.is_dir() else evidence_dir.parent
    target = out_dir or source_dir
    key = _default_key(key, source_dir, target)
    written = report_folder(evidence_dir, key=key, formats=wanted, out=target, templates=templates, signer=signer,
                            plan=plan_path, scan=scan_path, policies=policies, waivers=waivers, fail_on=fail_on)
    for missing in written.skipped_artifacts:
        click.echo(f"note: {missing} is not in {target}; its digest stays recorded in evidence.json only",
                   err=True)
    for name in written.stale:
        click.echo(f"note: {target / name} is from an earlier render and is NOT covered by the new signature",
                   err=True)
    public = key.with_suffix(".pub") if key is not None and key.with_suffix(".pub").is_file() else None
    echo_written(target, written.files, written.envelope, written.key_fingerprint, written.signer, public)


def _default_key(key: Path | None, source_dir: Path, target: Path) -> Path | None:
    """Without ``--key``, sign with a key in the folder (``keys/auditor.key``, where audit kept it
    before) or the user's own key, as audit itself does. With no key at all, refuse to re-render over a
    signed report: the old envelope would be dropped and a verifiable report silently turned into an
    unsigned one."""
    from auditor.report.sign import ENVELOPE_NAME, PRIVATE_KEY_NAME, default_key_dir

    if key is not None:
        return key
    for folder in dict.fromkeys((source_dir, target)):  # folders from before the key moved out of them
        private = folder / "keys" / PRIVATE_KEY_NAME
        if private.is_file():
            click.echo(f"signing with the existing key {private}", err=True)
            return private
    own = default_key_dir() / PRIVATE_KEY_NAME  # where `auditor audit` keeps the key it signs with
    if own.is_file():
        click.echo(f"signing with your key {own}", err=True)
        return own
    if (target / ENVELOPE_NAME).is_file():
        raise InputError(f"{target / ENVELOPE_NAME}: this report is signed and no --key was given; re-rendering "
                         "would drop its signature -- pass --key, or --out a new folder for an unsigned copy")
    return None


@click.command("verify", short_help="Check a signed report: signer, signature, file digests.")
@click.argument("envelope", type=click.Path(path_type=Path))
@click.option("--key", type=click.Path(path_type=Path),
              help="The signer's public key (PEM), as the signer publishes it. Without it, keys/auditor.pub "
                   "beside the envelope is used, and trusted only if --fingerprint or --trust names it.")
@click.option("--fingerprint", "fingerprints", multiple=True,
              help="A signer key fingerprint you accept: SHA256: and 64 hex digits, as 'auditor keygen' prints "
                   "(the sha256 of the public key's DER); repeatable.")
@click.option("--trust", "trust_file", type=click.Path(path_type=Path),
              help="A file of accepted signer fingerprints, one per line ('#' comments).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(envelope: Path, key: Path | None, fingerprints: tuple[str, ...], trust_file: Path | None,
           as_json: bool) -> None:
    """Check a signed report: who signed it, the signature, the statement, and the sha256 of every file it
    lists. Exit 1 unless the signer is a key you brought (--key) or named (--fingerprint, --trust)."""
    from auditor.api import verify as verify_report

    result = verify_report(envelope, key=key, fingerprints=fingerprints, trust=trust_file, raise_on_failure=False)
    if as_json:
        click.echo(json.dumps({"ok": result.ok, **result.model_dump(mode="json", by_alias=True)}, indent=2))
    else:
        for check in result.checks:
            mark = click.style("ok  ", fg="green") if check.ok else click.style("FAIL", fg="red", bold=True)
            click.echo(f"{mark} {check.what}: {check.detail}")
        click.echo(f"key: {result.key} ({result.key_fingerprint})")
        if result.claimed_signer is not None:
            click.echo(f"claimed signer (signed but NOT verified; the key fingerprint is what is checked): "
                       f"{result.claimed_signer.describe()}")
        if result.statement is not None and result.ok:
            p = result.statement.predicate
            click.echo(f"verified {len(result.statement.subject)} files; report {p.report_id}, verdict {p.verdict}, "
                       f"training {p.training}, created {p.created_at}")
    for name in result.unsigned:
        click.echo(f"warning: {name} is in the folder but NOT covered by the signature; it is not part of the "
                   "signed report", err=True)
    if not result.ok:
        failed = result.failures()
        first = "; ".join(f"{c.what}: {c.detail}" for c in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise VerificationFailed(f"{envelope}: verification FAILED: {first}{more}")


@click.command("keygen", short_help="Make an Ed25519 signing key pair; never overwrites one.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder for auditor.key (private, mode 0600), auditor.pub and auditor.signer.json.")
@click.option("--name", help="Your name, signed into every report this key signs (a claim, not verified).")
@click.option("--role", help="Your role, e.g. Data Protection Officer (a claim, not verified).")
@click.option("--org", "organisation", help="Your organisation (a claim, not verified).")
def keygen(out_dir: Path, name: str | None, role: str | None, organisation: str | None) -> None:
    """Make an Ed25519 signing key pair (PEM); never overwrites an existing key. --name, --role and --org go
    into auditor.signer.json beside the key and into every statement it signs."""
    from auditor.report.sign import fingerprint, generate_keypair, load_public_key
    from auditor.report.signer import identity_from_options, signer_path

    identity = identity_from_options(name, role, organisation, option_prefix="--")
    private, public = generate_keypair(out_dir, identity)
    click.echo(f"private key: {private} (mode 0600; keep it secret)")
    click.echo(f"public key:  {public} (give this to whoever verifies your reports)")
    click.echo(f"fingerprint: {fingerprint(load_public_key(public))}")
    if identity is not None:
        click.echo(f"signer:      {identity.describe()} ({signer_path(private)}; a claim: verifiers check the "
                   "fingerprint)")
