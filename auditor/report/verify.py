"""Check a signed report folder: signature, payload and statement types, and every subject's digest.

Verification collects every problem instead of stopping at the first, so whoever holds a tampered folder
sees all of what changed; :func:`verify_envelope` returns the per-check outcome and the CLI decides the
exit code. A subject name that tries to leave the report folder is itself a failure, never followed.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import InputError
from auditor.fsutil import sha256_file
from auditor.report.sign import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    PUBLIC_KEY_NAME,
    STATEMENT_TYPE,
    Statement,
    fingerprint,
    key_id,
    load_public_key,
    read_envelope,
    signature_valid,
)


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    what: str
    ok: bool
    detail: str = ""


class VerifyResult(BaseModel):
    """Everything :func:`verify_envelope` looked at; ``ok`` only when every check passed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    envelope: str
    key: str
    key_fingerprint: str
    key_next_to_report: bool = Field(description="The key came from the report folder, not from the user")
    checks: list[Check]
    statement: Statement | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def default_public_key(envelope_path: Path) -> Path:
    """Where ``auditor audit`` puts the key it generated: ``keys/auditor.pub`` beside the envelope."""
    return Path(envelope_path).parent / "keys" / PUBLIC_KEY_NAME


def _safe_subject_path(base: Path, name: str) -> Path | None:
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\\" in name:
        return None
    return base.joinpath(*pure.parts)


def verify_envelope(envelope_path: Path, public_key_path: Path | None = None) -> VerifyResult:
    """Verify one envelope file; bad *input* (no envelope, bad key file) raises InputError instead."""
    envelope_path = Path(envelope_path)
    envelope = read_envelope(envelope_path)
    from_folder = public_key_path is None
    key_path = default_public_key(envelope_path) if public_key_path is None else Path(public_key_path)
    if from_folder and not key_path.is_file():
        raise InputError(f"{envelope_path}: no --key given and no {key_path} beside the envelope; "
                         "pass the signer's public key with --key")
    public_key = load_public_key(key_path)
    checks: list[Check] = []

    signed = signature_valid(envelope, public_key)
    checks.append(Check(what="signature", ok=signed,
                        detail=f"Ed25519 over DSSE PAE, key {key_id(public_key)[:16]}" if signed
                        else "no signature verifies under this key (payload or signature changed, or wrong key)"))
    checks.append(Check(what="payloadType", ok=envelope.payloadType == PAYLOAD_TYPE,
                        detail=envelope.payloadType))

    statement: Statement | None = None
    try:
        statement = Statement.model_validate(json.loads(envelope.payload_bytes()))
    except (ValueError, ValidationError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "payload is not base64 JSON"
        checks.append(Check(what="statement", ok=False, detail=f"not an in-toto Statement v1: {reason}"))
    if statement is not None:
        checks.append(Check(what="statement", ok=True, detail=STATEMENT_TYPE))
        checks.append(Check(what="predicateType", ok=statement.predicateType == PREDICATE_TYPE,
                            detail=statement.predicateType))
        base = envelope_path.parent
        for subject in statement.subject:
            checks.append(_check_subject(base, subject.name, subject.digest))
    return VerifyResult(envelope=str(envelope_path), key=str(key_path), key_fingerprint=fingerprint(public_key),
                        key_next_to_report=from_folder, checks=checks, statement=statement)


def _check_subject(base: Path, name: str, digest: dict[str, str]) -> Check:
    what = f"subject {name}"
    expected = digest.get("sha256")
    if not expected:
        return Check(what=what, ok=False, detail="no sha256 digest recorded")
    path = _safe_subject_path(base, name)
    if path is None:
        return Check(what=what, ok=False, detail="name points outside the report folder")
    if not path.is_file():
        return Check(what=what, ok=False, detail="missing")
    actual = sha256_file(path)
    if actual != expected.lower():
        return Check(what=what, ok=False, detail=f"sha256 {actual[:16]}… differs from signed {expected[:16]}…")
    return Check(what=what, ok=True, detail=f"sha256 {actual[:16]}…")
