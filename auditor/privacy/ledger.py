"""The privacy ledger: every ε ever spent on one dataset, so composition across runs is accounted for.

NIST SP 800-226 asks that composition be accounted across every training run on the same data. Each dataset
(by sha256) has an append-only JSON-lines file with a hash chain; a run *reserves* its planned ε before the
first step and *settles* it with the ε actually spent. A run that dies mid-training (``kill -9``) leaves its
reservation standing, so the ledger can only over-report, never under-report.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import GateFailed, InputError


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LedgerEntry(_Frozen):
    """One line of a ledger file; ``hash`` covers every other field and the previous line's hash."""

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


class LedgerTotals(_Frozen):
    """Composed spending on one dataset (basic composition: ε and δ add up across runs)."""

    dataset_sha256: str
    runs: int = Field(ge=0, description="Runs that reserved budget on this dataset")
    epsilon_reserved: float = Field(ge=0, description="ε of runs reserved, not settled (running or killed)")
    epsilon_spent: float = Field(ge=0, description="ε of settled runs, as actually spent")
    composed_epsilon: float = Field(ge=0, description="spent + still reserved: what composition counts")
    composed_delta: float = Field(default=0.0, ge=0)
    max_epsilon_allowed: float | None = Field(default=None, description="The policies' maximum, when known")


GENESIS = "0" * 64


def default_ledger_dir() -> Path:
    """Where ledgers live unless ``--ledger`` says otherwise: the user's data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("auditor")) / "ledger"


def _entry_hash(fields: dict[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Ledger:
    """Append-only, hash-chained, file-locked JSON lines per dataset; every append is fsynced before return.

    Reading verifies the chain, so an edited or truncated-in-the-middle ledger is reported, not trusted.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_ledger_dir()

    def path_for(self, dataset_sha256: str) -> Path:
        return self.directory / f"{dataset_sha256}.jsonl"

    def _lock(self, dataset_sha256: str) -> Any:
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / f"{dataset_sha256}.lock"), timeout=60)

    def entries(self, dataset_sha256: str) -> list[LedgerEntry]:
        """Every entry, chain verified; a broken chain or malformed line is one InputError naming the line."""
        path = self.path_for(dataset_sha256)
        if not path.exists():
            return []
        entries: list[LedgerEntry] = []
        prev = GENESIS
        text = path.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            # _append creates the file with its first entry in one rename, so an empty ledger was emptied:
            # reading it as "nothing spent" would hand the dataset a fresh privacy budget.
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
                    # A torn final line from a crash mid-append (no newline: the one write never completed),
                    # so its fsync never reported success. Reservations precede training, so skipping it
                    # cannot under-report spending that happened. A complete bad line is not a crash.
                    break
                raise InputError(f"{path}:{number}: privacy ledger line is not a valid entry") from None
            if entry.prev != prev or _entry_hash(raw) != entry.hash:
                raise InputError(f"{path}:{number}: privacy ledger hash chain is broken (edited or reordered)")
            entries.append(entry)
            prev = entry.hash
        return entries

    def totals(self, dataset_sha256: str, max_epsilon_allowed: float | None = None) -> LedgerTotals:
        """Composed ε and δ: settled runs count what they spent, unsettled ones what they reserved."""
        reserved: dict[str, LedgerEntry] = {}
        spent: dict[str, LedgerEntry] = {}
        for entry in self.entries(dataset_sha256):
            (reserved if entry.kind == "reserve" else spent)[entry.run_id] = entry
        open_runs = [e for run, e in reserved.items() if run not in spent]
        eps_reserved = sum(e.epsilon for e in open_runs)
        eps_spent = sum(e.epsilon for e in spent.values())
        delta = sum(e.delta for e in open_runs) + sum(e.delta for e in spent.values())
        return LedgerTotals(dataset_sha256=dataset_sha256, runs=len(set(reserved) | set(spent)),
                            epsilon_reserved=eps_reserved, epsilon_spent=eps_spent,
                            composed_epsilon=eps_reserved + eps_spent, composed_delta=delta,
                            max_epsilon_allowed=max_epsilon_allowed)

    def reservation(self, dataset_sha256: str, run_id: str) -> LedgerEntry | None:
        """The open (unsettled) reservation of ``run_id``, if any: what ``--resume`` continues under."""
        entries = self.entries(dataset_sha256)
        if any(e.kind == "spend" and e.run_id == run_id for e in entries):
            return None
        return next((e for e in entries if e.kind == "reserve" and e.run_id == run_id), None)

    def reserve(self, *, dataset_sha256: str, run_id: str, epsilon: float, delta: float, accountant: str,
                plan_sha256: str | None, max_epsilon_allowed: float | None, bound_by: str = "") -> LedgerTotals:
        """Reserve ``epsilon`` before training, refusing if the composed total would pass the maximum.

        Check and append happen under one lock, so two runs started together cannot both fit.
        """
        with self._lock(dataset_sha256):
            totals = self.totals(dataset_sha256, max_epsilon_allowed)
            if max_epsilon_allowed is not None and totals.composed_epsilon + epsilon > max_epsilon_allowed + 1e-9:
                rule = f" (set by {bound_by})" if bound_by else ""
                raise GateFailed(
                    f"privacy ledger {self.path_for(dataset_sha256)}: this dataset has already composed "
                    f"ε={totals.composed_epsilon:.3f} over {totals.runs} run(s); another ε={epsilon:.3f} would "
                    f"reach {totals.composed_epsilon + epsilon:.3f} > the maximum ε={max_epsilon_allowed:g}"
                    f"{rule}")
            self._append(dataset_sha256, "reserve", run_id, epsilon, delta, accountant, plan_sha256)
            return self.totals(dataset_sha256, max_epsilon_allowed)

    def settle(self, *, dataset_sha256: str, run_id: str, epsilon: float, delta: float, accountant: str,
               plan_sha256: str | None, max_epsilon_allowed: float | None = None) -> LedgerTotals:
        """Record what a run actually spent (never more than it reserved, by the predictive stop)."""
        with self._lock(dataset_sha256):
            self._append(dataset_sha256, "spend", run_id, epsilon, delta, accountant, plan_sha256)
            return self.totals(dataset_sha256, max_epsilon_allowed)

    def _append(self, dataset_sha256: str, kind: str, run_id: str, epsilon: float, delta: float,
                accountant: str, plan_sha256: str | None) -> None:
        entries = self.entries(dataset_sha256)
        fields: dict[str, Any] = {
            "seq": len(entries), "kind": kind, "run_id": run_id, "dataset_sha256": dataset_sha256,
            "epsilon": epsilon, "delta": delta, "accountant": accountant, "plan_sha256": plan_sha256,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "prev": entries[-1].hash if entries else GENESIS,
        }
        fields["hash"] = _entry_hash(fields)
        line = LedgerEntry.model_validate(fields).model_dump_json() + "\n"
        path = self.path_for(dataset_sha256)
        if not path.exists():  # the first entry: file and entry appear together, never an empty ledger
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            self._sync_directory()
            return
        self._drop_torn_tail(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self._sync_directory()

    def _sync_directory(self) -> None:
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @staticmethod
    def _drop_torn_tail(path: Path) -> None:
        """Cut a partial last line left by a crash, so the next entry starts on a line of its own."""
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)
                handle.flush()
                os.fsync(handle.fileno())
