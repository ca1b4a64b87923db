"""The evidence bundle: one typed value holding everything a report says, written as ``evidence.json``.

Reports are *views* of this bundle; nothing is rendered that is not in it, so ``auditor report`` can
re-render and re-sign a folder years later from the saved file alone. It carries aggregates, digests and
metrics only -- the scan's masked examples are the closest it comes to dataset content.
"""

from __future__ import annotations

import json
import math
import platform
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor import __version__
from auditor.errors import InputError
from auditor.findings import GateResult
from auditor.fsutil import atomic_write, sha256_file
from auditor.leakage.model import LeakageReport
from auditor.plan import PlanDocument, TrainingPlan
from auditor.privacy.ledger import LedgerTotals
from auditor.scan.model import ScanResult
from auditor.train.evidence import TrainingEvidence

EVIDENCE_NAME = "evidence.json"
TrainingStatus = Literal["completed", "refused", "skipped", "failed"]

#: Libraries whose versions change what a report says (detection, accounting, rendering, signing).
_TRACKED = ("pydantic", "jinja2", "cryptography", "rfc8785", "weasyprint", "presidio-analyzer", "spacy",
            "torch", "transformers", "opacus", "dp-accounting", "common-expression-language")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanEvidence(_Frozen):
    """The plan as declared: the validated content plus the exact bytes' digest and text."""

    file: str = Field(description="File name of the plan, as given (no absolute paths)")
    sha256: str
    text: str
    content: TrainingPlan
    lines: dict[str, int] = Field(default_factory=dict, description="Plan field (dotted, e.g. "
                                  "'legal.gdpr.lawful_basis') → its line in the text, for 'plan line' pointers")


class WaiversEvidence(_Frozen):
    file: str
    sha256: str


class TrainingOutcome(_Frozen):
    """Whether the fine-tune ran, and if not, why (a refused run is still a reported fact)."""

    status: TrainingStatus
    reason: str = ""


class Artifact(_Frozen):
    """A file the run produced besides the reports (model weights, training.json), relative to the bundle."""

    path: str
    sha256: str
    bytes: int = Field(ge=0)
    role: str = Field(description="e.g. model-weights, training-evidence, scan")


class ToolInfo(_Frozen):
    auditor: str
    python: str
    platform: str
    libraries: dict[str, str] = Field(default_factory=dict)


class EvidenceBundle(_Frozen):
    """``evidence.json``, schema v1. Field names are a contract with whoever archives these files."""

    schema_version: Literal[1] = 1
    report_id: str
    created_at: str
    tool: ToolInfo
    plan: PlanEvidence
    dataset_sha256: str | None = Field(default=None, description="From the scan or the training run")
    waivers: WaiversEvidence | None = None
    scan: ScanResult | None = None
    gate: GateResult
    delta_resolved: float | None = Field(default=None, description="δ bound for n privacy units, when known")
    training_outcome: TrainingOutcome
    training: TrainingEvidence | None = None
    leakage: LeakageReport | None = Field(default=None, description="The leakage audit of the trained model "
                                                                    "(leakage.json), when one ran")
    ledger: LedgerTotals | None = None
    artifacts: list[Artifact] = Field(default_factory=list)
    timestamps: dict[str, str] = Field(default_factory=dict, description="Stage name → ISO 8601 UTC")

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def tool_info() -> ToolInfo:
    """Versions of what ran: a report that cannot say which detector and accountant produced it is weak."""
    libraries: dict[str, str] = {}
    for name in _TRACKED:
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return ToolInfo(auditor=__version__, python=platform.python_version(),
                    platform=f"{platform.system()} {platform.machine()}", libraries=libraries)


def artifact(root: Path, path: Path, role: str) -> Artifact:
    """Describe a produced file by its path relative to the bundle folder and its digest."""
    rel = Path(path).resolve().relative_to(Path(root).resolve())
    return Artifact(path=rel.as_posix(), sha256=sha256_file(path), bytes=Path(path).stat().st_size, role=role)


def build_evidence(doc: PlanDocument, gate: GateResult, *, scan: ScanResult | None = None,
                   training: TrainingEvidence | None = None, training_outcome: TrainingOutcome,
                   leakage: LeakageReport | None = None, ledger: LedgerTotals | None = None,
                   waivers: Path | None = None, artifacts: list[Artifact] | None = None,
                   timestamps: dict[str, str] | None = None, report_id: str | None = None,
                   created_at: str | None = None) -> EvidenceBundle:
    """Assemble the bundle from the stages' values; the only place that decides what evidence holds."""
    dataset_sha = (scan.dataset.sha256 if scan else None) or (training.dataset_sha256 if training else None)
    units = gate.privacy_units or (training.privacy_units if training else None) or (scan.records if scan else None)
    delta = training.delta if training and training.delta is not None else (
        gate.privacy_requirements.delta_for(units) if units else gate.privacy_requirements.max_delta)
    waiver_evidence = None
    if waivers is not None:
        waiver_evidence = WaiversEvidence(file=Path(waivers).name, sha256=sha256_file(waivers))
    return EvidenceBundle(
        report_id=report_id or str(uuid.uuid4()),
        created_at=created_at or now_utc(),
        tool=tool_info(),
        plan=PlanEvidence(file=doc.source.name, sha256=doc.sha256, text=doc.text, content=doc.plan,
                          lines={".".join(str(p) for p in key): line for key, line in doc.lines.items()}),
        dataset_sha256=dataset_sha,
        waivers=waiver_evidence,
        scan=scan,
        gate=gate,
        delta_resolved=delta,
        training_outcome=training_outcome,
        training=training,
        leakage=leakage,
        ledger=ledger,
        artifacts=list(artifacts or []),
        timestamps=dict(timestamps or {}),
    )


def write_evidence(bundle: EvidenceBundle, out_dir: Path) -> Path:
    path = Path(out_dir) / EVIDENCE_NAME
    atomic_write(path, bundle.to_json())
    return path


#: evidence.json embeds the plan, scan and training evidence: megabytes at most, never this.
MAX_EVIDENCE_BYTES = 64 * 1024 * 1024


#: The deepest evidence.json auditor writes is about a dozen levels; free-form fields (a finding's facts)
#: must not smuggle in a structure that rendering would recurse through.
MAX_EVIDENCE_DEPTH = 48


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_EVIDENCE_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class _NotFinite(ValueError):
    pass


def _not_finite(token: str) -> float:
    raise _NotFinite(token)


def _finite(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _NotFinite(token[:20])
    return value


def load_evidence(path: Path) -> EvidenceBundle:
    """Read ``evidence.json`` (or a folder holding one); errors name the file and the field path."""
    from auditor.yamlio import read_bytes

    path = Path(path)
    if path.is_dir():
        path = path / EVIDENCE_NAME
    if not path.exists():
        raise InputError(f"{path}: evidence file not found (expected {EVIDENCE_NAME} from 'auditor audit')")
    data = read_bytes(path, "evidence file", max_bytes=MAX_EVIDENCE_BYTES)
    try:
        # Infinity, NaN and 1e400 are refused here: no number the report draws may be non-finite
        raw: Any = json.loads(data.decode("utf-8"), parse_constant=_not_finite, parse_float=_finite)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"{path}{f':{line}' if line else ''}: not valid JSON") from None
    except RecursionError:
        raise InputError(f"{path}: not an evidence file: JSON nested too deeply") from None
    except _NotFinite as exc:
        raise InputError(f"{path}: a number is not finite ({exc}); evidence holds finite numbers only") from None
    if _depth(raw) > MAX_EVIDENCE_DEPTH:
        raise InputError(f"{path}: not an evidence file: nested more than {MAX_EVIDENCE_DEPTH} levels deep")
    try:
        return EvidenceBundle.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"{path}: field {where}: {first['msg']}{extra}") from None


def evidence_schema() -> dict[str, Any]:
    """The JSON Schema of ``evidence.json`` (``auditor report --schema``).

    Generated rather than committed: the bundle embeds the plan, scan and training models, which their
    owners extend additively, and a generated schema can never fall behind them.
    """
    schema = EvidenceBundle.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://auditor.dev/schemas/evidence-v1.json"
    return schema


def evidence_schema_text() -> str:
    return json.dumps(evidence_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
