"""The privacy ledger: every run that ever held a person (or record), whatever file they came in.

NIST SP 800-226 asks that composition be accounted across every training run on the same data, and "the
same data" means the same people: a re-exported file, a trailing blank line, a reordered copy or the same
tickets as Parquet must not be a fresh budget. So the ledger is keyed on privacy units, not files:

* every unit becomes salted 64-bit keys -- its person (the normalised user id, when the plan names one) and
  the normalised text of each of its records -- under a 256-bit salt that lives beside the ledger (0600);
  the ledger holds no id and no text, only these keys (``units/RUN.npz``, its sha256 in the chain);
* a run *reserves* its ε, δ and mechanism (σ, q, planned steps) before the first step and *settles* the
  steps it took; a run that dies leaves its reservation standing, so the ledger can only over-report;
* each unit of a new run carries every earlier run that holds its person -- or, where the ids differ (a
  re-pseudonymised export), any of its records' texts -- ``m`` times when it matches ``m`` of that run's
  units; :mod:`auditor.privacy.composition` composes each unit's history (accountants for ``m = 1``, group
  privacy otherwise) at the policies' δ, and the run is allowed when the worst unit stays within their ε.
  Matching texts is conservative: two people who both wrote "thanks" are charged as one.

The chain detects accidental damage and casual edits: a changed, reordered, emptied, truncated or deleted
ledger is refused (unit files without entries give truncation and deletion away). Someone with write access
who rewrites the whole chain consistently is caught only against a head recorded earlier: every signed
report carries the ledger's entry count and head hash. The folder is as sensitive as a membership list --
with the salt, anyone can test whether a given id was trained on -- so it is created 0700.

Keys are truncated to 64 bits: a collision can only merge two units, which over-counts. Cost for a million
units (one record each), measured on 2 cores: 1.9 s of hashing, 24 MB on disk per run, a reservation in
~4 s against one earlier run of them (one sort-and-search per earlier run, one accountant call per distinct
history). Legacy per-file ledgers (``SHA256.jsonl``
from auditor 0.1) still count, for every unit, when the dataset's digest matches.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from auditor.errors import GateFailed, InputError
from auditor.privacy.accounting import Accountant
from auditor.privacy.composition import Charge, Mechanism, largest_fitting_epsilon, worst_unit
from auditor.privacy.ledger_store import (
    Keys,
    LedgerEntry,
    append_entry,
    load_keys,
    os_error,
    read_chain,
    read_salt,
    save_keys,
)
from auditor.units import normalised_text

LEDGER_FILE = "ledger.jsonl"
SALT_FILE = "salt"
UNITS_DIR = "units"

__all__ = ["Ledger", "LedgerEntry", "LedgerTotals", "PlannedRun", "UnitIdentity", "default_ledger_dir"]


class LedgerTotals(BaseModel):
    """What the worst-off unit of one dataset has composed over every run that held it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset_sha256: str
    units: int = Field(ge=0, description="Privacy units in this dataset")
    units_in_earlier_runs: int = Field(default=0, ge=0, description="Of them, units that runs in the ledger hold "
                                                                   "(a run about to start not counted)")
    runs: int = Field(ge=0, description="Runs that held at least one of these units")
    composed_epsilon: float | None = Field(ge=0, description="Worst unit: ε of its whole history, composed at "
                                                             "composed_delta (what is enforced); null when no "
                                                             "finite ε holds at that δ (group privacy over units "
                                                             "matched more than once): unbounded")
    composed_delta: float = Field(default=0.0, ge=0, description="The δ the composition is stated at")
    epsilon_spent: float = Field(ge=0, description="Worst unit: the plain sum of its settled runs' own ε")
    epsilon_reserved: float = Field(ge=0, description="Worst unit: the plain sum of its open reservations' ε")
    max_epsilon_allowed: float | None = None
    ledger_default: bool = Field(default=True, description="Checked against the user's own ledger, not a "
                                                           "separate one given with --ledger")
    ledger_entries: int = Field(default=0, ge=0, description="Entries in the ledger when it was read")
    ledger_head: str = Field(default="", description="Hash of its last entry: a later ledger must extend it")


@dataclass(frozen=True)
class UnitIdentity:
    """One privacy unit as the ledger needs it (in memory only): its person and its records' texts."""

    user: str | None
    texts: tuple[str, ...]


@dataclass(frozen=True)
class PlannedRun:
    """A run about to start (or resume): its own ε and δ and the mechanism that gives them."""

    epsilon: float
    delta: float
    noise_multiplier: float
    sample_rate: float
    steps: int

    @property
    def mechanism(self) -> Mechanism:
        return Mechanism(self.noise_multiplier, self.sample_rate, self.steps)


def default_ledger_dir() -> Path:
    """Where ledgers live unless ``--ledger`` says otherwise: the user's data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("auditor")) / "ledger"


class Ledger:
    """Append-only, hash-chained, file-locked JSON lines plus per-run unit keys; appends are durable."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_ledger_dir()
        self.path = self.directory / LEDGER_FILE

    @property
    def is_default(self) -> bool:
        """The user's own ledger: a report composed against another one says so (``--ledger`` is for tests)."""
        try:
            return self.directory.resolve() == default_ledger_dir().resolve()
        except OSError:
            return False

    def entries(self) -> list[LedgerEntry]:
        """The chain, verified; and the ledger's files must agree with it: unit files of runs the chain does
        not hold mean lines were cut off (or the whole file deleted), which would forget what they spent."""
        committed = {p.stem for p in (self.directory / UNITS_DIR).glob("*.npz")} \
            if (self.directory / UNITS_DIR).is_dir() else set()
        if not self.path.exists():
            if committed:
                raise InputError(f"{self.path}: missing, but {len(committed)} run(s) of unit keys are beside it: the "
                                 "ledger was deleted or moved; restore it from a backup -- without it every ε "
                                 "spent is forgotten")
            return []
        entries = read_chain(self.path)
        orphans = committed - {e.run_id for e in entries if e.kind == "reserve"}
        if orphans:
            raise InputError(f"{self.path}: {len(orphans)} run(s) in {self.directory / UNITS_DIR} have no entry in "
                             "the ledger: lines were removed; restore it from a backup")
        return entries

    def reservation(self, run_id: str) -> LedgerEntry | None:
        """The open (unsettled) reservation of ``run_id``: what ``--resume`` continues under."""
        entries = self.entries()
        if any(e.kind == "spend" and e.run_id == run_id for e in entries):
            return None
        return next((e for e in entries if e.kind == "reserve" and e.run_id == run_id), None)

    def totals(self, units: Sequence[UnitIdentity], dataset_sha256: str, *, exclude_run: str | None = None,
               planned: PlannedRun | None = None, max_epsilon_allowed: float | None = None,
               delta: float | None = None, accountant: Accountant = "prv") -> LedgerTotals:
        """The worst-off unit among ``units``, over every run in the ledger (and ``planned``, if given),
        stated at ``delta`` (the run's own δ; None: each history at its runs' own δ)."""
        return self._totals(self._keys(units, create_salt=False), dataset_sha256, exclude_run, planned,
                            max_epsilon_allowed, delta, accountant)[0]

    def check(self, units: Sequence[UnitIdentity], dataset_sha256: str, planned: PlannedRun, *,
              max_epsilon_allowed: float | None, delta: float | None, accountant: Accountant,
              exclude_run: str | None = None, bound_by: str = "") -> LedgerTotals:
        """Refuse (GateFailed, exit 1) when ``planned`` would take the worst unit past the maximum ε; the
        message says how much ε a run could still have and how to proceed. Returns the totals with it."""
        keys = self._keys(units, create_salt=False)
        return self._check(keys, dataset_sha256, planned, max_epsilon_allowed, delta, accountant,
                           exclude_run, bound_by)

    def reserve(self, units: Sequence[UnitIdentity], *, dataset_sha256: str, run_id: str, unit: str,
                planned: PlannedRun, accountant: Accountant, plan_sha256: str | None,
                max_epsilon_allowed: float | None, delta: float | None, bound_by: str = "") -> LedgerTotals:
        """Reserve before training; check and append happen under one lock, so two runs started together
        cannot both fit."""
        with self._lock():
            keys = self._keys(units, create_salt=True)
            after = self._check(keys, dataset_sha256, planned, max_epsilon_allowed, delta,
                                accountant, None, bound_by)
            # the keys are written aside, the entry appended, then the keys renamed into place: unit files
            # without an entry can then only mean lines were cut off the ledger
            final = self.directory / UNITS_DIR / f"{run_id}.npz"
            pending = final.with_name(f".{run_id}.pending")
            digest = save_keys(pending, keys)
            append_entry(self.path, self.entries(), {
                "kind": "reserve", "run_id": run_id, "dataset_sha256": dataset_sha256,
                "epsilon": planned.epsilon, "delta": planned.delta, "accountant": accountant,
                "plan_sha256": plan_sha256, "unit": unit, "units": keys.count, "units_sha256": digest,
                "salt_id": self._salt_id(), "noise_multiplier": planned.noise_multiplier,
                "sample_rate": planned.sample_rate, "steps": planned.steps}, _now())
            try:
                os.replace(pending, final)
            except OSError as exc:
                raise os_error(final, exc) from None
            return after

    def settle(self, *, run_id: str, dataset_sha256: str, epsilon: float, delta: float, steps: int,
               accountant: str, plan_sha256: str | None) -> None:
        """Record what a run actually spent (never more than it reserved, by the predictive stop)."""
        with self._lock():
            append_entry(self.path, self.entries(), {
                "kind": "spend", "run_id": run_id, "dataset_sha256": dataset_sha256, "epsilon": epsilon,
                "delta": delta, "accountant": accountant, "plan_sha256": plan_sha256, "steps": steps}, _now())

    # -- internals ------------------------------------------------------------------------------------

    def _check(self, keys: Keys, dataset_sha256: str, planned: PlannedRun, max_epsilon: float | None,
               max_delta: float | None, accountant: Accountant, exclude_run: str | None,
               bound_by: str) -> LedgerTotals:
        after, matches, charges = self._totals(keys, dataset_sha256, exclude_run, planned, max_epsilon,
                                               max_delta, accountant)
        if max_epsilon is None or (after.composed_epsilon is not None
                                   and after.composed_epsilon <= max_epsilon + 1e-9):
            return after
        before = self._totals(keys, dataset_sha256, exclude_run, None, max_epsilon, max_delta, accountant)[0]
        rule = f" (set by {bound_by})" if bound_by else ""
        left = largest_fitting_epsilon(matches, charges, after.composed_delta, accountant, planned.mechanism,
                                       max_epsilon)
        hint = (f"to proceed: train on other people, or lower privacy.target_epsilon to at most {left:.3f} "
                "(same epochs and batch)" if left >= 0.01 else
                "their budget is spent: no further run on these people fits these policies; train on others")
        history = (f"{before.units_in_earlier_runs:,} of this run's {before.units:,} privacy units were in "
                   f"{before.runs} earlier run(s) and have composed ε={_eps(before.composed_epsilon)}; "
                   if before.runs else "")
        raise GateFailed(
            f"privacy ledger {self.path}: {history}this run (ε={planned.epsilon:.3f}) would take them to "
            f"ε={_eps(after.composed_epsilon)} at δ={after.composed_delta:.3g}, past the maximum "
            f"ε={max_epsilon:g}{rule}; {hint} (--ledger DIR starts a separate ledger: for tests only, it "
            "forgets what was spent)")

    def _totals(self, keys: Keys, dataset_sha256: str, exclude_run: str | None, planned: PlannedRun | None,
                max_epsilon: float | None, max_delta: float | None,
                accountant: Accountant) -> tuple[LedgerTotals, Any, list[Charge]]:
        import numpy as np

        entries = self.entries()
        runs = self._runs(entries, dataset_sha256, exclude_run)
        rows = [self._matches(keys, booked, dataset_sha256) for booked, _ in runs]
        matches = np.array(rows, dtype=np.float64).reshape(len(rows), keys.count)
        charges = [_charge(booked, final) for booked, final in runs]
        worst = worst_unit(matches, charges, max_delta, accountant, planned.mechanism if planned else None,
                           planned.delta if planned else 0.0)
        return LedgerTotals(
            dataset_sha256=dataset_sha256, units=keys.count, units_in_earlier_runs=worst.units_touched,
            runs=worst.runs_touched + (1 if planned else 0),
            composed_epsilon=worst.epsilon if math.isfinite(worst.epsilon) else None,
            composed_delta=worst.delta, epsilon_spent=worst.spent,
            epsilon_reserved=worst.reserved + (planned.epsilon if planned else 0.0),
            max_epsilon_allowed=max_epsilon, ledger_default=self.is_default, ledger_entries=len(entries),
            ledger_head=entries[-1].hash if entries else ""), matches, charges

    def _runs(self, entries: list[LedgerEntry], dataset_sha256: str,
              exclude_run: str | None) -> list[tuple[LedgerEntry, LedgerEntry | None]]:
        """Each run's reservation and, once settled, its settlement (legacy per-file runs included)."""
        legacy = self.directory / f"{dataset_sha256}.jsonl"
        entries = entries + (read_chain(legacy) if legacy.is_file() else [])
        booked = {e.run_id: e for e in entries if e.kind == "reserve" and e.run_id != exclude_run}
        final = {e.run_id: e for e in entries if e.kind == "spend"}
        return [(entry, final.get(run)) for run, entry in booked.items()]

    def _matches(self, keys: Keys, booked: LedgerEntry, dataset_sha256: str) -> Any:
        import numpy as np

        if booked.units_sha256 is None:  # a legacy per-file entry: every unit of that very file
            return np.full(keys.count, 1.0 if booked.dataset_sha256 == dataset_sha256 else 0.0)
        if booked.salt_id != self._salt_id():
            raise InputError(f"{self.path}: entry {booked.seq} was made under another salt than "
                             f"{self.directory / SALT_FILE}; restore the ledger's own salt")
        final = self.directory / UNITS_DIR / f"{booked.run_id}.npz"
        pending = final.with_name(f".{booked.run_id}.pending")  # a crash between the entry and the rename
        old = load_keys(final if final.exists() or not pending.exists() else pending, booked.units_sha256,
                        int(booked.units or 0))
        return _multiplicity(keys, old)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One writer at a time; a lock that cannot be taken (read-only folder, a run holding it for a
        minute) refuses the run rather than let it train unrecorded."""
        from filelock import FileLock, Timeout

        path = self.directory / "ledger.lock"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock = FileLock(str(path), timeout=60)
            lock.acquire()
        except OSError as exc:
            raise os_error(path, exc) from None
        except Timeout:
            raise InputError(f"{path}: another auditor run has held the privacy ledger for 60 s; try again when "
                             "it has finished") from None
        try:
            yield
        finally:
            lock.release()

    def _salt_id(self) -> str | None:
        salt = read_salt(self.directory / SALT_FILE, self.path.exists(), create=False)
        return hashlib.sha256(salt).hexdigest()[:16] if salt is not None else None

    def _keys(self, units: Sequence[UnitIdentity], create_salt: bool) -> Keys:
        import numpy as np

        # no salt and no ledger: nothing to compare against, and nothing is written with these keys
        salt = read_salt(self.directory / SALT_FILE, self.path.exists(), create_salt) or bytes(32)

        def key(kind: str, value: str) -> int:
            data = (kind + "\0" + value).encode("utf-8", "surrogatepass")
            return int.from_bytes(hashlib.blake2b(data, key=salt, digest_size=8).digest(), "little")

        has_users = bool(units) and all(u.user is not None for u in units)
        users = np.array([key("user", cast(str, u.user)) for u in units], dtype=np.uint64) if has_users else None
        records = np.array([key("record", normalised_text(t)) for u in units for t in u.texts], dtype=np.uint64)
        owner = np.array([i for i, u in enumerate(units) for _ in u.texts], dtype=np.int64)
        return Keys(users=users, records=records, record_unit=owner, count=len(units))


def _eps(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "unbounded (no finite ε at this δ)"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _charge(booked: LedgerEntry, final: LedgerEntry | None) -> Charge:
    """Settled runs count the steps they took; open ones their whole plan (the ledger over-reports)."""
    steps = final.steps if final is not None and final.steps is not None else booked.steps
    mechanism = None
    if booked.noise_multiplier is not None and booked.sample_rate is not None and steps is not None:
        mechanism = Mechanism(booked.noise_multiplier, booked.sample_rate, steps)
    source = final if final is not None else booked
    return Charge(epsilon=source.epsilon, delta=source.delta, mechanism=mechanism, settled=final is not None)


def _multiplicity(new: Keys, old: Keys) -> Any:
    """How many of ``old``'s units each unit of ``new`` matches: by person where both name people, else by
    the unit's record texts found among ``old``'s records."""
    import numpy as np

    by_user = np.zeros(new.count, dtype=np.int64)
    if new.users is not None and old.users is not None and len(old.users):
        values, counts = np.unique(old.users, return_counts=True)
        pos = np.minimum(np.searchsorted(values, new.users), len(values) - 1)
        by_user = np.where(values[pos] == new.users, counts[pos], 0)
    hits = np.isin(new.records, old.records)
    by_text = np.bincount(new.record_unit[hits], minlength=new.count)[: new.count]
    return np.where(by_user > 0, by_user, by_text).astype(np.float64)
