"""``python benchmarks/scan.py --engine ray``: the Ray engine against the local engine, in the same run.

(1) Throughput: the same corpus file scanned by ``--engine local`` (the anchor) and ``--engine ray`` with 1 and
    2 workers / actors, each a whole ``auditor scan`` (reading, detection, aggregation, findings). The Ray
    instance is started once, before the timings (its start-up is reported on its own); each Ray scan still
    pays for starting its actors, which load the detector and the NER model (the local engine forks workers
    from a parent that already holds them). Reported as ray / local ratios at each worker count.
    Each engine also scans a file twice as long (2 workers): the difference between the two gives its
    per-record rate without its fixed start-up cost, and that cost itself.
(2) Memory: the Ray engine (identifier and lexicon tiers: no NER, so that a larger file runs in minutes) on
    files of N and 5N records; the peak resident memory of the whole process tree (driver, Ray's processes,
    actors) is sampled throughout. Bounded memory means the peak does not grow with the file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _scan_corpus import make_corpus, write_corpus


def _tree_rss() -> int:
    import psutil

    me = psutil.Process()
    total = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


class PeakMemory:
    """Samples the process tree's resident memory every 0.2 s while it is entered."""

    def __enter__(self) -> PeakMemory:
        self.peak, self.running = _tree_rss(), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, _tree_rss())
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()


def _bigger(corpus_file: Path, out: Path, records: int) -> int:
    """``records`` lines cycled from the corpus, each made distinct (so de-duplication cannot shrink the work)."""
    lines = corpus_file.read_text(encoding="utf-8").splitlines()
    size = 0
    with out.open("w", encoding="utf-8") as handle:
        for i in range(records):
            row = json.loads(lines[i % len(lines)])
            row["text"] = f"{row['text']} #{i}"
            line = json.dumps(row, ensure_ascii=False) + "\n"
            size += len(line.encode("utf-8"))
            handle.write(line)
    return size


def main_ray(records: int, memory_records: int, seed: int, json_out: Path | None) -> None:
    import ray

    from auditor.scan.api import scan_dataset
    from auditor.scan.engine import get_detector
    from auditor.scan.scanner import ScanOptions, run_scan

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    get_detector(True)  # the local engine's parent holds it before its workers fork, as in `auditor scan`
    results: dict[str, Any] = {"records": records, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        path = write_corpus(make_corpus(records, seed=seed), Path(folder) / "corpus.jsonl")
        double = write_corpus(make_corpus(2 * records, seed=seed), Path(folder) / "double.jsonl")
        rates: dict[tuple[str, int], float] = {}
        seconds: dict[tuple[str, int], float] = {}

        def timed(engine: str, workers: int, file: Path = path) -> None:
            scanned = scan_dataset(file, text_fields=["text"], workers=workers, progress=False, engine=engine,
                                   findings_path=Path(folder) / f"{engine}-{workers}.findings.jsonl")
            if file == double:
                seconds[engine, 2 * records] = scanned.duration_s
                return
            if workers == 2:
                seconds[engine, records] = scanned.duration_s
            rates[engine, workers] = scanned.records_scanned / scanned.duration_s
            results[f"{engine}_{workers}_rec_s"] = round(rates[engine, workers], 1)
            print(f"  {engine:5} engine, {workers} worker(s): {rates[engine, workers]:7,.0f} records/s "
                  f"({scanned.duration_s:.1f}s)")

        def steady(engine: str) -> None:
            per_record = (seconds[engine, 2 * records] - seconds[engine, records]) / records
            fixed = seconds[engine, records] - per_record * records
            results[f"{engine}_2_steady_rec_s"] = round(1 / per_record, 1) if per_record > 0 else None
            results[f"{engine}_2_fixed_s"] = round(fixed, 2)
            print(f"  {engine:5} engine, 2 workers, from {records} vs {2 * records} records: "
                  f"{(1 / per_record if per_record > 0 else float('nan')):7,.0f} records/s once started, "
                  f"{fixed:.1f}s fixed cost")

        print(f"corpus: {records} records")
        for workers in (1, 2):  # before Ray starts: its processes would compete with the local workers
            timed("local", workers)
        timed("local", 2, double)
        steady("local")
        started = time.perf_counter()
        session = tempfile.mkdtemp(prefix="r-")  # short: Ray's socket paths live under it
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", _temp_dir=session)
        results["ray_start_s"] = round(time.perf_counter() - started, 2)
        print(f"  (Ray instance started in {results['ray_start_s']:.1f}s, not in the timings)")
        for workers in (1, 2):
            timed("ray", workers)
        timed("ray", 2, double)
        steady("ray")
        for workers in (1, 2):
            ratio = rates["ray", workers] / rates["local", workers]
            results[f"ratio_ray_vs_local_{workers}"] = round(ratio, 3)
            print(f"ratio ray / local at {workers} worker(s): {ratio:.2f}")
        if results.get("ray_2_steady_rec_s") and results.get("local_2_steady_rec_s"):
            steady_ratio = results["ray_2_steady_rec_s"] / results["local_2_steady_rec_s"]
            results["ratio_ray_vs_local_2_steady"] = round(steady_ratio, 3)
            print(f"ratio ray / local at 2 workers once started: {steady_ratio:.2f}")
        print("memory (ray engine, 2 actors, no NER; peak resident memory of driver + Ray + actors):")
        for count in (memory_records, 5 * memory_records):
            big = Path(folder) / f"big-{count}.jsonl"
            size = _bigger(path, big, count)
            with PeakMemory() as peak:
                scanned = run_scan(ScanOptions(path=big, text_fields=("text",), workers=2, progress=False,
                                               ner=False, engine="ray"))
            results[f"memory_{count}_file_mb"] = round(size / 1e6, 1)
            results[f"memory_{count}_peak_rss_mb"] = round(peak.peak / 1e6, 1)
            print(f"  {count:>9,} records, {size / 1e6:7.1f} MB file: peak {peak.peak / 1e6:7.1f} MB resident "
                  f"({scanned.records_per_s:,.0f} records/s)")
            big.unlink()
        ray.shutdown()
        shutil.rmtree(session, ignore_errors=True)
    first, second = (results[f"memory_{n}_peak_rss_mb"] for n in (memory_records, 5 * memory_records))
    results["memory_growth_5x_file"] = round(second / first, 3)
    print(f"memory: 5x the file, {second / first:.2f}x the peak")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if json_out:
        json_out.write_text(json.dumps(results, indent=2), encoding="utf-8")
