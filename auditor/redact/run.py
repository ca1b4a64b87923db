"""``auditor redact``: read with the scan's reader, detect and rewrite through the scan's driver, write the same
format, and record the chain and a re-scan of the result in ``OUT.redaction.json``.

Nothing is half-written: the output and its evidence go to temporary files beside them and are renamed into
place only once both are complete. A record the reader cannot parse stops the run (exit 2): skipping it would
drop a record from the output, and copying it through would copy whatever personal data it holds.
"""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict

from auditor.errors import InputError, ScanError
from auditor.fsutil import default_file_mode, ensure_writable, sha256_file
from auditor.redact.model import (
    EntityCount,
    FileInfo,
    Mode,
    RedactionEvidence,
    ResidualScan,
    evidence_path,
)
from auditor.redact.rewrite import RedactSettings, TextRedaction, redact_batch
from auditor.redact.write import make_writer, open_output
from auditor.scan.drive import Progress
from auditor.scan.engines.base import Reading
from auditor.scan.read import (
    SUFFIXES,
    Record,
    TextUnit,
    check_readable,
    infer_format,
    text_leaves,
)

#: Why a read problem stops a redaction (appended to the problem's line and reason).
STOP_ON_PROBLEM = "a record that cannot be read cannot be redacted, so nothing was written"
#: What the driver may remember of repeated texts: short texts only (a result holds the rewritten text).
DEDUP_LIMIT = 20_000
DEDUP_MAX_CHARS = 2048


class RedactOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: Path
    output: Path
    text_fields: tuple[str, ...]
    format: str | None = None
    mode: Mode = "mask"
    entities: tuple[str, ...]
    entities_from: Literal["default", "plan", "option"] = "default"
    key_path: Path | None = None
    workers: int | None = None
    progress: bool = True
    ner: bool = True
    engine: str = "local"
    ray_address: str | None = None


class RedactOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    evidence: RedactionEvidence
    output: Path
    evidence_path: Path
    key_path: Path | None = None
    key_created: bool = False


class _Counts:
    """Spans and records per entity type, for ``detected`` and ``replaced``."""

    def __init__(self) -> None:
        self.spans: dict[str, int] = {}
        self.records: dict[str, int] = {}

    def add(self, entities: Iterable[str]) -> None:
        seen: set[str] = set()
        for entity in entities:
            self.spans[entity] = self.spans.get(entity, 0) + 1
            if entity not in seen:
                seen.add(entity)
                self.records[entity] = self.records.get(entity, 0) + 1

    def counts(self) -> dict[str, EntityCount]:
        return {e: EntityCount(spans=self.spans[e], records=self.records[e]) for e in sorted(self.spans)}


def _check_output_name(dataset: Path, output: Path, fmt: str, compressed: bool) -> None:
    """The output is written in the input's format, and its name must say so: ``auditor scan`` and ``train``
    read the format from the name."""

    def named(path: Path) -> tuple[str | None, bool, str]:
        suffixes = [s.lower() for s in path.suffixes]
        gz = bool(suffixes) and suffixes[-1] == ".gz"
        if gz:
            suffixes = suffixes[:-1]
        return (SUFFIXES.get(suffixes[-1]) if suffixes else None), gz, (suffixes[-1] if suffixes else "")

    out_fmt, out_gz, _ = named(output)
    in_fmt, in_gz, in_suffix = named(dataset)
    wrong = (out_fmt != fmt and (out_fmt is not None or in_fmt is not None)) or (out_gz and not compressed) \
        or (in_gz and not out_gz)
    if wrong:
        wanted = (in_suffix if in_fmt == fmt else f".{'txt' if fmt == 'text' else fmt}") + (".gz" if in_gz else "")
        raise InputError(f"{output}: the output is written as {'gzip ' if compressed else ''}{fmt}, like "
                         f"{dataset.name}; give it a name ending in {wanted} so it is read back as such")


def run_redaction(options: RedactOptions) -> RedactOutcome:
    """Redact one dataset file. Bad input raises :class:`InputError` (exit 2) before anything is written."""
    path, output = options.path, options.output
    if not options.text_fields:
        raise ScanError(f"{path}: no text field to redact (pass --text-field)")
    fmt, compressed = infer_format(path, options.format)
    check_readable(path, fmt, compressed)
    evidence_file = evidence_path(output)
    _check_output_name(path, output, fmt, compressed)
    ensure_writable(output, "redacted dataset", protect=[path])
    ensure_writable(evidence_file, "redaction evidence", protect=[path])
    key_path = _key_path(options, (path, output, evidence_file))
    key: bytes | None = None
    created = False
    from auditor.scan.engines import RunOptions, Source, make_engine

    engine = make_engine(options.engine, workers=options.workers, ray_address=options.ray_address)
    text_fields = ["text"] if fmt == "text" else list(options.text_fields)
    started_at = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    source_sha = sha256_file(path)
    from auditor.scan.scanner import count_records

    expected = count_records(path, fmt, compressed)
    source = Source(path=path, fmt=fmt, compressed=compressed, text_fields=tuple(text_fields), keep_rows=True,
                    stop_on_problem=STOP_ON_PROBLEM)
    temps: list[Path] = []
    try:
        tmp_out = _temp(output, temps)
        reading = engine.open(source, expected)
        next(iter(source.open()), None)  # the reader checks the fields here: bad input fails before a key is made
        if key_path is not None:
            from auditor.redact.keys import load_or_create_key

            key, key_path, created = load_or_create_key(key_path)
        settings = RedactSettings(ner=options.ner, mode=options.mode, entities=frozenset(options.entities), key=key,
                                  keep_nonblank=fmt == "text")
        with tmp_out.open("wb") as raw:
            job = _Job(reading, text_fields, fmt, open_output(raw, compressed), compressed)
            progress = Progress(options.progress, expected, f"redacting {path.name}")
            try:
                reading.run(redact_batch, settings, job.consume, progress,
                            RunOptions(ner=options.ner, dedup_limit=DEDUP_LIMIT, dedup_max_chars=DEDUP_MAX_CHARS))
            finally:
                progress.close()
            job.finish()
            raw.flush()
            os.fsync(raw.fileno())
        workers = reading.workers
        if reading.rows_read == 0:
            raise ScanError(f"{path}: no records could be read")
        if sha256_file(path) != source_sha:  # the evidence names the bytes that were read, or nothing
            raise ScanError(f"{path}: the dataset changed while it was being redacted; nothing was written")
        os.chmod(tmp_out, default_file_mode())
        evidence = _evidence(options, job, text_fields, workers, engine.name, key,
                             FileInfo(file=path.name, sha256=source_sha, bytes=path.stat().st_size, format=fmt,
                                      compressed=compressed),
                             FileInfo(file=output.name, sha256=sha256_file(tmp_out), bytes=tmp_out.stat().st_size,
                                      format=fmt, compressed=compressed),
                             started_at, time.perf_counter() - started)
        tmp_evidence = _temp(evidence_file, temps)
        tmp_evidence.write_text(evidence.to_json(), encoding="utf-8")
        os.chmod(tmp_evidence, default_file_mode())
        os.replace(tmp_out, output)
        os.replace(tmp_evidence, evidence_file)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
    return RedactOutcome(evidence=evidence, output=output, evidence_path=evidence_file, key_path=key_path,
                         key_created=created)


def _evidence(options: RedactOptions, job: _Job, text_fields: list[str], workers: int, engine: str,
              key: bytes | None, source: FileInfo, output: FileInfo, started_at: str,
              duration: float) -> RedactionEvidence:
    from auditor.scan.scanner import engine_info

    records = job.reading.rows_read
    return RedactionEvidence(
        created_at=started_at, source=source, output=output, text_fields=text_fields, mode=options.mode,
        entities=list(options.entities), entities_from=options.entities_from, key_id=_key_id(key), records=records,
        records_changed=job.changed, detected=job.detected.counts(), replaced=job.replaced.counts(),
        residual=job.residual(), engine=engine_info(workers, options.ner, engine), anonymizer=_anonymizer_version(),
        duration_s=round(duration, 3), records_per_s=round(records / duration, 1) if duration else 0.0)


def _key_path(options: RedactOptions, others: Sequence[Path]) -> Path | None:
    """Where the pseudonym key is (made later, once the input has been read): never one of the run's files."""
    if options.mode != "pseudonym":
        return None
    from auditor.redact.keys import default_key_path

    wanted = options.key_path or default_key_path()
    for other in others:
        if wanted.resolve() == other.resolve():
            raise InputError(f"{wanted}: the pseudonym key cannot be {other.name}; keep it in a file of its own")
    return wanted


def _temp(beside: Path, temps: list[Path]) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=".tmp", dir=beside.parent)
    os.close(fd)
    temps.append(Path(name))
    return Path(name)


def _key_id(key: bytes | None) -> str | None:
    if key is None:
        return None
    from auditor.redact.keys import key_id

    return key_id(key)


def _anonymizer_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("presidio-anonymizer")
    except PackageNotFoundError:
        return None


class _Job:
    """The parent's side of one run: rows wait here while their texts are in the workers, then get their
    redacted texts back in their leaves and are written; counts are kept for the evidence."""

    def __init__(self, reading: Reading[TextRedaction], text_fields: Sequence[str], fmt: str, out: IO[bytes],
                 compressed: bool) -> None:
        from auditor.scan.scanner import Aggregate

        self.reading = reading
        self.fields = list(text_fields)
        self.paths = [f.split(".") for f in text_fields]
        self.fmt = fmt
        self.out = out
        self.compressed = compressed
        self.writer: Any = None
        self.detected = _Counts()
        self.replaced = _Counts()
        self.after = Aggregate()
        self.changed = 0

    def consume(self, record: Record, row: dict[str, Any] | None, results: list[TextRedaction]) -> None:
        assert row is not None  # the source keeps rows
        leaves = [leaf for _, leaf in text_leaves(row, self.fields, self.paths)]
        units: list[TextUnit] = []
        residual = []
        changed = False
        for unit, leaf, result in zip(record.texts, leaves, results, strict=True):
            text = unit.text
            if result.text is not None:
                _, _, holder, key = leaf
                if self.fmt == "parquet" and not isinstance(holder[key], str):
                    raise InputError(f"{self.reading.reader.path}: row {record.line}: {unit.field} is a number with an "
                                     "identifier in it, and its Parquet column cannot hold the placeholder: cast "
                                     "the column to string and run again")
                holder[key] = text = result.text
                changed = True
            if text:  # the scan reads no empty text; the re-scan counts what it would read
                units.append(TextUnit.model_construct(field=unit.field, path=unit.path, text=text))
                residual.append(result.residual)
        self.detected.add(s.entity for r in results for s in r.source.spans)
        self.replaced.add(e for r in results for e in r.replaced)
        self.changed += changed
        self.after.add(Record.model_construct(index=record.index, line=record.line, texts=tuple(units)),
                       residual, None)
        if self.writer is None:
            self.writer = make_writer(self.fmt, self.out, self.reading.reader)
        self.writer.write(record.line, row)

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.compressed:  # the gzip stream; the file under it is closed by its owner
            self.out.close()

    def residual(self) -> ResidualScan:
        after = self.after
        return ResidualScan(
            records=after.records_scanned, records_with_personal_data=after.records_with_pd,
            entities={name: EntityCount(spans=agg.count, records=agg.records)
                      for name, agg in sorted(after.entities.items())},
            categories={name: stats.records for name, stats in after.categories.items()})
