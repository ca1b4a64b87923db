"""The Ray engine: the scan as a Ray Data pipeline, on a local Ray instance or a cluster.

    our reader as a datasource  ->  map_batches(actor pool: one detector per actor)  ->  driver, in order

The datasource runs :class:`~auditor.scan.read.RecordStream` -- the reader every engine uses -- in one Ray
task on this machine's node (the file is here: the driver hashes it; Ray Data places a read that does not
support distributed reads on the driver's node), and plans de-duplication as the
local driver does (:class:`~auditor.scan.drive.Planner`): each block is one job of up to 512 records and
the distinct texts not sent before. A fixed pool of actors, each building the recognizers and the NER model
once, runs the same task the local workers run. ``preserve_order`` brings jobs back in file order, and the
driver (:class:`~auditor.scan.drive.Receiver`) hands each record and its results to the caller: the same
aggregation as ``--engine local``, so the same scan.json.

Nothing read from the dataset reaches a log or an error. Worker output is not forwarded to the driver,
Ray's own loggers are held to errors, and every exception raised in the reader or an actor is replaced,
where it happens, by one that carries our message (which never holds a value) or only the exception's type
name -- so Ray's task-error logs and tracebacks see no record text either. The embedded local instance
keeps its session folder (logs, sockets, any spilled objects) in a private temporary folder removed when the
scan ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import ray
from ray.data import ActorPoolStrategy, DataContext
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from auditor.errors import AuditorError, InternalError, ScanError
from auditor.scan.drive import BATCH_RECORDS, Plan, Planner, Progress, Receiver, Task
from auditor.scan.engines.base import Consume, Engine, Reading, Row, RunOptions, Source
from auditor.scan.read import Reader, ReadProblem, Record, TextUnit, make_reader

R = TypeVar("R")
P = TypeVar("P")

#: Ray's loggers on this side: errors only (the pipeline's failures reach the user as our one line).
_RAY_LOGGERS = ("ray", "ray.data", "ray.train", "ray.serve")
#: Records kept while their job is planned; a job's problems; the header/schema once.
_Meta = tuple[list[tuple[int, int, str | None, tuple[tuple[str, str, str], ...]]], list[Row] | None, Plan,
              list[ReadProblem], int, tuple[Any, Any] | None]


class RayEngine(Engine):
    """Ray Data on the Ray instance this process is connected to; else one it joins (``address``) or starts
    (embedded, offline: no dashboard, no usage statistics). ``workers``: actors (default: the cluster's CPUs)."""

    name = "ray"

    def __init__(self, workers: int | None = None, *, address: str | None = None) -> None:
        super().__init__(workers)
        self.address = address

    def open(self, source: Source, expected: int | None) -> Reading[Any]:
        if source.sample is not None:
            raise ScanError(f"{source.path}: --sample runs on the local engine (a sample is small); drop "
                            "--engine ray, or scan the whole file with it")
        return RayReading(source, self)


class RayReading(Reading[R]):
    def __init__(self, source: Source, engine: RayEngine) -> None:
        self.source = source
        self.engine = engine
        self._rows_read = 0
        self._problems: list[ReadProblem] = []
        self._problems_total = 0
        self._reader = make_reader(source.path, source.fmt, source.compressed)

    @property
    def rows_read(self) -> int:
        return self._rows_read

    @property
    def problems(self) -> list[ReadProblem]:
        return self._problems

    @property
    def problems_total(self) -> int:
        return self._problems_total

    @property
    def reader(self) -> Reader:
        return self._reader

    def run(self, task: Task[P, R], payload: P, consume: Consume[R], progress: Progress, options: RunOptions,
            on_read: Callable[[Record], None] | None = None) -> None:
        # The first rows, read here: a missing field (or, for a rewrite, an unreadable first record) is the
        # same one-line error as on the local engine, before any Ray work starts.
        probe = iter(self.source.open())
        next(probe, None)
        del probe
        with ray_session(self.engine.address):
            cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
            self.workers = self.engine.requested or max(1, int(cpus))
            receiver: Receiver[R] = Receiver()
            done = 0
            try:
                for meta, results in _pipeline(self.source, task, payload, options, self.workers):
                    records, rows, plan, problems, problems_total, reader_meta = meta
                    self._problems.extend(problems[: max(0, 100 - len(self._problems))])
                    self._problems_total = problems_total
                    if reader_meta is not None:
                        self._reader.header, self._reader.schema = reader_meta  # type: ignore[attr-defined]
                    for i, (packed, answers) in enumerate(zip(records, receiver.take(plan, results), strict=True)):
                        record = _unpack(packed)
                        self._rows_read += 1
                        if on_read is not None:
                            on_read(record)
                        consume(record, rows[i] if rows is not None else None, answers)
                    done += len(records)
                    progress.advance(done)
            except AuditorError:
                raise
            except Exception as exc:
                raise _surfaced(exc) from None


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Ray for one run: the connection this process already has (a library caller's, a test's) as it is,
    whatever ``address`` says; else join ``address`` or start an embedded instance -- and end what was started
    here, and only that."""
    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: Ray would otherwise try to report usage
    if address:
        _check_reachable(address)
    folder = None if address else tempfile.mkdtemp(prefix="auditor-ray-")
    _quiet()
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR,
                     configure_logging=True)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR, configure_logging=True, _temp_dir=folder)
    except Exception as exc:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        if address:  # the user's address: input (exit 2)
            raise ScanError(f"cannot start or join the Ray cluster at --ray-address {address} "
                            f"({type(exc).__name__})") from None
        raise InternalError(f"cannot start a local Ray instance ({type(exc).__name__})") from None
    try:
        yield
    finally:
        ray.shutdown()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _check_reachable(address: str) -> None:
    """A ``host:port`` nobody listens on fails here in seconds, as one line: ``ray.init`` would retry it for
    minutes. (``auto``, ``ray://`` and other forms are left to Ray.)"""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in address:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            return
    except OSError as exc:
        raise ScanError(f"cannot start or join the Ray cluster at --ray-address {address} (nothing answers "
                        f"there: {type(exc).__name__})") from None


def _pipeline(source: Source, task: Task[P, R], payload: P, options: RunOptions,
              workers: int) -> Iterator[tuple[_Meta, list[R]]]:
    """The Ray Data pipeline, its jobs back in file order."""
    context = DataContext.get_current()
    saved = (context.execution_options.preserve_order, context.enable_progress_bars,
             context.print_on_execution_start, context.enable_auto_log_stats, context.target_max_block_size,
             context.raise_original_map_exception, logging.getLogger("ray.data").level)
    context.execution_options.preserve_order = True  # the receiver's cache needs jobs in planning order
    # a failed job raises the worker's own (cleaned) exception, not Ray's wrapper that has lost it
    context.raise_original_map_exception = True
    # Ray Data logs each failure to the console (ERROR): the user gets it as our one line instead
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    context.enable_progress_bars = context.print_on_execution_start = context.enable_auto_log_stats = False
    # One job per block: Ray Data would otherwise buffer the reader's small blocks into one large block,
    # which a single actor then works through alone (and which holds the whole file in memory).
    context.target_max_block_size = 1
    with warnings.catch_warnings():
        # max_restarts has no named parameter yet; a file of fewer jobs than actors leaves some idle
        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
        warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
        yield from _run_pipeline(source, task, payload, options, workers, context, saved)


def _run_pipeline(source: Source, task: Task[P, R], payload: P, options: RunOptions, workers: int, context: Any,
                  saved: tuple[Any, ...]) -> Iterator[tuple[_Meta, list[R]]]:
    try:
        # num_cpus=0: the reader must never wait for a CPU the actors hold (a 2-CPU instance with 2 actors
        # would otherwise deadlock); it is one light process beside them.
        jobs = ray.data.read_datasource(_JobSource(source, options), override_num_blocks=1, num_cpus=0)
        detected = jobs.map_batches(_Detect, fn_constructor_args=(task, payload, options.ner), batch_size=1,
                                    batch_format="pyarrow", compute=ActorPoolStrategy(size=workers), num_cpus=1,
                                    # a lost actor fails the scan (exit 3) instead of being restarted: Ray
                                    # cannot reliably restart an actor whose constructor arguments live in the
                                    # object store (ray#53727), and a scan is simply run again
                                    max_restarts=0)
        for block in detected.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1):
            for meta, results in zip(block.column("meta").to_pylist(), block.column("results").to_pylist(),
                                     strict=True):
                yield pickle.loads(meta), pickle.loads(results)
    finally:
        (context.execution_options.preserve_order, context.enable_progress_bars, context.print_on_execution_start,
         context.enable_auto_log_stats, context.target_max_block_size, context.raise_original_map_exception,
         level) = saved
        logging.getLogger("ray.data").setLevel(level)


class _JobSource(Datasource):
    """The datasource: one read task that streams the file into jobs (see the module docstring)."""

    def __init__(self, source: Source, options: RunOptions) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.source = source
        self.options = options

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_name(self) -> str:
        return "AuditorRecords"

    @property
    def supports_distributed_reads(self) -> bool:
        """False: Ray Data then runs the read on the driver's node, where the file is (as for ``local://``)."""
        return False

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context: Any = None) -> list[ReadTask]:
        source, options = self.source, self.options
        metadata = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
        return [ReadTask(lambda: _read_jobs(source, options), metadata)]


def _read_jobs(source: Source, options: RunOptions) -> Iterator[Any]:
    """The read task: records in file order, batched and planned, one block per job; a final block carries
    the read problems met after the last record (and, for an empty file, the header)."""
    import pyarrow as pa

    def block(meta: _Meta, texts: list[str]) -> Any:
        return pa.table({"meta": pa.array([pickle.dumps(meta, protocol=5)], pa.large_binary()),
                         "texts": pa.array([pickle.dumps(texts, protocol=5)], pa.large_binary())})

    _quiet()
    try:
        stream = source.open()
        planner = Planner(options.dedup_limit, options.dedup_max_chars)
        shipped = 0
        reader_meta: tuple[Any, Any] | None = None
        sent_meta = False
        batch: list[tuple[Record, Row]] = []
        pairs = iter(stream.with_rows())
        while True:
            item = next(pairs, None)
            if item is not None:
                batch.append(item)
            if batch and (item is None or len(batch) >= BATCH_RECORDS):
                records = [record for record, _ in batch]
                plan, texts = planner.plan(records)
                if not sent_meta:
                    reader_meta = (getattr(stream.reader, "header", None), getattr(stream.reader, "schema", None))
                    sent_meta = True
                rows = [row for _, row in batch] if source.keep_rows else None
                yield block(([_pack(r) for r in records], rows, plan, stream.problems[shipped:],
                             stream.problems_total, reader_meta), texts)
                shipped, reader_meta, batch = len(stream.problems), None, []
            if item is None:
                break
        if not sent_meta:
            reader_meta = (getattr(stream.reader, "header", None), getattr(stream.reader, "schema", None))
        yield block(([], None, Plan([], [], []), stream.problems[shipped:], stream.problems_total, reader_meta), [])
    except Exception as exc:
        raise _cleaned(exc, "reader") from None


class _Detect:
    """One actor of the pool: the detector (and the NER model) built once, then one job per call."""

    def __init__(self, task: Task[P, R], payload: P, ner: bool) -> None:
        _quiet()
        from auditor.scan.engine import init_worker

        self.task: Callable[[tuple[list[str], Any]], list[Any]] = task
        self.payload = payload
        try:
            init_worker(ner)
        except Exception as exc:
            raise _cleaned(exc, "worker") from None

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        out = []
        for blob in batch.column("texts").to_pylist():
            texts = pickle.loads(blob)
            try:
                results = self.task((texts, self.payload)) if texts else []
            except Exception as exc:
                raise _cleaned(exc, "worker") from None
            out.append(pickle.dumps(results, protocol=5))
        return pa.table({"meta": batch.column("meta"), "results": pa.array(out, pa.large_binary())})


def _pack(record: Record) -> tuple[int, int, str | None, tuple[tuple[str, str, str], ...]]:
    return record.index, record.line, record.user_id, tuple((u.field, u.path, u.text) for u in record.texts)


def _unpack(packed: tuple[int, int, str | None, tuple[tuple[str, str, str], ...]]) -> Record:
    index, line, user, units = packed
    return Record.model_construct(index=index, line=line, user_id=user,
                                  texts=tuple(TextUnit.model_construct(field=f, path=p, text=t) for f, p, t in units))


def _cleaned(exc: BaseException, where: str) -> AuditorError:
    """The exception to let Ray see, raised where the original was: ours keep their message (which never
    holds a value); any other keeps only its type name -- a library's message may quote the text."""
    if isinstance(exc, AuditorError):
        return type(exc)(exc.message)
    return InternalError(f"the ray engine's {where} failed ({type(exc).__name__}; the message is withheld: it "
                         "may quote the data)")


def _surfaced(exc: BaseException) -> AuditorError:
    """What the driver raises for a failed pipeline: the worker's own error if one is in the chain, else
    Ray's failure by type name only."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, AuditorError) and type(current).__module__.startswith("auditor"):
            return type(current)(current.message)
        todo.extend([getattr(current, "cause", None), current.__cause__, current.__context__])
    return InternalError(f"the ray engine failed ({type(exc).__name__})")


def _quiet() -> None:
    for name in _RAY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
