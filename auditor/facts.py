"""What policy rules see: the plan's derived values plus the scan's aggregates, as one frozen object.

Facts that only a scan can provide (record counts, categories, entities) are *absent* without a scan rather
than zero: a rule that needs them then reports "needs a scan" instead of passing silently.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

import math
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from auditor.adequacy import EEA_CODES
from auditor.facts_legal import legal_facts
from auditor.leakage.facts import LeakageFacts
from auditor.plan import TrainingPlan
from auditor.scan.model import CATEGORIES, ScanResult, wilson_upper

#: The facts that exist only when a scan is given. A missing one of these means "needs a scan".
SCAN_FACTS = frozenset({"records", "records_with_personal_data", "n", "categories", "entities", "languages",
                        "distinct_users", "users_with_multiple_records", "max_records_per_user", "scan_sampled",
                        "redaction_accepted"})


def _is_eea(region: str) -> bool:
    return region.split("-")[0] in EEA_CODES


def _user_counts(scan: ScanResult) -> dict[str, int]:
    """Records-per-person facts; absent for a scan without user ids (or one written before they existed),
    so a rule that needs them says so instead of passing."""
    if scan.users is None:
        return {}
    return {"users_with_multiple_records": scan.users.with_multiple_records,
            "max_records_per_user": scan.users.max_records_per_user}


class ScanFacts(BaseModel):
    """The scan aggregates a rule can use; built from a :class:`ScanResult` or, in policy tests, by hand."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    records: int = Field(default=0, ge=0)
    records_with_personal_data: int = Field(default=0, ge=0)
    distinct_users: int | None = Field(default=None, ge=0)
    users_with_multiple_records: int | None = Field(
        default=None, ge=0, description="People with more than one record (scan with a user id field)")
    max_records_per_user: int | None = Field(default=None, ge=0, description="Most records of one person")
    categories: dict[str, int] = Field(default_factory=dict)
    entities: dict[str, int] = Field(default_factory=dict)
    languages: dict[str, int] = Field(default_factory=dict)
    sampled_records: int | None = Field(default=None, ge=0, description="Set for a sample scan: records scanned")

    @property
    def sampled(self) -> bool:
        """The counts are 95% upper bounds extrapolated from a sample, not counts of the whole dataset."""
        return self.sampled_records is not None

    @classmethod
    def from_scan(cls, scan: ScanResult) -> Self:
        """The scan's counts; for a sample scan, their 95% upper bounds over the whole dataset.

        A sample's raw hit counts describe a few records, yet ``records`` is the whole file, so a sample
        with no hits would read as "no personal data" and switch DP and special-category rules off. The
        conservative bound keeps a sample from ever being more permissive than its uncertainty allows:
        even zero hits in a sample bound a category above zero, and only a full scan can show it is absent.
        """
        if scan.sample is not None:
            return cls._from_sample(scan)
        return cls(
            records=scan.records,
            records_with_personal_data=scan.records_with_personal_data,
            distinct_users=scan.distinct_users,
            **_user_counts(scan),
            categories={name: stats.records for name, stats in scan.categories.items()},
            entities={name: stats.records for name, stats in scan.entities.items()},
            languages=dict(scan.languages),
        )

    @classmethod
    def _from_sample(cls, scan: ScanResult) -> Self:
        assert scan.sample is not None
        n = scan.records_scanned or scan.sample.sampled_records
        population = max(scan.sample.population_records, scan.records)

        def bound(hits: int) -> int:
            return min(population, math.ceil(wilson_upper(hits, n) * population))

        entities = {}
        for name, stats in scan.entities.items():
            upper = stats.upper95_records
            entities[name] = min(population, math.ceil(upper)) if upper is not None else bound(stats.records)
        categories = {name: bound(scan.categories[name].records if name in scan.categories else 0)
                      for name in (*CATEGORIES, *(k for k in scan.categories if k not in CATEGORIES))}
        return cls(
            records=scan.records,
            records_with_personal_data=max(bound(scan.records_with_personal_data), categories["personal_data"]),
            distinct_users=scan.distinct_users,
            **_user_counts(scan),  # counted over every record read, not the sample: exact, no bound needed
            categories=categories,
            entities=entities,
            languages={name: bound(count) for name, count in scan.languages.items()},
            sampled_records=n,
        )


# --- redaction evidence (auditor redact, dataset.redaction_evidence) -----------------------------------------

#: Categories whose presence in a scan contradicts "the identifiers were redacted" (as the confirming rules read).
REDACTED_CATEGORIES = ("direct_identifier", "government_id", "financial_account")


class RedactionFacts(BaseModel):
    """``facts.redaction``: what the plan's redaction evidence shows, once the gate has checked its chain.

    ``verified`` means the evidence is of this very dataset (its output sha256 is the dataset's), covers every
    text field the plan trains on, and -- where a full scan of the same file by the same scanner is given --
    agrees with that scan. The counts come from the evidence. Without evidence every field keeps its empty
    default, so a rule can read ``facts.redaction.verified`` whatever the plan says.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    evidence: bool = Field(default=False, description="The plan names redaction evidence")
    verified: bool = False
    problem: str = Field(default="", description="Why it is not verified, in words (never a value)")
    file: str = Field(default="", description="The evidence file's name")
    mode: str = ""
    entities: list[str] = Field(default_factory=list, description="The entity types the redaction replaced")
    source_sha256: str = ""
    output_sha256: str = ""
    dataset_sha256: str = Field(default="", description="The dataset's sha256 the output was compared with")
    replaced: dict[str, int] = Field(default_factory=dict, description="Spans replaced per entity type")
    residual: dict[str, int] = Field(default_factory=dict,
                                     description="Records per entity type the re-scan of the output still finds")
    residual_direct_identifier: int = Field(default=0, ge=0,
                                            description="Records with direct identifiers in the re-scan")


def redaction_accepted(declared: bool, redaction: RedactionFacts, scan: ScanFacts | None) -> bool | None:
    """Whether ``measures.redaction: true`` counts: only when the evidence verifies, or when the scan itself
    finds no identifiers (a full scan; a sample's upper bounds never reach zero). ``None``: not decidable
    without a scan -- rules reading ``facts.redaction_accepted`` then need one."""
    if not declared:
        return False
    if redaction.verified:
        return True
    if scan is None:
        return None
    return all(scan.categories.get(name, 0) == 0 for name in REDACTED_CATEGORIES)

# --- end of redaction evidence -------------------------------------------------------------------------------


class Facts(BaseModel):
    """Everything a rule's CEL expression can read under ``facts``."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    scan_available: bool
    regions: list[str]
    eea_subjects: bool
    uk_subjects: bool
    cn_subjects: bool
    us_subjects: bool
    ca_subjects: bool
    storage_region: str
    compute_region: str
    transfer_mechanisms: list[str]
    eea_export: bool
    cn_export: bool
    technical_measures: list[str]
    dp_planned: bool
    redaction: RedactionFacts = Field(default_factory=RedactionFacts)
    scan: ScanFacts | None = None
    privacy_unit: str = "record"
    # --- per-law facts derived from the plan (auditor/facts_legal.py) ---
    br_subjects: bool = False
    in_subjects: bool = False
    canada_subjects: bool = Field(default=False, description="CA or CA-xx (Canada; California is US-CA)")
    qc_subjects: bool = False
    kr_subjects: bool = Field(default=False, description="KR (Republic of Korea)")
    jp_subjects: bool = Field(default=False, description="JP (Japan)")
    people_in: dict[str, int] = Field(default_factory=dict, description="Head-counts per area, when known")
    youngest_age: int | None = Field(default=None, description="Youngest age admitted; absent when unknown")
    exports: dict[str, list[dict[str, Any]]] = Field(default_factory=dict, description="Transfers per area")
    export_labels: dict[str, list[str]] = Field(default_factory=dict, description="The transfers in words")
    unbound_processors: list[str] = Field(default_factory=list, description="Processors without an agreement")
    leakage: LeakageFacts | None = None  # after training only (auditor check --training RUN_DIR)

    @property
    def scan_sampled(self) -> bool:
        """The dataset facts are 95% upper bounds from a sample scan (shown in output, readable in CEL)."""
        return self.scan is not None and self.scan.sampled

    @property
    def n(self) -> int | None:
        """Privacy units: distinct users for user-level DP (when known), records otherwise."""
        if self.scan is None:
            return None
        if self.privacy_unit == "user" and self.scan.distinct_users is not None:
            return self.scan.distinct_users
        return self.scan.records

    def cel_view(self) -> dict[str, Any]:
        """The ``facts`` variable for CEL: scan-only keys absent without a scan, every category present."""
        view: dict[str, Any] = self.model_dump(mode="json", exclude={"scan", "privacy_unit", "leakage"})
        if self.youngest_age is None:
            del view["youngest_age"]   # unknown: absent, so `has(facts.youngest_age)` means "known"
        if self.leakage is not None:
            view["leakage"] = self.leakage.cel_view()
        if self.scan is not None:
            scan = self.scan
            view.update(
                records=scan.records,
                records_with_personal_data=scan.records_with_personal_data,
                n=self.n,
                categories={name: int(scan.categories.get(name, 0)) for name in CATEGORIES}
                | {k: v for k, v in scan.categories.items() if k not in CATEGORIES},
                entities=dict(scan.entities),
                languages=dict(scan.languages),
            )
            for name in ("distinct_users", "users_with_multiple_records", "max_records_per_user"):
                value = getattr(scan, name)
                if value is not None:
                    view[name] = value
            view["scan_sampled"] = scan.sampled
        accepted = redaction_accepted("redaction" in self.technical_measures, self.redaction, self.scan)
        if accepted is not None:
            view["redaction_accepted"] = accepted
        return view


def build_facts(plan: TrainingPlan, scan: ScanResult | ScanFacts | None,
                leakage: LeakageFacts | None = None, redaction: RedactionFacts | None = None) -> Facts:
    """Derive the facts once; rules and reports read the same values."""
    regions = list(plan.data_subjects.regions)
    eea = any(_is_eea(r) for r in regions)
    cn = any(r.split("-")[0] == "CN" for r in regions)
    places = [p for p in (plan.transfers.storage_region, plan.transfers.compute_region) if p]
    mechanism = plan.transfers.mechanism
    mechanisms = [mechanism] if isinstance(mechanism, str) else list(mechanism or [])
    measures = [name for name in ("redaction", "pseudonymisation") if getattr(plan.measures, name)]
    dp_planned = plan.privacy.mechanism == "dp-sgd"
    if dp_planned:
        measures.append("differential_privacy")
    scan_facts = ScanFacts.from_scan(scan) if isinstance(scan, ScanResult) else scan
    legal = legal_facts(plan)   # declared flows (remote access, disclosures) are exports too
    return Facts(
        scan_available=scan_facts is not None,
        regions=regions,
        eea_subjects=eea,
        uk_subjects=any(r in ("UK", "GB") for r in regions),
        cn_subjects=cn,
        us_subjects=any(r == "US" or r.startswith("US-") for r in regions),
        ca_subjects=any(r == "US-CA" for r in regions),
        storage_region=plan.transfers.storage_region or "",
        compute_region=plan.transfers.compute_region or "",
        transfer_mechanisms=[m for m in mechanisms if m != "none"],
        eea_export=(eea and any(not _is_eea(p) for p in places)) or bool(legal["exports"]["eea"]),
        cn_export=(cn and (not places or any(p.split("-")[0] != "CN" for p in places))) or bool(legal["exports"]["cn"]),
        technical_measures=measures,
        dp_planned=dp_planned,
        redaction=redaction or RedactionFacts(),
        scan=scan_facts,
        privacy_unit=plan.privacy.unit,
        leakage=leakage,
        **legal,
    )
