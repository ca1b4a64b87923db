"""The scan's public API: what ``auditor scan``, ``auditor audit`` and ``auditor check --scan`` call.

This module stays light: presidio, spaCy and Hyperscan are imported inside the scan itself, so
``load_scan`` (used by ``auditor check --scan``) costs only pydantic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditor.errors import ScanError
from auditor.fsutil import atomic_write
from auditor.plan import PlanDocument
from auditor.scan.model import ScanResult, read_scan
from auditor.units import UserIdNormalisation


def scan_dataset(path: Path, *, text_fields: Sequence[str], format: str | None = None,
                 user_id_field: str | None = None, user_id_normalisation: UserIdNormalisation = "casefold",
                 workers: int | None = None, sample: int | None = None, findings_path: Path | None = None,
                 progress: bool = True, seed: int = 0, engine: str = "local",
                 ray_address: str | None = None) -> ScanResult:
    """Scan one dataset file. Bad input raises :class:`ScanError` (exit 2) naming the file and field/line.

    ``engine``: ``local`` (worker processes here) or ``ray`` (a Ray Data pipeline; ``ray_address`` joins a
    running cluster, else a local Ray instance is started): the same scan.json either way."""
    from auditor.scan.scanner import ScanOptions, run_scan

    options = ScanOptions(path=Path(path), text_fields=tuple(text_fields), format=format,
                          user_id_field=user_id_field, user_id_normalisation=user_id_normalisation,
                          workers=workers, sample=sample,
                          findings_path=Path(findings_path) if findings_path else None, progress=progress,
                          seed=seed, engine=engine, ray_address=ray_address)
    return run_scan(options)


def scan_plan_dataset(doc: PlanDocument, **kwargs: Any) -> ScanResult:
    """Scan the dataset a plan names, with the plan's format, text fields and user id field.

    Keyword arguments override the plan (``workers``, ``sample``, ``findings_path``, ``progress``, ...).
    """
    spec = doc.plan.dataset
    options: dict[str, Any] = {"text_fields": list(spec.text_fields), "format": spec.format,
                               "user_id_field": spec.user_id_field,
                               "user_id_normalisation": spec.user_id_normalisation}
    options.update(kwargs)
    return scan_dataset(doc.dataset_path, **options)


def save_scan(result: ScanResult, path: Path) -> None:
    atomic_write(Path(path), result.model_dump_json(indent=2) + "\n")


def load_scan(path: Path) -> ScanResult:
    """Read a saved scan.json; a missing or invalid file is one :class:`InputError` line (exit 2).

    Delegates to :func:`auditor.scan.model.read_scan` so ``auditor check --scan`` and library callers
    report a bad file the same way.
    """
    return read_scan(Path(path))


__all__ = ["ScanError", "load_scan", "save_scan", "scan_dataset", "scan_plan_dataset"]
