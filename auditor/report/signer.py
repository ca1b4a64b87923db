"""Who the signer says they are: a name, a role and an organisation kept beside the key and signed with it.

A regulator reading a report wants a person and an organisation, not only a key fingerprint, but nothing in
a signature proves a name: whoever holds a key can write any name next to it. So the identity is a *claim*:
it is signed inside the statement (it cannot be changed without breaking the signature), it is shown next to
the fingerprint and labelled as claimed, and trust still comes only from the fingerprint the verifier brings.

The claim lives in a small JSON file beside the private key (``auditor.signer.json`` next to
``auditor.key``), written by ``auditor keygen --name --role --org``, so every report signed with that key
carries it; ``--signer-name`` / ``--signer-role`` / ``--signer-org`` on ``report`` and ``audit`` override it
field by field. The file records the fingerprint of the key it belongs to, so a copy left beside another
key is refused instead of putting one person's name on someone else's signature.

Every field is printed to terminals and pages from envelopes anyone can forge, so control and format
characters (ANSI escapes, bidi overrides, newlines) are refused wherever an identity is parsed -- in the
option, the file, and the statement being verified.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from auditor.errors import InputError
from auditor.fsutil import atomic_write

SIGNER_SUFFIX = ".signer.json"
MAX_CLAIM_CHARS = 200


def _printable(text: str) -> str:
    for char in text:
        if unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
            raise ValueError(f"control or format character U+{ord(char):04X} is not allowed")
    return text


ClaimText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CLAIM_CHARS),
                      AfterValidator(_printable)]


class SignerIdentity(BaseModel):
    """The signer's claimed name, role and organisation; each optional, none of them verified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClaimText | None = None
    role: ClaimText | None = None
    organisation: ClaimText | None = None

    def is_empty(self) -> bool:
        return self.name is None and self.role is None and self.organisation is None

    def describe(self) -> str:
        """One labelled line, e.g. ``Jane Doe (role: DPO; organisation: Example GmbH)``."""
        rest = "; ".join(f"{label}: {value}" for label, value in
                         (("role", self.role), ("organisation", self.organisation)) if value)
        head = self.name or "no name given"
        return f"{head} ({rest})" if rest else head

    def merged(self, override: SignerIdentity | None) -> SignerIdentity:
        """``override``'s fields where it has them (the command-line options), ours elsewhere."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))


class SignerFile(SignerIdentity):
    """The file beside a key: the claim plus the fingerprint of the key it belongs to."""

    key_fingerprint: str | None = None


def signer_path(key_path: Path) -> Path:
    """``keys/auditor.key`` -> ``keys/auditor.signer.json`` (the public key is ``keys/auditor.pub``)."""
    return Path(key_path).with_suffix(SIGNER_SUFFIX)


def identity_from_options(name: str | None, role: str | None, organisation: str | None,
                          option_prefix: str = "--signer-") -> SignerIdentity | None:
    """The identity given on the command line, or None; a bad value is one line naming the option."""
    try:
        identity = SignerIdentity(name=name, role=role, organisation=organisation)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "name"
        option = option_prefix + ("org" if field == "organisation" else field)
        raise InputError(f"{option}: {first['msg']}") from None
    return None if identity.is_empty() else identity


def write_signer_file(key_path: Path, identity: SignerIdentity, key_fingerprint: str) -> Path:
    path = signer_path(key_path)
    record = SignerFile(**identity.model_dump(), key_fingerprint=key_fingerprint)
    atomic_write(path, json.dumps(record.model_dump(exclude_none=True), indent=2, ensure_ascii=False) + "\n",
                 mode=0o644)
    return path


def read_signer_file(key_path: Path, key_fingerprint: str) -> SignerIdentity | None:
    """The identity kept beside ``key_path`` (None when there is no such file); errors name file and field."""
    from auditor.yamlio import read_text

    path = signer_path(key_path)
    if not path.exists():
        return None
    text = read_text(path, "signer identity file", max_bytes=64 * 1024)
    try:
        record = SignerFile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        detail = f"field {where}: {first['msg']}" if where else f"not a JSON object of name, role, organisation " \
                                                                  f"({first['msg']})"
        raise InputError(f"{path}: {detail}") from None
    if record.key_fingerprint is not None and record.key_fingerprint.lower() != key_fingerprint.lower():
        raise InputError(f"{path}: field key_fingerprint: belongs to key {record.key_fingerprint[:80]}, not to "
                         f"the signing key {key_fingerprint}")
    identity = SignerIdentity(name=record.name, role=record.role, organisation=record.organisation)
    return None if identity.is_empty() else identity


def resolve_signer(key_path: Path, key_fingerprint: str, override: SignerIdentity | None) -> SignerIdentity | None:
    """The identity a signature made with ``key_path`` carries: its file, then the options on top."""
    stored = read_signer_file(key_path, key_fingerprint)
    if stored is None:
        return override
    return stored.merged(override)
