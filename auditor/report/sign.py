"""Ed25519 keys, DSSE envelopes and in-toto Statements: what makes a report checkable by someone else.

A regulator who receives a report folder must be able to tell, without trusting us, that no file changed
after the audit ran. We therefore sign one in-toto Statement v1 that lists every file written with its
sha256, wrap it in a DSSE envelope (the signature covers the payload *and* its type, via PAE), and write the
envelope as one JSON line. Keys are plain PEM files so that ``openssl`` or any DSSE library can check them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import InputError
from auditor.fsutil import atomic_write
from auditor.report.signer import SignerIdentity, signer_path, write_signer_file

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://auditor.dev/attestation/audit-report/v1"
PRIVATE_KEY_NAME = "auditor.key"
PUBLIC_KEY_NAME = "auditor.pub"
ENVELOPE_NAME = "report.intoto.jsonl"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subject(_Frozen):
    """One signed file: ``name`` is a POSIX path relative to the envelope's folder."""

    name: str
    digest: dict[str, str]


class PolicyDigest(_Frozen):
    id: str
    version: str
    sha256: str


class ReportPredicate(_Frozen):
    """What the signature vouches for beyond file integrity: the verdict and the budget it was reached under."""

    report_id: str
    created_at: str
    tool: str
    verdict: Literal["pass", "fail"]
    training: Literal["completed", "refused", "skipped", "failed"]
    plan_sha256: str
    dataset_sha256: str | None = None
    policies: list[PolicyDigest] = Field(default_factory=list)
    epsilon_spent: float | None = None
    epsilon_allowed: float | None = None
    delta: float | None = None
    signer: SignerIdentity | None = Field(default=None, description="Claimed by the signer; the key is what is "
                                                                     "checked")


class Statement(_Frozen):
    """in-toto Statement v1 (``_type`` is aliased because pydantic reserves leading underscores)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type_: Literal["https://in-toto.io/Statement/v1"] = Field(default="https://in-toto.io/Statement/v1", alias="_type")
    subject: list[Subject] = Field(min_length=1)
    predicateType: str = PREDICATE_TYPE  # name fixed by the in-toto spec
    predicate: ReportPredicate

    def canonical(self) -> bytes:
        """RFC 8785 bytes: the same statement always signs to the same payload."""
        return bytes(rfc8785.dumps(self.model_dump(mode="json", by_alias=True)))


class Signature(_Frozen):
    keyid: str = ""
    sig: str


class Envelope(_Frozen):
    """A DSSE envelope; ``payload`` and ``sig`` are standard base64, as the DSSE spec writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    payload: str
    payloadType: str  # name fixed by the DSSE spec
    signatures: list[Signature] = Field(min_length=1)

    def payload_bytes(self) -> bytes:
        return base64.b64decode(self.payload, validate=True)

    def to_line(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), sort_keys=True) + "\n"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding; lengths are byte counts (a UTF-8 type may be longer than its str)."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The DSSE ``keyid`` hint, computed as securesystemslib computes a key's default id, so its
    ``Envelope.verify`` (which skips a signature whose keyid differs from the key's) accepts our envelopes
    out of the box: sha256, hex, of the canonical JSON of ``{"keytype": "ed25519", "keyval": {"public":
    <raw key, hex>}, "scheme": "ed25519"}``. The keyid is not signed and proves nothing; trust comes from
    :func:`fingerprint`. (RFC 8785 and securesystemslib's canonical JSON agree on this ASCII-only object.)
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key: dict[str, Any] = {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": raw.hex()}}
    return hashlib.sha256(bytes(rfc8785.dumps(key))).hexdigest()


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """``SHA256:`` and the hex sha256 of the key's SubjectPublicKeyInfo DER: the one form keygen, report,
    audit, verify and the report pages show, and the only one ``--fingerprint`` accepts.

    Why this form: the public key travels as an SPKI PEM, and this is the digest of exactly the bytes inside
    that PEM, so anyone recomputes it with standard tools and no auditor --
    ``openssl pkey -pubin -in KEY.pub -outform DER | sha256sum`` -- and compares it character for character
    with ``sha256sum``'s hex (it is also the digest an X.509 SPKI pin is made of). OpenSSH's
    ``SHA256:``+base64 form hashes the SSH wire encoding instead, which openssl cannot produce.
    """
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + hashlib.sha256(der).hexdigest()


def default_key_dir() -> Path:
    """Where ``auditor audit`` keeps the key it signs with when given none: the user's config folder, one
    key for every run (a fingerprint to publish once), and never inside a report folder that gets copied."""
    import platformdirs

    return Path(platformdirs.user_config_dir("auditor")) / "keys"


def generate_keypair(out_dir: Path, identity: SignerIdentity | None = None) -> tuple[Path, Path]:
    """Write a new Ed25519 pair (and the signer's claimed identity beside it, when given); refuse to
    overwrite, since losing a key orphans every report it signed."""
    out_dir = Path(out_dir)
    private_path, public_path = out_dir / PRIVATE_KEY_NAME, out_dir / PUBLIC_KEY_NAME
    for existing in (private_path, public_path, signer_path(private_path)):  # a stale claim would be misread
        if existing.exists():
            raise InputError(f"{existing}: already exists; refusing to overwrite a signing key "
                             "(choose another --out folder)")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: is not a folder")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(private_path, private_pem, mode=0o600)
    atomic_write(public_path, public_pem, mode=0o644)
    if identity is not None and not identity.is_empty():
        write_signer_file(private_path, identity, fingerprint(key.public_key()))
    return private_path, public_path


def _read_pem(path: Path, what: str) -> bytes:
    from auditor.yamlio import read_bytes

    return read_bytes(Path(path), what, max_bytes=64 * 1024)  # a PEM key is a few hundred bytes


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """A PEM Ed25519 private key; anything else is one clear line naming the file."""
    data = _read_pem(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnicodeError) as exc:
        reason = "it is encrypted" if "encrypted" in str(exc).lower() or "password" in str(exc).lower() \
            else "not a PEM private key"
        raise InputError(f"{path}: cannot load the signing key: {reason}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: the signing key must be Ed25519 (made by 'auditor keygen')")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM Ed25519 public key (or the public half of a private key file, for convenience)."""
    data = _read_pem(path, "public key")
    try:
        key: Any = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnicodeError):
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError, UnicodeError):
            raise InputError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: the public key must be Ed25519 (made by 'auditor keygen')")
    return key


def sign_statement(statement: Statement, key: Ed25519PrivateKey) -> Envelope:
    """Sign the canonical statement bytes under PAE and wrap them in a DSSE envelope."""
    payload = statement.canonical()
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return Envelope(payload=base64.b64encode(payload).decode("ascii"), payloadType=PAYLOAD_TYPE,
                    signatures=[Signature(keyid=key_id(key.public_key()),
                                          sig=base64.b64encode(signature).decode("ascii"))])


def signature_valid(envelope: Envelope, public_key: Ed25519PublicKey) -> bool:
    """True when any signature in the envelope verifies under ``public_key`` over PAE(type, payload)."""
    try:
        message = pae(envelope.payloadType, envelope.payload_bytes())
    except ValueError:
        return False
    for signature in envelope.signatures:
        try:
            public_key.verify(base64.b64decode(signature.sig, validate=True), message)
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def read_envelope(path: Path) -> Envelope:
    """Parse a ``.intoto.jsonl`` file holding exactly one envelope; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: envelope not found")
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                                .splitlines(), 1) if line.strip()]
    if len(lines) != 1:
        raise InputError(f"{path}: expected exactly one DSSE envelope line, found {len(lines)}")
    number, line = lines[0]
    try:
        return Envelope.model_validate(json.loads(line))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "envelope"
        raise InputError(f"{path}:{number}: not a DSSE envelope: {where}: {first['msg']}") from None


def write_envelope(envelope: Envelope, path: Path) -> None:
    atomic_write(path, envelope.to_line())


def private_key_mode_ok(path: Path) -> bool:
    """Whether a private key file is unreadable to group and others (POSIX only)."""
    return os.name != "posix" or (Path(path).stat().st_mode & 0o077) == 0
