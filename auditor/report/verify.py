"""Check a signed report folder: who signed it, the signature, the statement, and every subject's digest.

A signature proves something only about the key that made it, so verification first establishes *which
key is trusted*: one the verifier brings (``--key`` outside the folder), or any key whose fingerprint the
verifier brings (``--fingerprint``, or a ``--trust`` file listing the keys an organisation publishes). A key
found in the folder being verified proves only that the files match each other -- a forger who re-signs an
edited report drops their own key there -- so with nothing else it is a failed check ("signer").

Verification collects every problem instead of stopping at the first, so whoever holds a tampered folder
sees all of what changed; :func:`verify_envelope` returns the per-check outcome and the CLI decides the
exit code. A subject that leaves the report folder (``..``, an absolute name, or a symlinked folder) is a
failure, never followed; files in the folder that no subject names are listed as unsigned.
"""

from __future__ import annotations

import json
import re
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
    load_public_key,
    read_envelope,
    signature_valid,
)
from auditor.report.signer import SignerIdentity


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
    signer_trusted: bool = Field(default=False, description="The key is one the verifier brought or named")
    checks: list[Check]
    statement: Statement | None = None
    unsigned: list[str] = Field(default_factory=list, description="Files in the folder no subject covers")
    claimed_signer: SignerIdentity | None = Field(
        default=None, description="Who the statement says signed it: signed, but never verified; the key is")

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
    path = base.joinpath(*pure.parts)
    try:  # a symlinked folder or file on the way may point anywhere: it must still end inside the folder
        path.resolve().relative_to(base.resolve())
    except (ValueError, OSError, RuntimeError):
        return None
    return path


_FINGERPRINT = re.compile(r"SHA256:[0-9a-f]{64}", re.IGNORECASE)
_FORMAT = "SHA256: and the 64 hex digits of the sha256 of the public key's DER, as 'auditor keygen' prints"


def normalise_fingerprint(text: str, where: str = "--fingerprint") -> str:
    """The one accepted form (:func:`auditor.report.sign.fingerprint`), case aside: ``SHA256:`` + 64 hex.

    Anything else is refused rather than guessed at: bare hex could be a digest of anything, and the
    colon-grouped form earlier versions printed hashed the raw key, so it never names the same bytes.
    """
    value = text.strip()
    if _FINGERPRINT.fullmatch(value):
        return "SHA256:" + value[7:].lower()
    hint = ""
    if value.count(":") > 2:
        hint = " (the colon-grouped form of earlier versions is not accepted: run 'auditor verify --key " \
               "PUBKEY' or 'openssl pkey -pubin -in PUBKEY -outform DER | sha256sum' for the current one)"
    elif re.fullmatch(r"[0-9a-fA-F]{64}", value):
        hint = " (prefix the hex with SHA256:)"
    raise InputError(f"{where}: {value[:80]!r} is not a key fingerprint: expected {_FORMAT}{hint}")


def read_trust_file(path: Path) -> set[str]:
    """Accepted signer fingerprints, one per line (``#`` comments and text after the fingerprint allowed)."""
    from auditor.yamlio import read_text

    accepted: set[str] = set()
    for number, line in enumerate(read_text(Path(path), "trust file").splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if entry:
            try:
                accepted.add(normalise_fingerprint(entry.split()[0]))
            except InputError:
                raise InputError(f"{path}:{number}: not a key fingerprint (expected {_FORMAT})") from None
    if not accepted:
        raise InputError(f"{path}: the trust file lists no key fingerprint")
    return accepted


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def verify_envelope(envelope_path: Path, public_key_path: Path | None = None, *,
                    fingerprints: set[str] | None = None) -> VerifyResult:
    """Verify one envelope file; bad *input* (no envelope, bad key file) raises InputError instead.

    ``fingerprints``: the signer keys the verifier accepts (as :func:`normalise_fingerprint` returns them).
    The signer is trusted when the key was brought from outside the report folder or its fingerprint is
    accepted; otherwise the "signer" check fails.
    """
    envelope_path = Path(envelope_path)
    envelope = read_envelope(envelope_path)
    base = envelope_path.parent
    key_path = default_public_key(envelope_path) if public_key_path is None else Path(public_key_path)
    if public_key_path is None and not key_path.is_file():
        raise InputError(f"{envelope_path}: no --key given and no {key_path} beside the envelope; "
                         "pass the signer's public key with --key")
    from_folder = _inside(key_path, base)
    public_key = load_public_key(key_path)
    checks: list[Check] = []
    if fingerprints:
        trusted = fingerprint(public_key) in fingerprints
        checks.append(Check(what="signer", ok=trusted,
                            detail=f"key {fingerprint(public_key)} is one you accept" if trusted else
                            f"key {fingerprint(public_key)} is not among the fingerprints you accept"))
    else:
        trusted = not from_folder
        checks.append(Check(what="signer", ok=trusted,
                            detail=f"key {key_path} that you brought" if trusted else
                            "unverified: the only key is the one inside the folder being verified, which proves "
                            "the files match each other, not who signed them; pass --key with the signer's "
                            "published key, --fingerprint, or --trust"))

    signed = signature_valid(envelope, public_key)
    checks.append(Check(what="signature", ok=signed,
                        detail=f"Ed25519 over DSSE PAE, key {fingerprint(public_key)}" if signed
                        else "no signature verifies under this key (payload or signature changed, or wrong key)"))
    checks.append(Check(what="payloadType", ok=envelope.payloadType == PAYLOAD_TYPE,
                        detail=envelope.payloadType))

    statement: Statement | None = None
    try:
        statement = Statement.model_validate(json.loads(envelope.payload_bytes()))
    except (ValueError, ValidationError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "payload is not base64 JSON"
        checks.append(Check(what="statement", ok=False, detail=f"not an in-toto Statement v1: {reason}"))
    unsigned: list[str] = []
    if statement is not None:
        checks.append(Check(what="statement", ok=True, detail=STATEMENT_TYPE))
        checks.append(Check(what="predicateType", ok=statement.predicateType == PREDICATE_TYPE,
                            detail=statement.predicateType))
        for subject in statement.subject:
            checks.append(_check_subject(base, subject.name, subject.digest))
        unsigned = _unsigned(base, {s.name for s in statement.subject}, envelope_path, key_path)
    return VerifyResult(envelope=str(envelope_path), key=str(key_path), key_fingerprint=fingerprint(public_key),
                        key_next_to_report=from_folder, signer_trusted=trusted, checks=checks,
                        statement=statement, unsigned=unsigned,
                        claimed_signer=statement.predicate.signer if statement is not None else None)


def _unsigned(base: Path, subjects: set[str], envelope: Path, key: Path) -> list[str]:
    """Files beside the signed ones that the signature does not cover (a ``report-final.html`` with a script
    planted next to the real report): named so a reader does not take them for part of the report. The
    key folder is left out (keys are not report content); symlinks are listed, never followed."""
    import os

    found: list[str] = []
    for folder, dirs, files in os.walk(base):  # never follows a symlinked folder
        dirs.sort()
        rel = Path(folder).relative_to(base)
        if rel.parts[:1] == ("keys",):
            continue
        for entry in sorted(files + [d for d in dirs if (Path(folder) / d).is_symlink()]):
            path = Path(folder) / entry
            name = (rel / entry).as_posix()
            if path not in (envelope, key) and name not in subjects:
                found.append(name)
            if len(found) >= 50:
                return found
    return found


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
