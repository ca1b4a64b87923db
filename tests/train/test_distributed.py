"""``torchrun --nproc-per-node 2 -m auditor train``: two CPU processes (gloo) train the run one process would.

The mechanism's key is fixed for these tests (tests/train/fixed_key_train.py; in a real run it is a fresh
secret): the two ranks then draw the batches and the noise a single process draws, and everything the
guarantee rests on -- σ, q, the steps, ε -- must be equal, and the weights equal up to float summation order.
The plan's logical batch is 2 records, so a rank's share is often empty and so, now and then, is a whole
batch: both must still be one noisy step each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from tests.train.fixed_key_train import FIXED_KEY
from tests.train.test_cli import POLICY

REPO = Path(__file__).resolve().parents[2]
SAME = ("noise_multiplier", "sample_rate", "steps_planned", "steps", "delta", "epsilon", "epsilon_opacus",
        "epsilon_pld", "epsilon_per_step", "train_records", "eval_records", "max_grad_norm", "stop_reason")


def _job(make_plan: Any, tmp_path: Path, clipping: str = "bookkeeping") -> dict[str, Path]:
    from auditor.plan import load_plan
    from auditor.scan.api import save_scan, scan_plan_dataset

    plan = make_plan(n=60, epochs=1, batch=2, epsilon=4.0, clipping=clipping,
                     **{"name: tiny\n": "name: tiny\npurpose: triage\n"})
    policy = tmp_path / "testdp.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    scan = tmp_path / "scan.json"
    save_scan(scan_plan_dataset(load_plan(plan), progress=False, workers=1), scan)
    return {"plan": plan, "policy": policy, "scan": scan}


def _args(job: dict[str, Path], out: Path, ledger: Path, *extra: str) -> list[str]:
    return ["train", str(job["plan"]), "--scan", str(job["scan"]), "--policy", str(job["policy"]), "--out",
            str(out), "--ledger", str(ledger), "--no-progress", *extra]


def _torchrun(args: list[str], stop_before: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    helper = ["-m", "tests.train.fixed_key_train"] + (["--stop-before-step", str(stop_before)] if stop_before else [])
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           *helper, *args], capture_output=True, text=True, env=env, timeout=600, cwd=REPO)


def _weights(out: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(out / "model" / "model.safetensors"))


def _ledger(ledger: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (ledger / "ledger.jsonl").read_text().splitlines() if line.strip()]


def _single(job: dict[str, Path], out: Path, ledger: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from auditor.privacy import randomness

    monkeypatch.setattr(randomness, "fresh_key", lambda: FIXED_KEY)
    return CliRunner().invoke(cli, _args(job, out, ledger))


@pytest.mark.parametrize("clipping", ["bookkeeping", "hooks"])  # an empty share: a zero sum, either way
def test_two_gloo_processes_train_the_single_process_run(make_plan: Any, tmp_path: Path, clipping: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    job = _job(make_plan, tmp_path, clipping)
    single = _single(job, tmp_path / "one", tmp_path / "ledger-one", monkeypatch)
    assert single.exit_code == 0, single.output
    two = _torchrun(_args(job, tmp_path / "two", tmp_path / "ledger-two"))
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("trained ") == 1  # rank 0 alone reports
    a = json.loads((tmp_path / "one" / "training.json").read_text())
    b = json.loads((tmp_path / "two" / "training.json").read_text())
    assert {k: a[k] for k in SAME} == {k: b[k] for k in SAME}
    assert a["steps"] >= 20 and a["stop_reason"] == "completed" and b["clipping"]["used"] == clipping
    assert (a["processes"], b["processes"]) == (1, 2)
    one, both = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert one.keys() == both.keys()
    worst = max(float((one[k] - both[k]).abs().max()) for k in one)
    assert worst < 1e-4, worst
    # one reservation, settled once, by rank 0; one output folder, no checkpoint left (it holds the key)
    entries = _ledger(tmp_path / "ledger-two")
    assert [e["kind"] for e in entries] == ["reserve", "spend"] and {e["run_id"] for e in entries} == {b["run_id"]}
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["model", "training.json"]


def test_a_distributed_run_resumes_at_its_world_size_only(make_plan: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    job = _job(make_plan, tmp_path)
    out, ledger = tmp_path / "two", tmp_path / "ledger"
    stopped = _torchrun(_args(job, out, ledger), stop_before=9)
    assert stopped.returncode != 0 and "auditor: interrupted" in stopped.stderr
    assert (out / "checkpoint" / "checkpoint.pt").is_file()
    assert [e["kind"] for e in _ledger(ledger)] == ["reserve"]  # held, for --resume
    # one process cannot resume what two began; the run is left as it was
    refused = CliRunner().invoke(cli, _args(job, out, ledger, "--resume"))
    assert refused.exit_code == 2
    assert "written by 2 process(es), this run has 1" in refused.output and "--nproc-per-node 2" in refused.output
    assert (out / "checkpoint" / "checkpoint.pt").is_file() and [e["kind"] for e in _ledger(ledger)] == ["reserve"]
    resumed = _torchrun(_args(job, out, ledger, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    evidence = json.loads((out / "training.json").read_text())
    assert evidence["resumed"] and evidence["stop_reason"] == "completed"
    assert [e["kind"] for e in _ledger(ledger)] == ["reserve", "spend"]
    assert not (out / "checkpoint").exists()
    # the same steps, the same ε, and the same weights as one uninterrupted process
    single = _single(job, tmp_path / "one", tmp_path / "ledger-one", monkeypatch)
    assert single.exit_code == 0, single.output
    whole = json.loads((tmp_path / "one" / "training.json").read_text())
    assert {k: whole[k] for k in SAME} == {k: evidence[k] for k in SAME}
    one, both = _weights(tmp_path / "one"), _weights(out)
    assert max(float((one[k] - both[k]).abs().max()) for k in one) < 1e-4


def test_torchrun_runs_train_not_a_whole_audit_per_rank(make_plan: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun sets for each of its processes
    monkeypatch.setenv("LOCAL_RANK", "1")
    result = CliRunner().invoke(cli, ["audit", str(make_plan()), "--out", str(tmp_path / "audit")])
    assert result.exit_code == 2 and "run `auditor audit` in one process" in result.output
    assert not (tmp_path / "audit").exists()
