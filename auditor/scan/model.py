"""The scan result: the one shape shared by ``auditor scan`` (producer) and the policy facts (consumer).

It holds aggregates only. A detected value never appears here: examples are masked before they are stored,
and read errors name a line number and a reason, never the line's content.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.units import UserIdNormalisation

#: Legal categories the scan counts (records affected). The facts always carry every one of these, with 0
#: when absent, so a policy rule never fails on a category that the dataset simply does not contain.
CATEGORIES: tuple[str, ...] = (
    "personal_data",        # any detected entity
    "direct_identifier",    # names, e-mail, phone, government IDs, account numbers ...
    "government_id",        # SSN, passport, driver's licence, CN resident ID ...
    "financial_account",    # card numbers, IBAN, bank accounts
    "contact",              # e-mail, phone, postal address
    "online_identifier",    # IP address, URL, device id
    "precise_geolocation",
    "gdpr_special",         # any GDPR Art. 9(1) category below
    "health", "biometric", "genetic", "ethnic_origin", "political_opinion", "religion", "trade_union",
    "sex_life",
    "criminal_offence",     # GDPR Art. 10
    "ccpa_spi",             # CCPA §1798.140(ae)
    "pipl_sensitive",       # PIPL Art. 28
    "hipaa_identifier",     # any of the 18 Safe Harbor identifiers
    "phi",                  # records holding health information together with a HIPAA identifier
    "minors",               # signs of people under 14 (ages, school grades)
)


def wilson_upper(hits: int, n: int, z: float = 1.96) -> float:
    """The 95% Wilson upper bound of a proportion: what a ``--sample`` scan reports per entity, and what the
    gate reads for every count of a sample scan (:meth:`auditor.facts.ScanFacts.from_scan`)."""
    if n <= 0:
        return 1.0
    p = hits / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + margin) / denom)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class DatasetInfo(_Frozen):
    path: str
    sha256: str
    format: Literal["jsonl", "csv", "parquet", "text"]
    compressed: bool = False
    bytes: int = Field(ge=0)
    text_fields: list[str]


class EntityStats(_Frozen):
    count: int = Field(ge=0, description="Detected spans")
    records: int = Field(ge=0, description="Records with at least one span")
    fields: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list, max_length=3, description="Masked, never raw")
    estimate_records: float | None = Field(default=None, description="Sample scans: estimated records in full data")
    upper95_records: float | None = Field(default=None, description="Sample scans: 95% upper bound")


class CategoryStats(_Frozen):
    records: int = Field(ge=0)
    count: int = Field(ge=0)
    entities: list[str] = Field(default_factory=list)


class ReadIssue(_Frozen):
    line: int = Field(description="1-based line (or row) number in the file")
    reason: str = Field(description="What was wrong; never the content of the line")


class SampleInfo(_Frozen):
    method: Literal["uniform"] = "uniform"
    sampled_records: int
    population_records: int
    seed: int


class EngineInfo(_Frozen):
    auditor: str
    presidio: str | None = None
    spacy: str | None = None
    spacy_model: str | None = None
    recognizers: list[str] = Field(default_factory=list)
    workers: int = 1
    engine: Literal["local", "ray"] = Field(default="local", description="Where detection ran: worker processes "
                                            "on one machine, or a Ray Data pipeline (workers: its actors)")


class UserStats(_Frozen):
    """Records per person, counted over every record read (also for a sample scan), after normalising ids.

    Ids themselves are never stored: the scan keeps 12-byte digests in memory and writes only counts. These
    counts decide whether a record-level guarantee is also a per-person one (it is only when nobody has
    more than one record).
    """

    field: str = Field(description="The plan's dataset.user_id_field (a dotted path)")
    normalisation: UserIdNormalisation = Field(description="How ids were normalised before counting")
    distinct: int = Field(ge=0, description="Distinct people (normalised ids)")
    with_multiple_records: int = Field(ge=0, description="People with more than one record")
    max_records_per_user: int = Field(ge=0, description="Most records any one person has")
    records_without_id: int = Field(default=0, ge=0, description="Records in which no id was found")


class ScanResult(_Frozen):
    schema_version: Literal[1] = 1
    dataset: DatasetInfo
    records: int = Field(ge=0, description="Records read (the whole file, even for a sample scan)")
    records_scanned: int = Field(ge=0)
    records_with_personal_data: int = Field(ge=0)
    distinct_users: int | None = Field(default=None, description="Distinct user_id_field values, when named")
    users: UserStats | None = Field(default=None, description="Records per person, when a user id field is named")
    # bounded: these become the facts every rule's CEL condition may iterate over
    languages: dict[str, int] = Field(default_factory=dict, max_length=256)
    entities: dict[str, EntityStats] = Field(default_factory=dict, max_length=256)
    categories: dict[str, CategoryStats] = Field(default_factory=dict, max_length=256)
    read_errors: list[ReadIssue] = Field(default_factory=list, description="First errors, for the report")
    read_errors_total: int = 0
    sample: SampleInfo | None = None
    engine: EngineInfo
    started_at: str
    duration_s: float = Field(ge=0)
    records_per_s: float = Field(ge=0)
    mb_per_s: float = Field(ge=0)


def read_scan(path: Path) -> ScanResult:
    """Read a saved ``scan.json``; every way it can be wrong is one line naming the file (exit 2)."""
    from auditor.errors import InputError
    from auditor.yamlio import describe_validation_error, read_text

    text = read_text(path, "scan result", InputError)
    try:
        return ScanResult.model_validate_json(text)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InputError(f"{path}: not a scan result: invalid JSON") from None
        raise InputError(describe_validation_error(exc, path, None, prefix="scan result ")) from None
