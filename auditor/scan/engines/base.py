"""The scan's engine plug point: where the detection of a dataset's texts runs, behind one interface.

``auditor scan`` and ``auditor redact`` describe *what* to read (a :class:`Source`) and *what* each worker
does with a batch of texts (a task, as in :mod:`auditor.scan.drive`); an :class:`Engine` decides where it
runs -- worker processes on this machine (``local``), or a Ray Data pipeline on a local Ray instance or a
cluster (``ray``). Every engine reads with the same reader (:class:`~auditor.scan.read.RecordStream`),
de-duplicates with the same planner and hands each record back, in file order, with its results: so what
the caller aggregates is the same whichever engine ran.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from auditor.errors import ScanError
from auditor.scan.drive import DEDUP_CACHE_LIMIT, Progress, Task
from auditor.scan.read import Format, Reader, ReadProblem, Record, RecordStream

R = TypeVar("R")
P = TypeVar("P")
#: A parsed row, as the reader gave it (kept only when :attr:`Source.keep_rows` asks for it).
Row = dict[str, Any]
Consume = Callable[[Record, Row | None, list[R]], None]


@dataclass(frozen=True)
class Source:
    """What to read, as plain values: it is pickled to the process that reads (Ray's reader task).

    ``keep_rows``: read every column and hand each record's parsed row to the consumer (a rewrite writes it
    back); ``stop_on_problem``: a read problem stops the run with this explanation appended (a record that
    cannot be read cannot be redacted); ``sample``: scan a uniform sample of this many records (the local
    engine only: a sample is small by definition).
    """

    path: Path
    fmt: Format
    compressed: bool
    text_fields: tuple[str, ...]
    user_id_field: str | None = None
    keep_rows: bool = False
    stop_on_problem: str | None = None
    sample: int | None = None
    seed: int = 0

    def open(self) -> RecordStream:
        on_problem: Callable[[ReadProblem], None] | None = None
        if self.stop_on_problem is not None:
            path, why = self.path, self.stop_on_problem

            def stop(problem: ReadProblem) -> None:
                reason = problem.reason.removesuffix(", skipped")
                raise ScanError(f"{path}: line {problem.line}: {reason}; {why}")

            on_problem = stop
        return RecordStream(self.path, self.fmt, self.compressed, list(self.text_fields), self.user_id_field,
                            all_columns=self.keep_rows, on_problem=on_problem)


@dataclass(frozen=True)
class RunOptions:
    """How the texts are treated: whether the NER tier runs (a worker loads the model once), and how many
    distinct texts the de-duplication remembers (see :class:`auditor.scan.drive.Planner`)."""

    ner: bool = True
    dedup_limit: int = DEDUP_CACHE_LIMIT
    dedup_max_chars: int | None = None


class Reading(ABC, Generic[R]):
    """One pass over a source. After :meth:`run` it says what the reader met: rows read, read problems (the
    first 100 and the total), for a sample the population, and the format's reader as it stands (a CSV
    header, a Parquet schema: what a writer copies)."""

    workers: int = 1
    population: int | None = None

    @property
    @abstractmethod
    def rows_read(self) -> int: ...

    @property
    @abstractmethod
    def problems(self) -> list[ReadProblem]: ...

    @property
    @abstractmethod
    def problems_total(self) -> int: ...

    @property
    @abstractmethod
    def reader(self) -> Reader:
        """Valid from the first consumed record on."""

    @abstractmethod
    def run(self, task: Task[P, R], payload: P, consume: Consume[R], progress: Progress, options: RunOptions,
            on_read: Callable[[Record], None] | None = None) -> None:
        """Call ``consume(record, row, results)`` for each record in file order (a sample: in file order of
        the sampled ones), and ``on_read(record)`` for every record read, sampled or not."""


class Engine(ABC):
    """Where detection runs. ``workers``: processes or actors (None: as many as there are cores)."""

    name: str

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ScanError("--workers must be at least 1")
        self.requested = workers

    @abstractmethod
    def open(self, source: Source, expected: int | None) -> Reading[Any]:
        """A reading of ``source`` (``expected``: a cheap estimate of its records, or None); nothing is read
        until it runs."""
