"""Write a report folder from evidence: render, write, then sign every file written.

Order matters for "nothing half-written": the key is loaded and every format rendered in memory before the
first file is touched; the envelope is written last, so a folder with an envelope is always complete. An
unsigned folder never keeps a stale envelope from an earlier run, which would otherwise fail verification
in a confusing way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field

from auditor.errors import InputError
from auditor.fsutil import atomic_write, ensure_folder, sha256_file
from auditor.report.evidence import EVIDENCE_NAME, EvidenceBundle
from auditor.report.render import FORMATS, OUTPUT_NAMES, Format, render_all
from auditor.report.sign import (
    ENVELOPE_NAME,
    PolicyDigest,
    ReportPredicate,
    Statement,
    Subject,
    fingerprint,
    key_id,
    load_private_key,
    sign_statement,
    write_envelope,
)
from auditor.report.signer import SignerIdentity, resolve_signer
from auditor.report.view import SigningInfo


class ReportFiles(BaseModel):
    """What :func:`write_report` produced; paths are relative to ``out_dir`` except ``out_dir`` itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out_dir: str
    files: list[str]
    subjects: list[str]
    envelope: str | None = None
    key_fingerprint: str | None = None
    signer: SignerIdentity | None = None
    skipped_artifacts: list[str] = []
    stale: list[str] = Field(default_factory=list, description="Report files left from an earlier render, unsigned")


def predicate_for(evidence: EvidenceBundle, signer: SignerIdentity | None = None) -> ReportPredicate:
    t = evidence.training
    allowed = t.max_epsilon_allowed if t and t.max_epsilon_allowed is not None else \
        evidence.gate.privacy_requirements.max_epsilon
    return ReportPredicate(
        report_id=evidence.report_id, created_at=evidence.created_at, tool=f"auditor {evidence.tool.auditor}",
        verdict=evidence.gate.verdict, training=evidence.training_outcome.status,
        plan_sha256=evidence.plan.sha256, dataset_sha256=evidence.dataset_sha256,
        policies=[PolicyDigest(id=p.id, version=p.version, sha256=p.sha256)
                  for p in evidence.gate.policies if p.applies],
        epsilon_spent=t.epsilon if t else None, epsilon_allowed=allowed,
        delta=t.delta if t else evidence.delta_resolved, signer=signer)


def signing_info(key: Ed25519PrivateKey | None, signer: SignerIdentity | None = None) -> SigningInfo:
    if key is None:
        return SigningInfo(signed=False, envelope=ENVELOPE_NAME)
    public = key.public_key()
    return SigningInfo(signed=True, key_fingerprint=fingerprint(public), key_id=key_id(public),
                       envelope=ENVELOPE_NAME, signer=signer, signer_claim=signer.describe() if signer else None)


def signer_for(key: Path | None, private: Ed25519PrivateKey | None,
               override: SignerIdentity | None) -> SignerIdentity | None:
    """The claimed identity a signature with ``key`` carries (its file beside the key, then ``override``)."""
    if key is None or private is None:
        return None
    return resolve_signer(key, fingerprint(private.public_key()), override)


def _report_folder(out_dir: Path) -> Path:
    """Make sure ``out_dir`` can hold the report before anything is rendered, signed or written: one
    :class:`InputError` line (exit 2) instead of ``NotADirectoryError`` from deep inside the writer."""
    return ensure_folder(out_dir, "--out")


def write_report(evidence: EvidenceBundle, out_dir: Path, *, key: Path | None,
                 formats: tuple[Format, ...] = FORMATS, templates: Path | None = None,
                 signer: SignerIdentity | None = None) -> ReportFiles:
    """Write ``evidence.json`` and the reports into ``out_dir``, then sign them (when ``key`` is given).

    Artifacts listed in the evidence (model weights, training.json) are signed too when they lie inside
    ``out_dir``; one whose bytes no longer match the recorded digest is refused, since signing it would
    vouch for a file the audit never saw. ``signer`` overrides, field by field, the identity kept beside the
    key (:mod:`auditor.report.signer`); it is signed into the statement and shown next to the fingerprint.
    """
    out_dir = _report_folder(Path(out_dir))
    private = load_private_key(key) if key is not None else None
    identity = signer_for(key, private, signer)
    signing = signing_info(private, identity)
    rendered = render_all(evidence, signing, formats, templates)

    artifact_subjects: list[Subject] = []
    skipped: list[str] = []
    for item in evidence.artifacts:
        path = out_dir / item.path
        if not path.is_file():
            skipped.append(item.path)
            continue
        actual = sha256_file(path)
        if actual != item.sha256:
            raise InputError(f"{path}: changed since the evidence was recorded (sha256 {actual[:16]}…, "
                             f"evidence says {item.sha256[:16]}…); refusing to sign it")
        artifact_subjects.append(Subject(name=item.path, digest={"sha256": actual}))

    outputs: dict[str, bytes] = {EVIDENCE_NAME: evidence.to_json().encode("utf-8"), **rendered}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        atomic_write(out_dir / name, data, mode=0o644)

    subjects = [Subject(name=name, digest={"sha256": hashlib.sha256(data).hexdigest()})
                for name, data in outputs.items()] + artifact_subjects
    stale = [name for name in OUTPUT_NAMES.values() if name not in outputs and (out_dir / name).is_file()]
    envelope_path = out_dir / ENVELOPE_NAME
    if private is None:
        envelope_path.unlink(missing_ok=True)
        return ReportFiles(out_dir=str(out_dir), files=list(outputs), subjects=[s.name for s in subjects],
                           skipped_artifacts=skipped, stale=stale)
    statement = Statement(subject=subjects, predicate=predicate_for(evidence, identity))
    write_envelope(sign_statement(statement, private), envelope_path)
    return ReportFiles(out_dir=str(out_dir), files=[*outputs, ENVELOPE_NAME], subjects=[s.name for s in subjects],
                       envelope=ENVELOPE_NAME, key_fingerprint=signing.key_fingerprint, signer=identity,
                       skipped_artifacts=skipped,
                       stale=stale)


__all__ = ["FORMATS", "ReportFiles", "predicate_for", "signer_for", "signing_info", "write_report"]
