"""The local engine: worker processes on this machine (:func:`auditor.scan.drive.drive`), the parent reading."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from auditor.scan.drive import Progress, Task, drive, worker_count
from auditor.scan.engines.base import Consume, Engine, Reading, Row, RunOptions, Source
from auditor.scan.read import Reader, ReadProblem, Record, RecordStream

R = TypeVar("R")
P = TypeVar("P")


class LocalReading(Reading[R]):
    def __init__(self, source: Source, workers: int) -> None:
        self.source = source
        self.workers = workers
        self.stream: RecordStream = source.open()

    @property
    def rows_read(self) -> int:
        return self.stream.rows_read

    @property
    def problems(self) -> list[ReadProblem]:
        return self.stream.problems

    @property
    def problems_total(self) -> int:
        return self.stream.problems_total

    @property
    def reader(self) -> Reader:
        return self.stream.reader

    def run(self, task: Task[P, R], payload: P, consume: Consume[R], progress: Progress, options: RunOptions,
            on_read: Callable[[Record], None] | None = None) -> None:
        source = self.source
        rows: dict[int, Row] = {}

        def records() -> Iterator[Record]:
            for record, row in self.stream.with_rows():
                if on_read is not None:
                    on_read(record)
                if source.keep_rows:
                    rows[record.index] = row
                yield record

        chosen: Iterable[Record] = records()
        if source.sample is not None:
            chosen, self.population = reservoir(chosen, source.sample, source.seed)
        drive(chosen, self.workers, options.ner,
              lambda record, results: consume(record, rows.pop(record.index, None), results), progress, task,
              payload, dedup_limit=options.dedup_limit, dedup_max_chars=options.dedup_max_chars)


def reservoir(records: Iterable[Record], size: int, seed: int) -> tuple[list[Record], int]:
    """A uniform sample of ``size`` records (seeded: the same file and seed give the same sample), in file
    order, and how many records there were."""
    rng = random.Random(seed)
    kept: list[Record] = []
    total = 0
    for record in records:
        total += 1
        if len(kept) < size:
            kept.append(record)
        else:
            j = rng.randrange(total)
            if j < size:
                kept[j] = record
    kept.sort(key=lambda r: r.index)
    return kept, total


class LocalEngine(Engine):
    """Worker processes forked from this one (default: one per core; fewer for a small file)."""

    name = "local"

    def open(self, source: Source, expected: int | None) -> Reading[Any]:
        requested = self.requested if self.requested is not None else (os.cpu_count() or 1)
        return LocalReading(source, worker_count(requested, expected))
