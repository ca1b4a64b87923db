"""The ledger on disk: a hash-chained JSON-lines file, its salt, and one unit-key file per run.

Every write is complete or fails: ``os.write`` can write less than asked on a nearly full disk, so writes
loop; files are fsynced, then their folder; an appended line is read back. A failure is an input error
(exit 2) naming the path -- and since reservations precede training, nothing is trained. Reading verifies
the chain, so an edited, reordered or emptied ledger is reported, never trusted as a fresh budget.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import InputError

GENESIS = "0" * 64


class LedgerEntry(BaseModel):
    """One line; ``hash`` covers every other field and the previous line's hash (a chain)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=0)
    kind: Literal["reserve", "spend"]
    run_id: str
    dataset_sha256: str
    epsilon: float = Field(ge=0)
    delta: float = Field(ge=0)
    accountant: str
    plan_sha256: str | None = None
    at: str
    prev: str
    hash: str
    # Absent from legacy per-file ledgers (auditor 0.1); set since.
    unit: Literal["record", "user"] | None = None
    units: int | None = None
    units_sha256: str | None = None
    salt_id: str | None = None
    noise_multiplier: float | None = Field(default=None, ge=0)
    sample_rate: float | None = Field(default=None, ge=0, le=1)
    steps: int | None = Field(default=None, ge=0, description="Planned (reserve) or taken (spend)")


OPTIONAL_FIELDS = ("unit", "units", "units_sha256", "salt_id", "noise_multiplier", "sample_rate", "steps")


@dataclass(frozen=True)
class Keys:
    """One run's units as salted 64-bit keys (numpy arrays)."""

    users: Any  # uint64 per unit, or None when the data names no people
    records: Any  # uint64 per record
    record_unit: Any  # int64: the unit each record belongs to
    count: int


def entry_hash(fields: dict[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def os_error(path: Path, exc: OSError) -> InputError:
    return InputError(f"{path}: privacy ledger cannot be written ({exc.strerror or type(exc).__name__}); "
                      "nothing was trained: free space or fix permissions and run again")


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` may write less than asked (a nearly full disk): loop, and fail rather than truncate."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(28, "No space left on device")
        view = view[written:]


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes) -> None:
    """A whole file, 0600, appearing in one rename (never a partial or empty one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    sync_directory(path.parent)


def read_chain(path: Path) -> list[LedgerEntry]:
    """Every entry, chain verified; a broken chain or malformed line is one InputError naming the line."""
    entries: list[LedgerEntry] = []
    prev = GENESIS
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: privacy ledger cannot be read ({exc.strerror})") from None
    if not text.strip():
        # the first entry creates the file in one rename, so an empty ledger was emptied: reading it as
        # "nothing spent" would hand its people a fresh privacy budget
        raise InputError(f"{path}: privacy ledger is empty, but auditor never writes an empty ledger (was it "
                         "truncated?); restore it from a backup -- deleting it forgets every ε spent")
    lines = text.splitlines()
    torn_tail = not text.endswith("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            entry = LedgerEntry.model_validate(raw)
        except (json.JSONDecodeError, ValidationError):
            if number == len(lines) and torn_tail:
                # a final line without its newline: the one write never completed, so its fsync never
                # reported success and the run it belonged to never started (reservations precede training)
                break
            raise InputError(f"{path}:{number}: privacy ledger line is not a valid entry") from None
        if entry.prev != prev or entry_hash(raw) != entry.hash:
            raise InputError(f"{path}:{number}: privacy ledger hash chain is broken (edited or reordered)")
        entries.append(entry)
        prev = entry.hash
    return entries


def append_entry(path: Path, entries: list[LedgerEntry], fields: dict[str, Any], at: str) -> None:
    """Chain ``fields`` after ``entries`` and append it durably (the first entry creates the file)."""
    fields = {"seq": len(entries), **fields, "at": at, "prev": entries[-1].hash if entries else GENESIS}
    for name in OPTIONAL_FIELDS:
        fields.setdefault(name, None)
    fields["hash"] = entry_hash(fields)
    LedgerEntry.model_validate(fields)
    line = (json.dumps(fields, sort_keys=True, separators=(",", ":")) + "\n").encode()
    try:
        if not path.exists():
            write_new(path, line)
        else:
            _drop_torn_tail(path)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                write_all(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            sync_directory(path.parent)
        written = path.read_bytes()
    except OSError as exc:
        raise os_error(path, exc) from None
    if not written.endswith(line):  # what a reader will see is what was meant
        raise InputError(f"{path}: privacy ledger entry did not read back as written; nothing was trained")


def _drop_torn_tail(path: Path) -> None:
    """Cut a partial last line left by a crash, so the next entry starts on a line of its own."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
            handle.flush()
            os.fsync(handle.fileno())


def read_salt(path: Path, ledger_exists: bool, create: bool) -> bytes | None:
    """The ledger's 256-bit salt; created (0600) on the first reservation. Without it the keys of the people
    already in the ledger cannot be recomputed, so a missing salt beside a ledger is an error."""
    if not path.exists():
        if ledger_exists:
            raise InputError(f"{path}: the privacy ledger's salt is missing, so the people it holds cannot be "
                             "recognised; restore it from a backup -- deleting the ledger forgets every ε spent")
        if not create:
            return None
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                write_all(fd, secrets.token_hex(32).encode() + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            sync_directory(path.parent)
        except FileExistsError:
            pass
        except OSError as exc:
            raise os_error(path, exc) from None
    try:
        salt = bytes.fromhex(path.read_text(encoding="ascii", errors="replace").strip())
    except ValueError:
        salt = b""
    if len(salt) != 32:
        raise InputError(f"{path}: the privacy ledger's salt is damaged; restore it from a backup")
    return salt


def save_keys(path: Path, keys: Keys) -> str:
    """A run's unit keys, 0600 in a 0700 folder; returns the sha256 the chain records."""
    import numpy as np

    buffer = io.BytesIO()
    arrays = {"records": keys.records, "record_unit": keys.record_unit}
    if keys.users is not None:
        arrays["users"] = keys.users
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        write_new(path, data)
    except OSError as exc:
        raise os_error(path, exc) from None
    return hashlib.sha256(data).hexdigest()


def load_keys(path: Path, sha256: str | None, count: int) -> Keys:
    import numpy as np

    try:
        data = path.read_bytes()
    except OSError:
        raise InputError(f"{path}: privacy ledger unit file is missing; restore it from a backup") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InputError(f"{path}: privacy ledger unit file does not match its entry (edited or replaced)")
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        users = arrays["users"] if "users" in arrays.files else None
        return Keys(users=users, records=arrays["records"], record_unit=arrays["record_unit"], count=count)
