"""Writers, one per format the scan reads (the mirror of :mod:`auditor.scan.read`): same records, same order.

Each gets the row the reader parsed, with the redacted texts already put back in their leaves, and writes it
as the format writes a row: JSON lines with their keys in order, the CSV under its original header, Parquet
with the source's schema (metadata included), text lines with the blank lines between them. gzip output is
written with no name and no timestamp in its header, so one input and one key give byte-identical output --
and the same sha256 in the evidence -- on every run.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from abc import ABC, abstractmethod
from typing import IO, Any, cast

from auditor.errors import InputError
from auditor.scan.read import CsvReader, ParquetReader, Reader


class Writer(ABC):
    """Rows in, bytes out to ``handle`` (an open binary file, gzip-wrapped when the source was)."""

    def __init__(self, handle: IO[bytes], reader: Reader) -> None:
        self.handle = handle
        self.reader = reader

    @abstractmethod
    def write(self, line: int, row: dict[str, Any]) -> None: ...

    def close(self) -> None:  # noqa: B027 - most writers buffer nothing
        """Flush what is buffered (the handle itself is closed by the caller)."""


def json_line(row: dict[str, Any]) -> bytes:
    """One JSON line as UTF-8; a lone surrogate that JSON allowed in (``"\\ud800"``) is written escaped."""
    try:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(row, ensure_ascii=True) + "\n").encode("ascii")


class JsonlWriter(Writer):
    def write(self, line: int, row: dict[str, Any]) -> None:
        self.handle.write(json_line(row))


class TextWriter(Writer):
    """Line ``n`` of the source is line ``n`` of the output: the blank lines the reader skips are kept."""

    def __init__(self, handle: IO[bytes], reader: Reader) -> None:
        super().__init__(handle, reader)
        self.last = 0

    def write(self, line: int, row: dict[str, Any]) -> None:
        gap = max(0, line - self.last - 1)
        self.handle.write(b"\n" * gap + str(row["text"]).encode("utf-8") + b"\n")
        self.last = line


class CsvWriter(Writer):
    def __init__(self, handle: IO[bytes], reader: Reader, line_end: str) -> None:
        super().__init__(handle, reader)
        self.text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=True)
        self.csv = csv.writer(self.text, lineterminator=line_end)
        self.header: list[str] | None = None

    def write(self, line: int, row: dict[str, Any]) -> None:
        if self.header is None:
            assert isinstance(self.reader, CsvReader) and self.reader.header is not None
            self.header = list(self.reader.header)
            if len(set(self.header)) != len(self.header):
                raise InputError(f"{self.reader.path}: the CSV header names a column twice; a row read from it "
                                 "cannot be written back whole (rename the duplicate column)")
            self.csv.writerow(self.header)
        self.csv.writerow([row[name] for name in self.header])

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the binary handle stays open for the caller to close


class ParquetWriter(Writer):
    """Buffered in row batches, written with the source's Arrow schema."""

    BATCH = 2048

    def __init__(self, handle: IO[bytes], reader: Reader) -> None:
        super().__init__(handle, reader)
        self.rows: list[dict[str, Any]] = []
        self.lines: list[int] = []
        self.writer: Any = None

    def write(self, line: int, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.lines.append(line)
        if len(self.rows) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert isinstance(self.reader, ParquetReader) and self.reader.schema is not None
        schema = self.reader.schema
        if self.writer is None:
            self.writer = pq.ParquetWriter(pa.PythonFile(self.handle, mode="w"), schema)
        if not self.rows:
            return
        try:
            table = pa.Table.from_pylist(self.rows, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise InputError(f"{self.reader.path}: rows {self.lines[0]}-{self.lines[-1]} do not fit the source's "
                             f"Parquet schema after redaction ({type(exc).__name__})") from None
        self.writer.write_table(table)
        self.rows, self.lines = [], []

    def close(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()


def line_ending(reader: Reader) -> str:
    """The CSV's own line ending (``\\r\\n`` or ``\\n``), read from its first line."""
    try:
        with gzip.open(reader.path, "rb") if reader.compressed else reader.path.open("rb") as handle:
            head = handle.read(1 << 16)
    except (OSError, EOFError):
        return "\n"
    end = head.find(b"\n")
    return "\r\n" if end > 0 and head[end - 1:end] == b"\r" else "\n"


def make_writer(fmt: str, handle: IO[bytes], reader: Reader) -> Writer:
    if fmt == "jsonl":
        return JsonlWriter(handle, reader)
    if fmt == "csv":
        return CsvWriter(handle, reader, line_ending(reader))
    if fmt == "parquet":
        return ParquetWriter(handle, reader)
    return TextWriter(handle, reader)


def open_output(handle: IO[bytes], compressed: bool) -> IO[bytes]:
    """``handle`` itself, or a gzip stream over it with an empty name and mtime 0 (reproducible bytes)."""
    if not compressed:
        return handle
    return cast(IO[bytes], gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0))
