"""The pseudonym key: a secret that makes ``<PERSON_7f3a09c1>`` stable across records and runs, and unguessable.

A pseudonym is an HMAC of the value under this key. Without a key, anyone could hash a list of likely names
and reverse the tokens; with it, only whoever holds the key can. So the key is created 0600, kept in the
user's config folder unless ``--key`` names another file, and never written into any output -- the evidence
carries only an id derived from it, so a reviewer can see that two datasets were pseudonymised alike.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from pathlib import Path

from auditor.errors import InputError
from auditor.scan import names
from auditor.yamlio import read_bytes

#: bytes of randomness in a new key (written as hex)
KEY_BYTES = 32
MIN_KEY_BYTES = 16
MAX_KEY_FILE_BYTES = 4096
KEY_FILE_NAME = "redaction.key"
#: Identifier types whose separators carry no meaning: (415) 372-9061 and 415-372-9061 are one number.
_DIGITS_AND_LETTERS = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "CN_RESIDENT_ID", "UK_NHS", "IBAN_CODE",
                                 "US_PASSPORT", "US_DRIVER_LICENSE"})


def default_key_path() -> Path:
    """Beside the signing key ``auditor audit`` keeps: one key per user, so runs agree by default."""
    import platformdirs

    return Path(platformdirs.user_config_dir("auditor")) / "keys" / KEY_FILE_NAME


def load_or_create_key(path: Path | None) -> tuple[bytes, Path, bool]:
    """The key's bytes, its file, and whether it was just created (0600, O_EXCL: never over another file)."""
    path = Path(path) if path is not None else default_key_path()
    if path.exists() or path.is_symlink():
        return _read_key(path), path, False
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # created meanwhile by a concurrent run: use that one
        return _read_key(path), path, False
    except OSError as exc:
        raise InputError(f"{path}: cannot create the pseudonym key: {exc.strerror or exc}") from None
    material = secrets.token_hex(KEY_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(material + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return material.encode("ascii"), path, True


def _read_key(path: Path) -> bytes:
    raw = read_bytes(path, "pseudonym key", InputError, max_bytes=MAX_KEY_FILE_BYTES)
    key = raw.strip()
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"{path}: the pseudonym key is too short ({len(key)} bytes; at least {MIN_KEY_BYTES}); "
                         "delete it and a new one is made")
    return key


def key_id(key: bytes) -> str:
    """An id for the key that reveals nothing of it: equal ids mean the same key."""
    return hmac.new(key, b"auditor redact key id v1", hashlib.sha256).hexdigest()[:16]


def normalise(entity: str, value: str) -> str:
    """What makes two spellings one value: Unicode form, case and spacing, for numbers their separators, and
    for names their titles and degrees. The same person written "Jane  Doe", "jane doe" and "Ms. Jane Doe" gets
    one token, so the model still sees one customer."""
    text = unicodedata.normalize("NFKC", value).casefold()
    if entity in _DIGITS_AND_LETTERS:
        return "".join(ch for ch in text if ch.isalnum())
    text = " ".join(text.split())
    return names.bare_name(text) if entity == "PERSON" else text


def pseudonym_digest(key: bytes, entity: str, value: str) -> str:
    message = f"{entity}\x1f{normalise(entity, value)}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
