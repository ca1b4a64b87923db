"""Streaming dataset readers: JSONL, CSV, Parquet and plain text, each optionally gzip-compressed.

Readers are a plug point (one small class per format behind :class:`Reader`). They yield one
:class:`Record` per line or row and never hold the whole file: memory stays flat whatever the file size.
A malformed line, invalid UTF-8 or an oversized line becomes a :class:`ReadProblem` with its line number and
a reason -- never a crash, never silently dropped, and never the line's content (it may hold personal data).
"""

from __future__ import annotations

import csv
import datetime as _dt
import gzip
import json
import os
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict

from auditor.errors import ScanError
from auditor.scan.keys import location_key, shown_field_name, unflagged

if TYPE_CHECKING:
    pass

Format = Literal["jsonl", "csv", "parquet", "text"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet", "text")
SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
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


#: Deeper than this, object and list values are not descended into (a pathological nesting must not
#: exhaust the stack); JSON itself rarely nests past a handful of levels.
MAX_DEPTH = 64


def _check_path_kind(path: Path) -> None:
    """Missing, a folder, or a pipe/device: say so before the suffix or the first bytes are looked at (reading
    a pipe's first bytes to sniff gzip would consume them)."""
    if not path.exists():
        raise ScanError(f"{path}: no such file")
    if path.is_dir():
        raise ScanError(f"{path}: is a folder, not a dataset file")
    if not path.is_file():
        raise ScanError(f"{path}: not a regular file (a pipe or device); reading a dataset from a pipe is not "
                        "supported, save it to a file first")


def infer_format(path: Path, explicit: str | None) -> tuple[Format, bool]:
    """Format and compression from ``--format`` or the suffix (``.jsonl.gz`` is gzip JSONL)."""
    _check_path_kind(path)
    compressed = path.suffix.lower() == ".gz" or _is_gzip(path)
    if explicit is not None:
        fmt = explicit.lower()
        if fmt not in FORMATS:
            raise ScanError(f"{path}: unknown format {explicit!r} (choose one of: {', '.join(FORMATS)})")
        return fmt, compressed
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in SUFFIXES:
        return SUFFIXES[suffixes[-1]], compressed
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
    """Fail early, in one line, on a missing, empty, binary or (Parquet) footer-less file rather than mid-scan."""
    _check_path_kind(path)
    if path.stat().st_size == 0:
        raise ScanError(f"{path}: the dataset is empty (0 bytes)")
    if fmt == "parquet":
        if not compressed:  # the footer alone: cheap; a gzip Parquet file is checked when it is unpacked
            _open_parquet(path)
        return
    try:
        with _open_binary(path, compressed) as handle:
            head = handle.read(8192)
    except (OSError, EOFError) as exc:
        raise ScanError(f"{path}: cannot read ({type(exc).__name__}: not a valid "
                        f"{'gzip ' if compressed else ''}file)") from None
    if b"\x00" in head:
        raise ScanError(f"{path}: looks like a binary file, not {fmt} text (NUL bytes in the first 8 KiB)")


#: One string leaf of a row: its concrete field name, its text, and where it sits (``holder[key]``), so that
#: ``auditor redact`` writes each rewritten text back to the very leaf the scan read it from.
Leaf = tuple[str, str, Any, Any]


def locate(value: Any, path: Sequence[str], concrete: str = "", depth: int = 0, holder: Any = None,
           key: Any = None) -> Iterator[Leaf]:
    """Strings at a dotted path, descending into lists: yields (concrete field name, text, holder, key).

    A field whose value is an object (a JSON object, a Parquet struct) yields every string leaf inside it:
    skipping it would report an object full of e-mail addresses as clean. The leaves' keys come from the
    data, so they enter the concrete name only through :func:`~auditor.scan.keys.location_key` (else as
    ``<key#N>``). Numbers are read as their text (a phone number stored as an integer is still one).
    """
    if depth > MAX_DEPTH:
        return
    if not path:
        if isinstance(value, str):
            yield concrete, value, holder, key
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from locate(item, path, f"{concrete}[{i}]", depth + 1, value, i)
        elif isinstance(value, dict):
            for i, (name, item) in enumerate(value.items()):
                shown = location_key(str(name)) or f"<key#{i}>"
                yield from locate(item, path, f"{concrete}.{shown}" if concrete else shown, depth + 1, value, name)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield concrete, str(value), holder, key
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from locate(item, path, f"{concrete}[{i}]", depth + 1, value, i)
    elif isinstance(value, dict) and path[0] in value:
        head = path[0]
        yield from locate(value[head], path[1:], f"{concrete}.{head}" if concrete else head, depth + 1, value, head)


def extract(value: Any, path: Sequence[str], concrete: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """(concrete field name, text) for each string at a dotted path: :func:`locate` without the places."""
    for name, text, _, _ in locate(value, path, concrete, depth):
        yield name, text


def text_leaves(row: Any, fields: Sequence[str], paths: Sequence[Sequence[str]]) -> Iterator[tuple[str, Leaf]]:
    """(generic field name, leaf) for every non-empty text of a row, in the order a :class:`Record` holds
    them: the one definition of "the texts of a record" that scan and redact share."""
    for name, path in zip(fields, paths, strict=True):
        for leaf in locate(row, path):
            if leaf[1]:
                yield name, leaf


def user_id_of(value: Any, depth: int = 0) -> str | None:
    """The first scalar at a user id path as a canonical string; None for a missing id (null, empty list).

    Any scalar names a user: Parquet gives decimals, bytes, dates and timestamps as well as strings and
    numbers, and ignoring them would report 0 distinct users for a column that has them.
    """
    if value is None or depth > MAX_DEPTH:
        return None
    if isinstance(value, list):
        for item in value:
            found = user_id_of(item, depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "surrogateescape")  # one-to-one: distinct bytes stay distinct
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    isoformat = getattr(value, "isoformat", None)  # pandas.Timestamp for nanosecond timestamps
    return str(isoformat()) if callable(isoformat) else str(value)


def _user_values(value: Any, path: Sequence[str], depth: int = 0) -> Iterator[Any]:
    """The raw values at a dotted path (descending into lists), for :func:`user_id_of`."""
    if depth > MAX_DEPTH:
        return
    if not path:
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _user_values(item, path, depth + 1)
    elif isinstance(value, dict) and path[0] in value:
        yield from _user_values(value[path[0]], path[1:], depth + 1)


def user_id_at(row: Any, field: str) -> str | None:
    """The user id at a dotted field of one row, as the scan reads it (training uses the same reading)."""
    for value in _user_values(row, field.split(".")):
        user = user_id_of(value)
        if user is not None:
            return user
    return None


def has_path(value: Any, path: Sequence[str]) -> bool:
    if not path:
        return True
    if isinstance(value, list):
        return any(has_path(item, path) for item in value)
    return isinstance(value, dict) and path[0] in value and has_path(value[path[0]], path[1:])


def field_keys(value: Any, prefix: tuple[str, ...] = (), depth: int = 0) -> list[tuple[str, ...]]:
    """Key paths of the fields in one row, for the 'available fields' hint. Tuples, not dotted strings: a key
    holding a dot (``jane.doe``) must stay one key, to be judged (and hidden) as one."""
    names: list[tuple[str, ...]] = []
    if isinstance(value, list):
        for item in value[:3]:
            names.extend(n for n in field_keys(item, prefix, depth) if n not in names)
    elif isinstance(value, dict) and depth < 3:
        for key, item in value.items():
            name = (*prefix, str(key))
            names.append(name)
            names.extend(n for n in field_keys(item, name, depth + 1) if n not in names)
    return names


class Reader(ABC):
    """One dataset format. ``rows`` yields (line number, parsed row or problem) in file order."""

    def __init__(self, path: Path, compressed: bool) -> None:
        self.path = path
        self.compressed = compressed

    @abstractmethod
    def rows(self) -> Iterator[tuple[int, dict[str, Any] | ReadProblem]]: ...


#: A gzip file may expand to at most this many times its size (and never stops a file below the floor):
#: real JSONL and CSV compress 5-20x, a decompression bomb thousands of times.
MAX_EXPANSION = 200
MIN_EXPANDED_BYTES = 256 * 1024 * 1024
#: Blank lines cost a loop each and carry nothing: a run this long is a bomb, not a dataset.
MAX_BLANK_RUN = 100_000


def _expansion_limit(handle: IO[bytes]) -> int | None:
    raw = getattr(handle, "fileobj", None)
    if not isinstance(handle, gzip.GzipFile) or raw is None:
        return None
    try:
        size = os.fstat(raw.fileno()).st_size
    except (OSError, ValueError, AttributeError):
        return None
    return max(MIN_EXPANDED_BYTES, MAX_EXPANSION * size)


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes | ReadProblem]]:
    """Binary lines with bounded memory and time: an oversized line is drained and reported, not loaded;
    a gzip stream that expands past :data:`MAX_EXPANSION` times its file, or a run of more than
    :data:`MAX_BLANK_RUN` blank lines, stops reading with one problem that says so."""
    number = 0
    limit = _expansion_limit(handle)
    expanded = blank_run = 0
    while True:
        try:
            chunk = handle.readline(MAX_LINE_BYTES + 1)
        except (EOFError, OSError, zlib.error) as exc:
            yield number + 1, _stream_problem(number + 1, exc)
            return
        if not chunk:
            return
        number += 1
        expanded += len(chunk)
        blank_run = blank_run + 1 if not chunk.strip() else 0
        if blank_run > MAX_BLANK_RUN or (limit is not None and expanded > limit):
            yield number, _bomb(number, blank_run > MAX_BLANK_RUN)
            return
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            size = len(chunk)
            try:
                while chunk and not chunk.endswith(b"\n"):
                    chunk = handle.readline(1 << 20)
                    size += len(chunk)
                    expanded += len(chunk)
                    if limit is not None and expanded > limit:
                        yield number, _bomb(number, False)
                        return
            except (EOFError, OSError, zlib.error) as exc:
                yield number, _stream_problem(number, exc)
                return
            yield number, ReadProblem(line=number, reason=f"line too long ({size} bytes > "
                                                          f"{MAX_LINE_BYTES} byte limit), skipped")
            continue
        yield number, chunk


def _bomb(number: int, blank: bool) -> ReadProblem:
    why = (f"more than {MAX_BLANK_RUN:,} blank lines in a row" if blank else
           f"the gzip data expands to more than {MAX_EXPANSION} times the file's size")
    return ReadProblem(line=number, reason=f"{why} (a decompression bomb?); reading stopped here, the rest of the "
                                           "file was not scanned")


def _stream_problem(number: int, exc: BaseException) -> ReadProblem:
    """A file that cannot be read past some point (truncated or corrupt gzip, an I/O error): the records
    before it are scanned, and this one problem says where reading stopped -- a scan.json, not a crash."""
    if isinstance(exc, EOFError):
        why = "the gzip data ends early (truncated file)"
    elif isinstance(exc, zlib.error | gzip.BadGzipFile):
        why = "the gzip data is corrupt"
    else:
        why = f"read error ({type(exc).__name__}: {getattr(exc, 'strerror', None) or 'I/O error'})"
    return ReadProblem(line=number, reason=f"{why}; reading stopped here, the rest of the file was not scanned")


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
                    # some messages already end in "at" ("Invalid control character at")
                    what = exc.msg.removesuffix(" at")
                    yield number, ReadProblem(line=number, reason=f"invalid JSON ({what} at column "
                                                                  f"{exc.colno}), skipped")
                    continue
                except RecursionError:
                    yield number, ReadProblem(line=number, reason="invalid JSON (nested too deeply), skipped")
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
    """CSV with a header row. Line numbers are physical lines of the file, counted here rather than taken
    from ``csv.reader.line_num``: that counts only the lines the parser was given, so every line dropped
    before it (invalid UTF-8, too long) would shift all later numbers. A record spanning several lines (a
    quoted newline) is numbered by its first line."""

    #: the header row once read: ``auditor redact`` writes it back as it was (a row is a dict, and a dict
    #: cannot say in which order, or how many times, a name was in the header)
    header: list[str] | None = None

    def rows(self) -> Iterator[tuple[int, dict[str, Any] | ReadProblem]]:
        problems: list[ReadProblem] = []
        first_line: list[int | None] = [None]  # the first physical line the current record was parsed from
        last_line = [0]

        def decoded(handle: IO[bytes]) -> Iterator[str]:
            for number, raw in _lines(handle):
                if isinstance(raw, ReadProblem):
                    problems.append(raw)
                    continue
                text = _decode(number, raw)
                if isinstance(text, ReadProblem):
                    problems.append(text)
                    continue
                if first_line[0] is None:
                    first_line[0] = number
                last_line[0] = number
                yield text

        csv.field_size_limit(MAX_LINE_BYTES)  # the default (128 KiB) would reject long but valid texts
        with _open_binary(self.path, self.compressed) as handle:
            reader = csv.reader(decoded(handle))
            header: list[str] | None = None
            while True:
                first_line[0] = None
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    line = first_line[0] or last_line[0]
                    problems.append(ReadProblem(line=line, reason=f"malformed CSV ({exc}), skipped"))
                    continue
                finally:
                    while problems:
                        problem = problems.pop(0)
                        yield problem.line, problem
                number = first_line[0] or last_line[0]
                if header is None:
                    header = self.header = row
                    continue
                if not row:
                    continue
                if len(row) != len(header):
                    yield number, ReadProblem(
                        line=number, reason=f"{len(row)} columns where the header has {len(header)}, skipped")
                    continue
                yield number, dict(zip(header, row, strict=True))
            if header is None:
                raise ScanError(f"{self.path}: the CSV file has no header row")


def _open_parquet(path: Path, source: Any = None) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` (footer and schema read), or one :class:`ScanError` line."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(source if source is not None else str(path))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ScanError(f"{path}: not a readable Parquet file ({type(exc).__name__}: no valid footer; "
                        "truncated, corrupt or not Parquet)") from None


class ParquetReader(Reader):
    """Parquet, one row group at a time: a row group whose pages cannot be decoded (corrupt data, a bad
    checksum) is one :class:`ReadProblem` naming the first row not read, and the other row groups are still
    scanned. Rows are numbered from 1 across the file, unread ones included, so numbers stay true."""

    #: the file's Arrow schema once opened: ``auditor redact`` writes its output with the same one
    schema: Any = None

    def __init__(self, path: Path, compressed: bool, columns: Sequence[str] | None = None) -> None:
        super().__init__(path, compressed)
        self.columns = list(columns) if columns else None

    def rows(self) -> Iterator[tuple[int, dict[str, Any] | ReadProblem]]:
        import pyarrow as pa

        source: Any = None
        if self.compressed:
            try:
                with gzip.open(self.path, "rb") as handle:  # gzip is not seekable; parquet needs seeking
                    source = pa.BufferReader(handle.read())
            except (EOFError, OSError, zlib.error) as exc:
                raise ScanError(f"{self.path}: not a readable Parquet file ({type(exc).__name__}: truncated or "
                                "corrupt gzip)") from None
        parquet = _open_parquet(self.path, source)
        self.schema = parquet.schema_arrow
        names = set(parquet.schema_arrow.names)
        columns = [c for c in (self.columns or []) if c in names] or None
        start = 0
        for group in range(parquet.metadata.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            number = start
            try:
                for batch in parquet.iter_batches(batch_size=2048, row_groups=[group], columns=columns):
                    for row in batch.to_pylist():
                        number += 1
                        yield number, row
            except (pa.ArrowException, OSError, ValueError) as exc:
                yield number + 1, ReadProblem(
                    line=number + 1, reason=f"Parquet row group {group} cannot be read ({type(exc).__name__}: "
                                            f"corrupt data); rows {number + 1}-{start + size} skipped")
            start += size


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
                 user_id_field: str | None, *, all_columns: bool = False,
                 on_problem: Callable[[ReadProblem], None] | None = None) -> None:
        """``all_columns``: read every Parquet column, not only the ones holding texts (a rewrite keeps
        them all); ``on_problem``: called on each read problem before it is counted (it may raise, for a
        caller that cannot skip a record)."""
        self.path = path
        self.fmt = fmt
        self.text_fields = list(text_fields)
        self.paths = [f.split(".") for f in self.text_fields]
        self.user_path = user_id_field.split(".") if user_id_field else None
        self.user_id_field = user_id_field
        top = sorted({p[0] for p in self.paths} | ({self.user_path[0]} if self.user_path else set()))
        self.reader = make_reader(path, fmt, compressed, None if all_columns else top)
        self.on_problem = on_problem
        self.problems: list[ReadProblem] = []
        self.problems_total = 0
        self.max_problems_kept = 100
        self.rows_read = 0

    def _problem(self, problem: ReadProblem) -> None:
        if self.on_problem is not None:
            self.on_problem(problem)
        self.problems_total += 1
        if len(self.problems) < self.max_problems_kept:
            self.problems.append(problem)

    def __iter__(self) -> Iterator[Record]:
        for record, _ in self.with_rows():
            yield record

    def with_rows(self) -> Iterator[tuple[Record, dict[str, Any]]]:
        """Each record with the parsed row it was read from, in file order."""
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
            yield self._record(index, number, row), row
            index += 1
        for number, row in rows:
            if isinstance(row, ReadProblem):
                self._problem(row)
                continue
            yield self._record(index, number, row), row
            index += 1

    def _check_fields(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        wanted = list(self.text_fields) + ([self.user_id_field] if self.user_id_field else [])
        missing = [name for name in wanted if not any(has_path(r, name.split(".")) for r in rows)]
        if missing:
            available: list[tuple[str, ...]] = []
            for row in rows[:20]:
                available.extend(n for n in field_keys(row) if n not in available)
            visible = [name for name in map(shown_field_name, available) if name is not None]
            shown = unflagged(list(dict.fromkeys(visible))[:30])
            hidden = len(available) - len(shown)
            listed = ", ".join(shown) or "(none)"
            if hidden:
                listed += f" (and {hidden} more not shown)"
            which = "text field" if missing[0] in self.text_fields else "user id field"
            raise ScanError(f"{self.path}: {which} {missing[0]!r} not found in the first {len(rows)} records; "
                            f"fields present: {listed}{self._delimiter_hint(available)}")

    def _delimiter_hint(self, available: list[tuple[str, ...]]) -> str:
        """A CSV whose header parsed as one column holding ';' or a tab is almost surely not comma-separated;
        say so, since its one column name is hidden (it does not look like a plain name)."""
        if self.fmt != "csv" or len(available) != 1 or len(available[0]) != 1:
            return ""
        for delimiter, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
            if delimiter in available[0][0]:
                return (f"; the header has one column: is the file delimited by {name}? only comma-separated "
                        "CSV is read")
        return ""

    def _record(self, index: int, number: int, row: dict[str, Any]) -> Record:
        self.rows_read += 1
        # built from values this module just parsed: no need to validate them again
        units = [TextUnit.model_construct(field=leaf[0], path=name, text=leaf[1])
                 for name, leaf in text_leaves(row, self.text_fields, self.paths)]
        user = user_id_at(row, self.user_id_field) if self.user_id_field else None
        return Record.model_construct(index=index, line=number, texts=tuple(units), user_id=user)


__all__ = ["FORMATS", "Format", "Leaf", "ReadProblem", "Record", "RecordStream", "TextUnit", "check_readable",
           "infer_format", "locate", "text_leaves"]
