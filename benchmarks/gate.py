"""Gate latency: ``auditor check examples/plan.yaml --scan SCAN`` wall time, median of repeated runs.

Target: ≤ 0.5 s on a 2-core machine, and no torch / transformers / opacus / spaCy / presidio import.
Reported against two anchors measured in the same run: a bare interpreter start and ``auditor --help``
(the floor any command pays), so the numbers mean the same on a faster or slower machine.

    python benchmarks/gate.py [--runs 15] [--scan scan.json]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLAN = REPO / "examples" / "plan.yaml"
HEAVY = ("torch", "transformers", "opacus", "spacy", "presidio_analyzer")


def _median_wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _scan_file(given: str | None, workdir: Path) -> Path:
    if given:
        return Path(given)
    out = workdir / "scan.json"
    done = subprocess.run([sys.executable, "-m", "auditor", "scan", "--plan", str(PLAN), "-o", str(out),
                           "--no-progress"], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.exists():
        sys.exit(f"could not scan the example dataset: {done.stderr.strip()}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--scan", default=None, help="saved scan.json (default: scan the example now)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scan = _scan_file(args.scan, Path(tmp))
        check = [sys.executable, "-m", "auditor", "check", str(PLAN), "--scan", str(scan), "--format", "json"]
        python = _median_wall([sys.executable, "-c", "pass"], args.runs)
        helptext = _median_wall([sys.executable, "-m", "auditor", "--help"], args.runs)
        gate = _median_wall(check, args.runs)
        # cli.main, not `python -m auditor`: the entry point ends the process before a probe could look
        probe = ("import sys; from auditor.cli import cli\n"
                 "try: cli.main(" + repr(check[3:]) + ", prog_name='auditor')\nexcept SystemExit: pass\n"
                 f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)")
        heavy = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                               check=False).stderr.strip().splitlines()[-1]
    print(f"runs per command:            {args.runs}")
    print(f"anchor python -c pass:       {python * 1000:7.1f} ms")
    print(f"anchor auditor --help:       {helptext * 1000:7.1f} ms")
    print(f"auditor check (median):      {gate * 1000:7.1f} ms   target ≤ 500 ms  -> {gate / 0.5:.2f}× of target")
    print(f"check / --help:              {gate / helptext:7.2f}×")
    print(f"check / python start:        {gate / python:7.2f}×")
    print(f"heavy modules imported:      {heavy}")
    if gate > 0.5 or heavy != "[]":
        sys.exit(1)


if __name__ == "__main__":
    main()
