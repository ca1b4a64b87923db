"""``OUT.redaction.json``: what ``auditor redact`` did to which file, and what a re-scan of the result found.

It is evidence for a reviewer and for the gate, so it carries digests and counts only -- never a value read
from the dataset, never the pseudonym key (only an id derived from it), never a local path (file names only).
The chain it records is ``source sha256 -> output sha256``; the gate closes it by comparing the output's
digest with the dataset the plan trains on (:mod:`auditor.redact.chain`).
"""

# Annotations are evaluated at class creation, not postponed (as in auditor.scan.model).

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import InputError
from auditor.scan.model import EngineInfo

Mode = Literal["mask", "pseudonym", "remove"]
MODES: tuple[Mode, ...] = ("mask", "pseudonym", "remove")
#: evidence is a few kilobytes: per-entity counts for at most a few hundred types
MAX_EVIDENCE_BYTES = 4 * 1024 * 1024


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class FileInfo(_Frozen):
    file: str = Field(description="The file's name (no folder: evidence travels with the data, not the machine)")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)
    format: Literal["jsonl", "csv", "parquet", "text"]
    compressed: bool = False


class EntityCount(_Frozen):
    spans: int = Field(ge=0, description="Spans of this type")
    records: int = Field(ge=0, description="Records with at least one")


class ResidualScan(_Frozen):
    """The output scanned again, as ``auditor scan`` of the output file would count it: what is left."""

    records: int = Field(ge=0)
    records_with_personal_data: int = Field(ge=0)
    entities: dict[str, EntityCount] = Field(default_factory=dict, max_length=256)
    categories: dict[str, int] = Field(default_factory=dict, max_length=256,
                                       description="Records per legal category (scan.json's categories)")


class RedactionEvidence(_Frozen):
    """``OUT.redaction.json``, schema v1. Field names are a contract (add fields, rename none)."""

    schema_version: Literal[1] = 1
    created_at: str
    source: FileInfo
    output: FileInfo
    text_fields: list[str] = Field(description="The fields whose texts were redacted (dotted paths)")
    mode: Mode = Field(description="mask: <PERSON>; pseudonym: <PERSON_7f3a09c1>, keyed HMAC; remove: dropped")
    entities: list[str] = Field(description="The entity types replaced")
    entities_from: Literal["default", "plan", "option"] = Field(
        description="default: every direct identifier; plan: those plus the special categories the plan's "
                    "policies read; option: --entities")
    key_id: str | None = Field(default=None, description="Pseudonym mode: an id derived from the key (HMAC), "
                                                         "equal for runs with the same key; never the key")
    records: int = Field(ge=0, description="Records read and written, in the same order")
    records_changed: int = Field(ge=0)
    detected: dict[str, EntityCount] = Field(default_factory=dict, max_length=256,
                                             description="What the scan found in the source, every type")
    replaced: dict[str, EntityCount] = Field(default_factory=dict, max_length=256,
                                             description="Spans replaced (after overlapping spans are merged)")
    residual: ResidualScan
    engine: EngineInfo = Field(description="The scanner that detected and re-scanned")
    anonymizer: str | None = Field(default=None, description="presidio-anonymizer version")
    duration_s: float = Field(ge=0)
    records_per_s: float = Field(ge=0)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def evidence_path(output: Path) -> Path:
    """``OUT.redaction.json`` beside ``OUT``."""
    return output.with_name(output.name + ".redaction.json")


def read_evidence(path: Path, error: type[InputError] = InputError) -> RedactionEvidence:
    """Read ``OUT.redaction.json``; every way it can be wrong is one line naming the file (exit 2)."""
    from auditor.yamlio import describe_validation_error, read_bytes

    raw = read_bytes(path, "redaction evidence", error, max_bytes=MAX_EVIDENCE_BYTES)
    try:
        return RedactionEvidence.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise error(f"{path}: not redaction evidence: invalid JSON") from None
        raise error(describe_validation_error(exc, path, None, prefix="redaction evidence ")) from None
