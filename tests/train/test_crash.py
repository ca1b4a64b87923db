"""`kill -9` mid-training must never leave the ledger showing less ε than was spent; resume then settles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from auditor.privacy import accounting
from auditor.privacy.ledger import Ledger

RUNNER = """
import sys, torch
torch.set_num_threads(1)
from pathlib import Path
from auditor.plan import load_plan
from auditor.privacy.requirements import PrivacyBounds, merge
from auditor.train.api import run_training
req = merge([("testdp/TEST-DP", PrivacyBounds(max_epsilon=20.0, max_delta=1e-3))])
run_training(load_plan(sys.argv[1]), requirement=req, out_dir=Path(sys.argv[2]), ledger_dir=Path(sys.argv[3]),
             progress=False, resume=len(sys.argv) > 4)
"""


def _totals(plan: Path, ledger_dir: Path) -> Any:
    from auditor.fsutil import sha256_file
    from auditor.plan import load_plan
    from auditor.train.data import load_training_data, unit_identities

    doc = load_plan(plan)
    units = unit_identities(load_training_data(doc, bytes(32)))
    return Ledger(ledger_dir).totals(units, sha256_file(doc.dataset_path), accountant="rdp")


def test_kill_9_mid_training_never_under_reports(make_plan: Any, tmp_path: Path) -> None:
    import torch

    plan = make_plan(n=200, epochs=3, batch=50, epsilon=4.0)
    out, ledger_dir = tmp_path / "out", tmp_path / "ledger"
    args = [sys.executable, "-c", RUNNER, str(plan), str(out), str(ledger_dir)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = out / "checkpoint" / "checkpoint.pt"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists():
            state = torch.load(checkpoint, weights_only=False)
            if state["step"] >= 2:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "training ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = torch.load(checkpoint, weights_only=False)  # at least this much was spent (maybe one step more)
    spent_at_checkpoint = max(state["records"][-1]["epsilon_opacus"], state["records"][-1]["epsilon_pld"])
    totals = _totals(plan, ledger_dir)
    assert totals.epsilon_reserved == pytest.approx(4.0) and totals.epsilon_spent == 0
    assert totals.composed_epsilon >= spent_at_checkpoint
    # The open reservation counts the whole plan (ε ≈ 4 for all its steps), not what the checkpoint shows.
    fp = state["fingerprint"]
    planned = accounting.epsilon_pair(fp["sigma"], fp["sample_rate"], fp["steps"], fp["delta"], "rdp").enforced
    assert totals.composed_epsilon >= spent_at_checkpoint and 3.5 < planned <= 4.0
    assert totals.composed_epsilon == pytest.approx(planned, rel=0.05)

    finished = subprocess.run([*args, "resume"], capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
    totals = _totals(plan, ledger_dir)
    assert totals.runs == 1 and totals.epsilon_reserved == 0 and 0 < totals.epsilon_spent <= 4.0
    assert (out / "training.json").is_file() and not checkpoint.exists()
