"""Streaming dataset readers: JSONL, CSV, Parquet and plain text, each optionally gzip-compressed.

Readers are a plug point (one small class per format behind :class:`Reader`). They yield one
:class:`Record` per line or row and never hold the whole file: memory stays flat whatever the file size.
A malformed line, invalid UTF-8 or an oversized line becomes a :class:`ReadProblem` with its line number and
a reason -- never a crash, never silently dropped, and never the line's content (it may hold personal data).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal, cast

from pydantic import BaseModel, ConfigDict

from auditor.errors import ScanError

Format = Literal["jsonl", "csv", "parquet", "text"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet", "text")
_SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
                                ".parquet": "parquet", ".pq": "parquet", ".txt": "text", ".text": "text"}
#: A line longer than this is skipped and reported: one pathological record must not exhaust memory.
MAX_LINE_BYTES = 8 * 1024 * 1024


class TextUnit(BaseModel):
    """One string to scan: ``field`` is the concrete location (``messages[1].content``), ``path`` the
    generic one (``messages.content``) that scan.json aggregates on."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    path: str
    text: str


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    index: int
    line: int
    texts: tuple[TextUnit, ...]
    user_id: str | None = None


class ReadProblem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    line: int
    reason: str


#: Field names safe to echo in an error. Keys are data too: a dataset keyed by e-mail address or name must
#: not have those keys printed, so anything that does not look like a plain identifier is only counted.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}(?:\.[A-Za-z_][A-Za-z0-9_\-]{0,63})*")


def infer_format(path: Path, explicit: str | None) -> tuple[Format, bool]:
    """Format and compression from ``--format`` or the suffix (``.jsonl.gz`` is gzip JSONL)."""
    compressed = path.suffix.lower() == ".gz" or _is_gzip(path)
    if explicit is not None:
        fmt = explicit.lower()
        if fmt not in FORMATS:
            raise ScanError(f"{path}: unknown format {explicit!r} (choose one of: {', '.join(FORMATS)})")
        return fmt, compressed
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]], compressed
    raise ScanError(f"{path}: cannot tell the format from the file name; pass --format "
                    f"({', '.join(FORMATS)})")


def _is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _open_binary(path: Path, compressed: bool) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if compressed else path.open("rb")


def check_readable(path: Path, fmt: Format, compressed: bool) -> None:
    """Fail early, in one line, on a missing, empty or binary file rather than mid-scan."""
    if not path.exists():
        raise ScanError(f"{path}: no such file")
    if path.is_dir():
        raise ScanError(f"{path}: is a folder, not a dataset file")
    if path.stat().st_size == 0:
        raise ScanError(f"{path}: the dataset is empty (0 bytes)")
    if fmt == "parquet":
        return
    try:
        with _open_binary(path, compressed) as handle:
            head = handle.read(8192)
    except (OSError, EOFError) as exc:
        raise ScanError(f"{path}: cannot read ({type(exc).__name__}: not a valid "
                        f"{'gzip ' if compressed else ''}file)") from None
    if b"\x00" in head:
        raise ScanError(f"{path}: looks like a binary file, not {fmt} text (NUL bytes in the first 8 KiB)")


def extract(value: Any, path: Sequence[str], concrete: str = "") -> Iterator[tuple[str, str]]:
    """Strings at a dotted path, descending into lists: yields (concrete field name, text)."""
    if not path:
        if isinstance(value, str):
            yield concrete, value
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from extract(item, path, f"{concrete}[{i}]")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield concrete, str(value)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from extract(item, path, f"{concrete}[{i}]")
    elif isinstance(value, dict) and path[0] in value:
        head = path[0]
        yield from extract(value[head], path[1:], f"{concrete}.{head}" if concrete else head)


def has_path(value: Any, path: Sequence[str]) -> bool:
    if not path:
        return True
    if isinstance(value, list):
        return any(has_path(item, path) for item in value)
    return isinstance(value, dict) and path[0] in value and has_path(value[path[0]], path[1:])


def field_names(value: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted names of the fields in one row, for the 'available fields' hint."""
    names: list[str] = []
    if isinstance(value, list):
        for item in value[:3]:
            names.extend(n for n in field_names(item, prefix, depth) if n not in names)
    elif isinstance(value, dict) and depth < 3:
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            names.append(name)
            names.extend(n for n in field_names(item, name, depth + 1) if n not in names)
    return names


class Reader(ABC):
    """One dataset format. ``rows`` yields (line number, parsed row or problem) in file order."""

    def __init__(self, path: Path, compressed: bool) -> None:
        self.path = path
        self.compressed = compressed

    @abstractmethod
    def rows(self) -> Iterator[tuple[int, dict[str, Any] | ReadProblem]]: ...


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes | ReadProblem]]:
    """Binary lines with bounded memory: an oversized line is drained and reported, not loaded."""
    number = 0
    while True:
        chunk = handle.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            size = len(chunk)
            while chunk and not chunk.endswith(b"\n"):
                chunk = handle.readline(1 << 20)
                size += len(chunk)
            yield number, ReadProblem(line=number, reason=f"line too long ({size} bytes > "
                                                          f"{MAX_LINE_BYTES} byte limit), skipped")
            continue
        yield number, chunk


def _decode(number: int, raw: bytes) -> str | ReadProblem:
    try:
        return raw.decode("utf-8-sig" if number == 1 else "utf-8")  # a BOM on line 1 is not content
    except UnicodeDecodeError as exc:
        return ReadProblem(line=number, reason=f"invalid UTF-8 at byte {exc.start}, skipped")


class JsonlReader(Reader):
    def rows(self) -> Iterator[tuple[int, dict[str, Any] | ReadProblem]]:
        with _open_binary(self.path, self.compressed) as handle:
            for number, raw in _lines(handle):
                if isinstance(raw, ReadProblem):
                    yield number, raw
                    continue
                text = _decode(number, raw)
                if isinstance(text, ReadProblem):
                    yield number, text
                    continue
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield number, ReadProblem(line=number, reason=f"invalid JSON ({exc.msg} at column "
                                                                  f"{exc.colno}), skipped")
                    continue
                if not isinstance(row, dict):
                    yield number, ReadProblem(line=number, reason=f"a JSON {type(row).__name__}, not an "
                                                                  "object, skipped")
                    continue
                yield number, row


class TextReader(Reader):
    def rows(self) -> Iterator[tuple[int, dict[str, Any] | ReadProblem]]:
        with _open_binary(self.path, self.compressed) as handle:
            for number, raw in _lines(handle):
                if isinstance(raw, ReadProblem):
                    yield number, raw
                    continue
                text = _decode(number, raw)
                if isinstance(text, ReadProblem):
                    yield number, text
                elif text.strip():
                    yield number, {"text": text.rstrip("\r\n")}


class CsvReader(Reader):
    def rows(self) -> Iterator[tuple[int, dict[str, Any] | ReadProblem]]:
        problems: list[ReadProblem] = []

        def decoded(handle: IO[bytes]) -> Iterator[str]:
            for number, raw in _lines(handle):
                if isinstance(raw, ReadProblem):
                    problems.append(raw)
                    continue
                text = _decode(number, raw)
                if isinstance(text, ReadProblem):
                    problems.append(text)
                    continue
                yield text

        csv.field_size_limit(MAX_LINE_BYTES)  # the default (128 KiB) would reject long but valid texts
        with _open_binary(self.path, self.compressed) as handle:
            reader = csv.reader(decoded(handle))
            header: list[str] | None = None
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    problems.append(ReadProblem(line=reader.line_num, reason=f"malformed CSV ({exc}), skipped"))
                    continue
                finally:
                    while problems:
                        problem = problems.pop(0)
                        yield problem.line, problem
                if header is None:
                    header = row
                    continue
                if not row:
                    continue
                if len(row) != len(header):
                    yield reader.line_num, ReadProblem(
                        line=reader.line_num, reason=f"{len(row)} columns where the header has {len(header)}, "
                                                     "skipped")
                    continue
                yield reader.line_num, dict(zip(header, row, strict=True))
            if header is None:
                raise ScanError(f"{self.path}: the CSV file has no header row")


class ParquetReader(Reader):
    def __init__(self, path: Path, compressed: bool, columns: Sequence[str] | None = None) -> None:
        super().__init__(path, compressed)
        self.columns = list(columns) if columns else None

    def rows(self) -> Iterator[tuple[int, dict[str, Any] | ReadProblem]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            source: Any = str(self.path)
            if self.compressed:
                with gzip.open(self.path, "rb") as handle:  # gzip is not seekable; parquet needs seeking
                    source = pa.BufferReader(handle.read())
            parquet = pq.ParquetFile(source)
        except (pa.ArrowException, OSError) as exc:
            raise ScanError(f"{self.path}: not a readable Parquet file ({type(exc).__name__})") from None
        names = set(parquet.schema_arrow.names)
        columns = [c for c in (self.columns or []) if c in names] or None
        number = 0
        for batch in parquet.iter_batches(batch_size=2048, columns=columns):
            for row in batch.to_pylist():
                number += 1
                yield number, row

    def schema_fields(self) -> list[str]:
        import pyarrow.parquet as pq

        return list(pq.read_schema(str(self.path)).names) if not self.compressed else []


def make_reader(path: Path, fmt: Format, compressed: bool, columns: Sequence[str] | None = None) -> Reader:
    if fmt == "jsonl":
        return JsonlReader(path, compressed)
    if fmt == "csv":
        return CsvReader(path, compressed)
    if fmt == "parquet":
        return ParquetReader(path, compressed, columns)
    return TextReader(path, compressed)


class RecordStream:
    """Rows turned into :class:`Record` values, with read problems collected on the side.

    The first rows are checked for the requested text fields: a field that never appears in them is a
    usage error naming the fields that do exist, raised before any scanning work starts.
    """

    PROBE_ROWS = 200

    def __init__(self, path: Path, fmt: Format, compressed: bool, text_fields: Sequence[str],
                 user_id_field: str | None) -> None:
        self.path = path
        self.text_fields = list(text_fields)
        self.paths = [f.split(".") for f in self.text_fields]
        self.user_path = user_id_field.split(".") if user_id_field else None
        self.user_id_field = user_id_field
        top = sorted({p[0] for p in self.paths} | ({self.user_path[0]} if self.user_path else set()))
        self.reader = make_reader(path, fmt, compressed, top)
        self.problems: list[ReadProblem] = []
        self.problems_total = 0
        self.max_problems_kept = 100
        self.rows_read = 0

    def _problem(self, problem: ReadProblem) -> None:
        self.problems_total += 1
        if len(self.problems) < self.max_problems_kept:
            self.problems.append(problem)

    def __iter__(self) -> Iterator[Record]:
        probe: list[tuple[int, dict[str, Any]]] = []
        rows = self.reader.rows()
        index = 0
        for number, row in rows:
            if isinstance(row, ReadProblem):
                self._problem(row)
                continue
            probe.append((number, row))
            if len(probe) >= self.PROBE_ROWS:
                break
        self._check_fields([r for _, r in probe])
        for number, row in probe:
            yield self._record(index, number, row)
            index += 1
        for number, row in rows:
            if isinstance(row, ReadProblem):
                self._problem(row)
                continue
            yield self._record(index, number, row)
            index += 1

    def _check_fields(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        wanted = list(self.text_fields) + ([self.user_id_field] if self.user_id_field else [])
        missing = [name for name in wanted if not any(has_path(r, name.split(".")) for r in rows)]
        if missing:
            available: list[str] = []
            for row in rows[:20]:
                available.extend(n for n in field_names(row) if n not in available)
            shown = [n for n in available if _PLAIN_NAME.fullmatch(n)][:30]
            hidden = len(available) - len(shown)
            listed = ", ".join(shown) or "(none)"
            if hidden:
                listed += f" (and {hidden} more not shown)"
            which = "text field" if missing[0] in self.text_fields else "user id field"
            raise ScanError(f"{self.path}: {which} {missing[0]!r} not found in the first {len(rows)} records; "
                            f"fields present: {listed}")

    def _record(self, index: int, number: int, row: dict[str, Any]) -> Record:
        self.rows_read += 1
        units: list[TextUnit] = []
        for name, path in zip(self.text_fields, self.paths, strict=True):
            for concrete, text in extract(row, path):
                if text:  # built from values this module just parsed: no need to validate them again
                    units.append(TextUnit.model_construct(field=concrete, path=name, text=text))
        user: str | None = None
        if self.user_path is not None:
            found = [v for _, v in extract(row, self.user_path)]
            user = found[0] if found else None
        return Record.model_construct(index=index, line=number, texts=tuple(units), user_id=user)


__all__ = ["FORMATS", "Format", "ReadProblem", "Record", "RecordStream", "TextUnit", "check_readable",
           "infer_format"]
