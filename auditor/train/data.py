"""The training data as the mechanism sees it: texts, labels and privacy units, split for evaluation.

Errors name the file and the record's line or row number, never its content. ``n`` (the number of privacy
units that δ resolves against) comes from the data actually loaded: records for ``unit: record``, distinct
people (normalised user ids, :mod:`auditor.units`) for ``unit: user``.

The split must not couple units: each unit's side is a keyed hash of the unit itself (its normalised user
id, or its record's normalised text), under a key drawn secretly for the run, so adding or removing one
unit moves no other unit across the split -- neighbouring datasets give neighbouring training sets -- and
nobody can tell from the public seed which side a unit fell on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from auditor.errors import GateFailed, TrainingInputError
from auditor.plan import PlanDocument
from auditor.privacy.ledger import UnitIdentity
from auditor.scan.read import user_id_at
from auditor.train.tasks.base import Chat, Task
from auditor.units import normalise_user_id, normalised_text


@dataclass(frozen=True)
class Example:
    """One record, internal to the training package (never serialised, never logged)."""

    line: int
    text: str  # every string trained on (a chat's turns joined): what the split and the ledger hash
    label: int  # the class (sequence-classification); 0 for causal-lm
    user: str | None  # normalised: the person this record belongs to, when the plan names a user id field
    chat: Chat | None = None  # causal-lm chat lists: (role, content) per turn


@dataclass(frozen=True)
class Unit:
    """One privacy unit: a person's records (``unit: user``) or a single record (``unit: record``)."""

    examples: tuple[Example, ...]

    @property
    def user(self) -> str | None:
        return self.examples[0].user


@dataclass(frozen=True)
class TrainingData:
    train: list[Unit]
    eval: list[Unit]
    records: int
    privacy_units: int
    unit: str
    users_with_multiple_records: int | None  # None without a user id field
    unreadable_lines: int = 0  # skipped as the scan skips them (its read errors)
    unreadable_first: tuple[int, ...] = ()

    @property
    def train_examples(self) -> list[Example]:
        return [e for u in self.train for e in u.examples]

    @property
    def eval_examples(self) -> list[Example]:
        return [e for u in self.eval for e in u.examples]

    @property
    def units(self) -> list[Unit]:
        return self.train + self.eval


def _rows(doc: PlanDocument) -> tuple[list[tuple[int, dict[str, Any]]], int, list[int]]:
    """The rows the scan reads, through the scan's own readers (one reader per format serves both, so they
    cannot disagree about what a file holds: gzip by content, invalid UTF-8, oversized lines, Parquet row
    groups). Lines the scan would count as read errors are skipped here too -- the gate's facts describe
    exactly the records trained on -- and counted, with the first few line numbers (no content)."""
    from auditor.errors import ScanError
    from auditor.scan.read import ReadProblem, check_readable, infer_format, make_reader

    path = doc.dataset_path
    spec = doc.plan.dataset
    try:
        fmt, compressed = infer_format(path, spec.format)
        if fmt == "text" and doc.plan.model.task != "causal-lm":
            raise TrainingInputError(f"{path}: format 'text' has no labels; training needs jsonl, csv or parquet")
        check_readable(path, fmt, compressed)
        fields = [*spec.text_fields, spec.label_field or "", spec.user_id_field or ""]
        columns = sorted({f.split(".")[0] for f in fields if f})
        rows: list[tuple[int, dict[str, Any]]] = []
        skipped, first = 0, list[int]()
        for number, row in make_reader(path, fmt, compressed, columns).rows():
            if isinstance(row, ReadProblem):
                skipped += 1
                if len(first) < 5:
                    first.append(row.line)
                continue
            rows.append((number, row))
    except ScanError as exc:
        raise TrainingInputError(exc.message) from None
    return rows, skipped, first


def _examples(doc: PlanDocument, task: Task) -> tuple[list[Example], int, list[int]]:
    plan = doc.plan
    path = doc.dataset_path
    spec = plan.dataset
    if plan.model.task == "sequence-classification" and spec.label_field is None:
        raise TrainingInputError(f"{doc.source}: dataset.label_field: training needs a label field "
                                 "(sequence classification)")
    if plan.privacy.unit == "user" and not spec.user_id_field:
        raise TrainingInputError(f"{doc.source}: dataset.user_id_field: unit 'user' needs a user id field")
    if not path.exists():
        raise TrainingInputError(f"{path}: dataset not found (dataset.path in {doc.source})")
    rows, skipped, first = _rows(doc)
    examples: list[Example] = []
    for number, row in rows:
        text, label, chat = task.record(doc, number, row)  # only strings the scan scanned
        user: str | None = None
        if spec.user_id_field:
            raw = user_id_at(row, spec.user_id_field)
            # an id that is blank once normalised names nobody: missing, as the scan counts it
            user = (normalise_user_id(raw, spec.user_id_normalisation) if raw is not None else None) or None
            if plan.privacy.unit == "user" and not user:
                raise TrainingInputError(f"{path}:{number}: no user id field '{spec.user_id_field}'")
        examples.append(Example(line=number, text=text, label=label, user=user, chat=chat))
    if not examples:
        raise TrainingInputError(f"{path}: dataset is empty: nothing to train on")
    return examples, skipped, first


def _group(doc: PlanDocument, examples: list[Example]) -> tuple[list[Unit], int | None]:
    """Privacy units, and how many people have more than one record (None without user ids)."""
    by_user: dict[str, list[Example]] = {}
    for example in examples:
        if example.user is not None:
            by_user.setdefault(example.user, []).append(example)
    repeated = sum(1 for records in by_user.values() if len(records) > 1) if doc.plan.dataset.user_id_field \
        else None
    if doc.plan.privacy.unit == "user":
        return [Unit(tuple(records)) for records in by_user.values()], repeated
    if repeated:
        # record-level DP protects a person with k records only at about k·ε (group privacy)
        raise GateFailed(
            f"{doc.source}: privacy.unit: record, but {repeated:,} of {len(by_user):,} people (by "
            f"dataset.user_id_field '{doc.plan.dataset.user_id_field}') have more than one record: each of "
            "them would be protected only at about k·ε for k records (GDPR Recital 26, Art. 4(1): data "
            "subjects are people); set privacy.unit: user")
    return [Unit((e,)) for e in examples], repeated


def split_side(key: bytes, unit: Unit, eval_fraction: float) -> bool:
    """True when the unit is held out: a keyed hash of the unit alone, so no other unit can move it."""
    if eval_fraction <= 0:
        return False
    identity = "user\0" + unit.user if unit.user is not None else "record\0" + normalised_text(unit.examples[0].text)
    digest = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), key=key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64 < eval_fraction


def load_training_data(doc: PlanDocument, split_key: bytes, task: Task | None = None) -> TrainingData:
    """Read, validate (through the task: labels, chat turns), group into privacy units and split (secretly
    keyed, unit by unit)."""
    from auditor.train.tasks import for_task

    examples, skipped, first = _examples(doc, task or for_task(doc.plan.model.task))
    units, repeated = _group(doc, examples)
    fraction = doc.plan.training.eval_fraction
    held = [split_side(split_key, u, fraction) for u in units]
    train = [u for u, h in zip(units, held, strict=True) if not h]
    held_out = [u for u, h in zip(units, held, strict=True) if h]
    if not train:
        raise TrainingInputError(f"{doc.dataset_path}: no training records left after the evaluation split "
                                 f"(training.eval_fraction {fraction})")
    return TrainingData(train=train, eval=held_out, records=len(examples), privacy_units=len(units),
                        unit=doc.plan.privacy.unit, users_with_multiple_records=repeated,
                        unreadable_lines=skipped, unreadable_first=tuple(first))


def unit_identities(data: TrainingData) -> list[UnitIdentity]:
    """Every unit loaded, held-out ones too (the ledger over-counts rather than trust a split)."""
    return [UnitIdentity(user=u.user, texts=tuple(e.text for e in u.examples)) for u in data.units]
