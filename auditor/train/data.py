"""The training data as the mechanism sees it: texts, labels and privacy units, split for evaluation.

Errors name the file and the record's line or row number, never its content. ``n`` (the number of privacy
units that δ ≤ 1/n resolves against) comes from the data actually loaded: records for ``unit: record``,
distinct user ids for ``unit: user``.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import TrainingInputError
from auditor.plan import PlanDocument


@dataclass(frozen=True)
class Example:
    """One record, internal to the training package (never serialised, never logged)."""

    line: int
    text: str
    label: int
    user: str | None


@dataclass(frozen=True)
class TrainingData:
    train: list[Example]
    eval: list[Example]
    records: int
    privacy_units: int
    unit: str


def _rows(path: Path, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    if fmt == "jsonl":
        rows: list[tuple[int, dict[str, Any]]] = []
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    raise TrainingInputError(f"{path}:{number}: not valid JSON") from None
                if not isinstance(value, dict):
                    raise TrainingInputError(f"{path}:{number}: expected a JSON object per line")
                rows.append((number, value))
        return rows
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [(number, dict(row)) for number, row in enumerate(csv.DictReader(handle), start=2)]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(enumerate(pq.read_table(path).to_pylist(), start=1))
    raise TrainingInputError(f"{path}: format '{fmt}' has no labels; training needs jsonl, csv or parquet")


def load_training_data(doc: PlanDocument) -> TrainingData:
    """Read, validate and split the plan's dataset (deterministic in the plan's seed)."""
    plan = doc.plan
    path = doc.dataset_path
    spec = plan.dataset
    where = f"{doc.source}: dataset.label_field"
    if spec.label_field is None:
        raise TrainingInputError(f"{where}: training needs a label field (sequence classification)")
    if plan.privacy.unit == "user" and not spec.user_id_field:
        raise TrainingInputError(f"{doc.source}: dataset.user_id_field: unit 'user' needs a user id field")
    if not path.is_file():
        raise TrainingInputError(f"{path}: dataset not found (dataset.path in {doc.source})")
    fmt = spec.format or {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}.get(path.suffix, "text")
    examples: list[Example] = []
    num_labels = plan.model.num_labels
    for number, row in _rows(path, fmt):
        if spec.label_field not in row or row[spec.label_field] in (None, ""):
            raise TrainingInputError(f"{path}:{number}: no label field '{spec.label_field}'")
        raw_label = row[spec.label_field]
        try:
            label = int(raw_label)
            if isinstance(raw_label, float) and raw_label != label:
                raise ValueError
        except (TypeError, ValueError):
            raise TrainingInputError(f"{path}:{number}: label field '{spec.label_field}' is not an integer"
                                     ) from None
        if not 0 <= label < num_labels:
            raise TrainingInputError(f"{path}:{number}: label {label} outside 0..{num_labels - 1} "
                                     f"(model.num_labels is {num_labels})")
        parts = []
        for field in spec.text_fields:
            value = row.get(field)
            if value is not None:
                parts.append(str(value))
        user: str | None = None
        if spec.user_id_field:
            value = row.get(spec.user_id_field)
            if plan.privacy.unit == "user" and value in (None, ""):
                raise TrainingInputError(f"{path}:{number}: no user id field '{spec.user_id_field}'")
            user = None if value is None else str(value)
        examples.append(Example(line=number, text=" ".join(parts), label=label, user=user))
    if not examples:
        raise TrainingInputError(f"{path}: dataset is empty: nothing to train on")

    rng = random.Random(plan.training.seed)
    if plan.privacy.unit == "user":
        # One privacy unit = one person. Each person contributes exactly one record per run (chosen with the
        # seed, independently of everyone else), so adding or removing a person changes one training example:
        # record-level sampling and clipping on this set are user-level sampling and clipping.
        by_user: dict[str, list[Example]] = {}
        for example in examples:
            by_user.setdefault(example.user or "", []).append(example)
        users = sorted(by_user)
        rng.shuffle(users)
        n_eval = int(len(users) * plan.training.eval_fraction)
        eval_users, train_users = users[:n_eval], users[n_eval:]
        train = [rng.choice(by_user[u]) for u in train_users]
        held_out = [e for u in eval_users for e in by_user[u]]
        units = len(users)
    else:
        order = list(range(len(examples)))
        rng.shuffle(order)
        n_eval = int(len(examples) * plan.training.eval_fraction)
        held_out = [examples[i] for i in order[:n_eval]]
        train = [examples[i] for i in order[n_eval:]]
        units = len(examples)
    if not train:
        raise TrainingInputError(f"{path}: no training records left after the evaluation split "
                                 f"(training.eval_fraction {plan.training.eval_fraction})")
    return TrainingData(train=train, eval=held_out, records=len(examples), privacy_units=units,
                        unit=plan.privacy.unit)
