"""The detection driver both ``auditor scan`` and ``auditor redact`` run: batches of distinct texts out to
worker processes, results back in record order.

This is the scan's plug point for what a worker does with a batch. The scan's task detects (spans only);
the redaction's detects, rewrites and detects again. Either way the parent reads and consumes while the
workers compute, identical texts go out once (repeats are answered from a bounded cache, relying on results
coming back in submission order), and at most ``2 x workers`` batches are in flight, so memory does not
grow with the file.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar

from auditor.scan.read import Record
from auditor.scan.types import TextResult

BATCH_RECORDS = 512  # larger batches: fewer spaCy pipe() calls, each with fuller minibatches
#: Below this many records a worker pool costs more than it saves.
MIN_RECORDS_PER_WORKER = 400
DEDUP_CACHE_LIMIT = 200_000

R = TypeVar("R")
P = TypeVar("P")
#: A worker's job: the distinct texts of one batch, and what the task needs besides them (picklable).
Task = Callable[[tuple[list[str], P]], list[R]]


class Progress:
    """A rich progress bar on stderr (records/s, ETA); silent when disabled or stderr is not a terminal.

    It shows counts and the file's name only: never a value read from the file."""

    def __init__(self, enabled: bool, total: int | None, label: str) -> None:
        self.bar: Any = None
        self.task: Any = None
        if not enabled:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                                MofNCompleteColumn(), TextColumn("{task.fields[rate]} rec/s"), TimeElapsedColumn(),
                                TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False)
        self.task = self.bar.add_task(label, total=total, rate="-")
        self.started = time.perf_counter()
        self.bar.start()

    def advance(self, done: int) -> None:
        if self.bar is not None:
            rate = done / max(1e-9, time.perf_counter() - self.started)
            self.bar.update(self.task, completed=done, rate=f"{rate:,.0f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def worker_count(requested: int, expected_records: int | None) -> int:
    """Fewer workers than asked for a small file: each costs a process and a model in memory."""
    if expected_records is not None and expected_records < requested * MIN_RECORDS_PER_WORKER:
        return max(1, min(requested, expected_records // MIN_RECORDS_PER_WORKER))
    return requested


def batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def pool(workers: int, ner: bool) -> Any:
    from auditor.scan import engine

    methods = multiprocessing.get_all_start_methods()
    ctx: Any
    if "fork" in methods:
        engine.get_detector(ner)  # build once here; forked workers inherit it instead of loading the model
        ctx = multiprocessing.get_context("fork")
    else:
        ctx = multiprocessing.get_context("spawn")
    return ctx.Pool(workers, initializer=engine.init_worker, initargs=(ner,))


def detect(job: tuple[list[str], bool]) -> list[TextResult]:
    """The scan's task: spans for each text (``job[1]``: whether the NER tier runs)."""
    from auditor.scan.engine import detect_batch

    return detect_batch(job)


class Planner:
    """The reading side of de-duplication: turns a batch of records into one job of the texts not sent before.

    A text is sent once while the cache has room (``dedup_limit`` distinct texts, and only texts up to
    ``dedup_max_chars`` long when that is set); later records holding it are answered by the
    :class:`Receiver` from its cache. The two may live in different processes (the Ray engine plans in its
    reader, receives in the driver): they agree because jobs are received in the order they were planned.
    """

    def __init__(self, dedup_limit: int = DEDUP_CACHE_LIMIT, dedup_max_chars: int | None = None) -> None:
        self.dedup_limit = dedup_limit
        self.dedup_max_chars = dedup_max_chars
        self.planned: set[bytes] = set()

    def plan(self, batch: list[Record]) -> tuple[Plan, list[str]]:
        """The batch's plan (what the receiver needs) and the texts to send."""
        keys_per_record: list[list[bytes]] = []
        send_keys: list[bytes] = []
        cache_keys: list[bytes] = []
        send_texts: list[str] = []
        for record in batch:
            keys: list[bytes] = []
            for unit in record.texts:
                key = hashlib.blake2b(unit.text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                keys.append(key)
                if key not in self.planned:
                    if len(self.planned) < self.dedup_limit and (self.dedup_max_chars is None
                                                                 or len(unit.text) <= self.dedup_max_chars):
                        self.planned.add(key)
                        cache_keys.append(key)
                    send_keys.append(key)
                    send_texts.append(unit.text)
            keys_per_record.append(keys)
        return Plan(keys_per_record, send_keys, cache_keys), send_texts


class Plan(NamedTuple):
    """Which key each record's texts have, which were sent in this job, and which the receiver keeps."""

    keys_per_record: list[list[bytes]]
    send_keys: list[bytes]
    cache_keys: list[bytes]


class Receiver(Generic[R]):
    """The consuming side: a job's results, plus the cache, become each record's results, in record order."""

    def __init__(self) -> None:
        self.cache: dict[bytes, R] = {}

    def take(self, plan: Plan, result: list[R]) -> Iterator[list[R]]:
        local = dict(zip(plan.send_keys, result, strict=True))
        for key in plan.cache_keys:
            self.cache[key] = local[key]
        for keys in plan.keys_per_record:
            yield [local[k] if k in local else self.cache[k] for k in keys]


def drive(records: Iterable[Record], workers: int, ner: bool, consume: Callable[[Record, list[R]], None],
          progress: Progress, task: Task[P, R], payload: P, *, dedup_limit: int = DEDUP_CACHE_LIMIT,
          dedup_max_chars: int | None = None) -> None:
    """Run ``task`` over every record's texts and call ``consume(record, results)`` in record order.

    ``task`` must be a module-level function (it is pickled to the workers). ``dedup_limit`` bounds how many
    distinct texts are remembered, and ``dedup_max_chars`` which ones: a task whose results hold rewritten
    text caches short texts only, so the cache stays small whatever the records' length.
    """
    planner = Planner(dedup_limit, dedup_max_chars)
    receiver: Receiver[R] = Receiver()
    plans: deque[tuple[list[Record], Plan]] = deque()

    def jobs() -> Iterator[tuple[list[str], P]]:
        for batch in batches(records, BATCH_RECORDS):
            plan, texts = planner.plan(batch)
            plans.append((batch, plan))
            yield texts, payload

    done = 0

    def take(result: list[R]) -> None:
        nonlocal done
        batch, plan = plans.popleft()
        for record, results in zip(batch, receiver.take(plan, result), strict=True):
            consume(record, results)
        done += len(batch)
        progress.advance(done)

    if workers <= 1:
        for job in jobs():
            take(task(job))
        return
    # apply_async with a bounded queue, not imap: imap's feeder thread would read the whole file ahead.
    with pool(workers, ner) as workers_pool:
        pending: deque[Any] = deque()
        for job in jobs():
            pending.append(workers_pool.apply_async(task, (job,)))
            if len(pending) >= 2 * workers:
                take(pending.popleft().get())
        while pending:
            take(pending.popleft().get())
