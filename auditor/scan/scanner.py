"""The scan: read records, detect through an engine (:mod:`auditor.scan.engines`), aggregate into a ScanResult.

The parent aggregates, in file order, whatever engine detected; workers only detect. Identical texts
(templated tickets, repeated signatures) are scanned once (see the driver). Spans become findings.jsonl
lines as soon as they arrive, so memory does not grow with the number of detections.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict

from auditor import __version__
from auditor.errors import ScanError
from auditor.fsutil import default_file_mode, ensure_writable, sha256_file
from auditor.scan.categories import record_categories
from auditor.scan.drive import Progress as _Progress
from auditor.scan.drive import detect
from auditor.scan.masking import mask
from auditor.scan.model import (
    CATEGORIES,
    CategoryStats,
    DatasetInfo,
    EngineInfo,
    EntityStats,
    ReadIssue,
    SampleInfo,
    ScanResult,
    UserStats,
    wilson_upper,
)
from auditor.scan.read import Record, check_readable, infer_format
from auditor.scan.types import SpanFinding, TextResult
from auditor.units import UserIdNormalisation, normalise_user_id


class ScanOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: Path
    text_fields: tuple[str, ...]
    format: str | None = None
    user_id_field: str | None = None
    user_id_normalisation: UserIdNormalisation = "casefold"
    workers: int | None = None
    sample: int | None = None
    findings_path: Path | None = None
    progress: bool = True
    seed: int = 0
    ner: bool = True
    engine: str = "local"
    ray_address: str | None = None


class _EntityAgg:
    __slots__ = ("count", "examples", "fields", "records")

    def __init__(self) -> None:
        self.count = 0
        self.records = 0
        self.fields: list[str] = []
        self.examples: list[str] = []


class _CategoryAgg:
    __slots__ = ("count", "entities", "records")

    def __init__(self) -> None:
        self.records = 0
        self.count = 0
        self.entities: set[str] = set()


class Aggregate:
    """Everything the scan counts. It lives in the parent process only (workers just detect), so counts
    need no merging across processes and stay exact."""

    def __init__(self, user_id_normalisation: UserIdNormalisation = "casefold") -> None:
        self.entities: dict[str, _EntityAgg] = {}
        self.categories: dict[str, _CategoryAgg] = {c: _CategoryAgg() for c in CATEGORIES}
        self.languages: dict[str, int] = {}
        self.records_with_pd = 0
        self.records_scanned = 0
        self.user_id_normalisation: UserIdNormalisation = user_id_normalisation
        #: records per person, keyed by a digest of the normalised id: the id itself is never kept
        self.users: dict[bytes, int] = {}
        self.records_without_id = 0

    def count_user(self, record: Record) -> None:
        """Count one record for its person, the id normalised as training normalises it
        (:func:`auditor.units.normalise_user_id`), so the gate and the mechanism count the same people."""
        user = normalise_user_id(record.user_id, self.user_id_normalisation) if record.user_id is not None \
            else None
        if not user:  # no id, or one that is blank once trimmed: training refuses it as missing too
            self.records_without_id += 1
            return
        # surrogatepass: JSON may carry a lone surrogate ("\ud800"); it is still an id to count, not a crash
        key = hashlib.blake2b(user.encode("utf-8", "surrogatepass"), digest_size=12).digest()
        self.users[key] = self.users.get(key, 0) + 1

    def user_stats(self, field: str) -> UserStats:
        counts = self.users.values()
        return UserStats(field=field, normalisation=self.user_id_normalisation, distinct=len(self.users),
                         with_multiple_records=sum(1 for c in counts if c > 1),
                         max_records_per_user=max(counts, default=0), records_without_id=self.records_without_id)

    def add(self, record: Record, results: Sequence[TextResult], findings: IO[str] | None) -> None:
        self.records_scanned += 1
        langs = {r.lang for r in results}
        lang = "zh" if "zh" in langs else ("en" if langs else "none")
        self.languages[lang] = self.languages.get(lang, 0) + 1
        seen: set[str] = set()
        span_count: dict[str, int] = {}
        for unit, result in zip(record.texts, results, strict=True):
            for span in result.spans:
                agg = self.entities.get(span.entity)
                if agg is None:
                    agg = self.entities[span.entity] = _EntityAgg()
                agg.count += 1
                span_count[span.entity] = span_count.get(span.entity, 0) + 1
                if span.entity not in seen:
                    seen.add(span.entity)
                    agg.records += 1
                if unit.path not in agg.fields:
                    agg.fields.append(unit.path)
                if len(agg.examples) < 3:
                    masked = mask(span.entity, unit.text[span.start:span.end])
                    if masked not in agg.examples:
                        agg.examples.append(masked)
                if findings is not None:
                    findings.write(SpanFinding(record=record.index, line=record.line, field=unit.field,
                                               entity=span.entity, start=span.start, end=span.end,
                                               score=round(span.score, 3)).model_dump_json() + "\n")
        if not seen:
            return
        self.records_with_pd += 1
        for category in record_categories(seen):
            stats = self.categories[category]
            stats.records += 1
            for entity in seen:
                if category in _categories_of(entity) or category == "phi":
                    stats.count += span_count[entity]
                    stats.entities.add(entity)


def _categories_of(entity: str) -> frozenset[str]:
    from auditor.scan.categories import category_map

    return category_map().categories_of(entity)


def count_records(path: Path, fmt: str, compressed: bool) -> int | None:
    """A cheap total for the progress bar's ETA (newline count, or Parquet metadata); None when unknown.

    Only an estimate: a file it cannot make sense of gives None, and the reader reports what is wrong.
    """
    try:
        if fmt == "parquet" and not compressed:
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                return int(pq.ParquetFile(str(path)).metadata.num_rows)
            except (pa.ArrowException, ValueError):
                return None
        if compressed or path.stat().st_size > 2 << 30:
            return None
        lines = 0
        with path.open("rb") as handle:
            while block := handle.read(1 << 22):
                lines += block.count(b"\n")
        return max(1, lines - (1 if fmt == "csv" else 0))
    except OSError:
        return None


def _findings_file(path: Path | None) -> tuple[IO[str] | None, Path | None]:
    if path is None:
        return None, None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return os.fdopen(fd, "w", encoding="utf-8"), Path(tmp)


def run_scan(options: ScanOptions) -> ScanResult:
    path = options.path
    if not options.text_fields:
        raise ScanError(f"{path}: no text field to scan (pass --text-field)")
    fmt, compressed = infer_format(path, options.format)
    check_readable(path, fmt, compressed)
    if options.findings_path is not None:  # before the scan: not a scan's worth of work, then a failure
        ensure_writable(options.findings_path, "findings file", protect=[path])
    if options.sample is not None and options.sample < 1:
        raise ScanError(f"{path}: --sample must be a positive number of records")
    from auditor.scan.engines import RunOptions, Source, make_engine

    engine = make_engine(options.engine, workers=options.workers, ray_address=options.ray_address)
    started_at = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    text_fields = list(options.text_fields)
    if fmt == "text":
        text_fields = ["text"]
    source = Source(path=path, fmt=fmt, compressed=compressed, text_fields=tuple(text_fields),
                    user_id_field=options.user_id_field, sample=options.sample, seed=options.seed)
    expected = options.sample if options.sample is not None else count_records(path, fmt, compressed)
    reading = engine.open(source, expected)
    aggregate = Aggregate(options.user_id_normalisation)

    findings, findings_tmp = _findings_file(options.findings_path)
    progress = _Progress(options.progress, expected, f"scanning {path.name}")
    try:
        reading.run(detect, options.ner, lambda record, _, results: aggregate.add(record, results, findings),
                    progress, RunOptions(ner=options.ner),
                    on_read=aggregate.count_user if options.user_id_field else None)
        if findings is not None:
            findings.flush()
            os.fsync(findings.fileno())
            findings.close()
            findings = None
    except BaseException:
        if findings is not None:
            findings.close()
        if findings_tmp is not None:
            findings_tmp.unlink(missing_ok=True)
        raise
    finally:
        progress.close()

    population = reading.population
    sample_info: SampleInfo | None = None
    if population is not None and options.sample is not None and population > aggregate.records_scanned:
        sample_info = SampleInfo(sampled_records=aggregate.records_scanned, population_records=population,
                                 seed=options.seed)
    records_read = population if population is not None else reading.rows_read
    if records_read == 0:
        if findings_tmp is not None:
            findings_tmp.unlink(missing_ok=True)
        problems = reading.problems
        first = f"; first at line {problems[0].line}: {problems[0].reason}" if problems else ""
        raise ScanError(f"{path}: no records could be read ({reading.problems_total} read errors{first})")
    if findings_tmp is not None and options.findings_path is not None:
        os.chmod(findings_tmp, default_file_mode())  # as scan.json: offsets only, readable by reviewers
        os.replace(findings_tmp, options.findings_path)

    duration = time.perf_counter() - started
    size = path.stat().st_size
    entities: dict[str, EntityStats] = {}
    scanned = aggregate.records_scanned
    for name in sorted(aggregate.entities):
        agg = aggregate.entities[name]
        estimate = upper = None
        if sample_info is not None and scanned:
            estimate = round(agg.records / scanned * sample_info.population_records, 1)
            upper = round(wilson_upper(agg.records, scanned) * sample_info.population_records, 1)
        entities[name] = EntityStats(count=agg.count, records=agg.records, fields=agg.fields,
                                     examples=agg.examples, estimate_records=estimate, upper95_records=upper)
    categories = {name: CategoryStats(records=v.records, count=v.count, entities=sorted(v.entities))
                  for name, v in aggregate.categories.items()}
    return ScanResult(
        dataset=DatasetInfo(path=str(path), sha256=sha256_file(path), format=fmt, compressed=compressed,
                            bytes=size, text_fields=text_fields),
        records=records_read,
        records_scanned=scanned,
        records_with_personal_data=aggregate.records_with_pd,
        distinct_users=len(aggregate.users) if options.user_id_field else None,
        users=aggregate.user_stats(options.user_id_field) if options.user_id_field else None,
        languages=dict(sorted(aggregate.languages.items())),
        entities=entities,
        categories=categories,
        read_errors=[ReadIssue(line=p.line, reason=p.reason) for p in reading.problems],
        read_errors_total=reading.problems_total,
        sample=sample_info,
        engine=engine_info(reading.workers, options.ner, engine.name),
        started_at=started_at,
        duration_s=round(duration, 3),
        records_per_s=round(scanned / duration, 1) if duration > 0 else 0.0,
        mb_per_s=round(size / 1e6 / duration, 3) if duration > 0 else 0.0,
    )


def engine_info(workers: int, ner: bool, engine: str = "local") -> EngineInfo:
    from auditor.scan.presidio import presidio_version
    from auditor.scan.recognizers import RULES

    spacy_version = model = None
    if ner:
        from auditor.scan.ner import spacy_versions

        spacy_version, model = spacy_versions()
    recognizers = [f"{rule.entity}:{rule.name}" for rule in RULES] + ["lexicon:special_en", "lexicon:special_zh",
                                                                         "lexicon:age"]
    if ner:
        recognizers.append("spacy:ner")
    return EngineInfo(auditor=__version__, presidio=presidio_version(), spacy=spacy_version, spacy_model=model,
                      recognizers=recognizers, workers=workers, engine=engine)
