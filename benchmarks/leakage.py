"""Leakage audit benchmark: the same small setting trained with DP (ε = 1) and without (several epochs), the
audit's numbers side by side, and the audit's cost against the training's, all in one process.

    python benchmarks/leakage.py                          # bundled MiniLM classifier on the example tickets
    python benchmarks/leakage.py --task causal-lm         # bundled SmolLM2 with DP-LoRA on the example chats
    python benchmarks/leakage.py --tiny                   # the test suite's 2-layer models (a smoke run)

Checks (exit 1 when one fails): the non-DP run leaks more than the DP run (canary AUC and ε lower bound),
and the DP run's ε lower bound stays at or below its ε. Reported, as a ratio in the same run: audit wall time
/ training wall time (goal ≤ 0.25). Canaries, coins and the ledger are fresh per run (a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PLAN = """version: 1
name: leakage-benchmark
dataset: {{path: {data}, text_fields: [{field}]{label}, user_id_field: customer_id}}
model: {{base: "{base}", task: {task}{labels}}}
training: {{epochs: {epochs}, batch_size: {batch}, physical_batch_size: {physical}, learning_rate: {lr},
           max_seq_len: {seq}, device: auto, eval_fraction: 0.2{layers}}}
privacy: {{mechanism: {mechanism}, target_epsilon: 1.0, max_grad_norm: 1.0, accountant: prv, unit: user}}
audit: {{canaries: {canaries}, membership_records: {records}, exposure_candidates: {candidates},
        extraction_samples: {samples}, max_new_tokens: 24}}
"""


def _setting(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Model, data and sizes for the chosen task: the bundled model on the bundled example, or tiny ones."""
    lm = args.task == "causal-lm"
    if args.tiny:
        from tests.train.conftest import make_tiny_llama, make_tiny_model, write_chats, write_dataset

        data = folder / "data.jsonl"
        if lm:
            write_chats(data, 400, users=300)
            base = make_tiny_llama(folder / "model")
        else:
            write_dataset(data, 400, users=300)
            base = make_tiny_model(folder / "model")
        return {"data": data, "base": base, "batch": 50, "physical": 25, "seq": 32, "lr": 0.05 if lm else 0.01,
                "canaries": 100,
                "records": 60, "candidates": 100, "samples": 16 if lm else 0}
    source = REPO / "examples" / ("chat/data/chats.jsonl" if lm else "data/tickets.jsonl")
    data = folder / "data.jsonl"
    lines = source.read_text(encoding="utf-8").splitlines()[: args.records]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"data": data, "base": "bundled:smollm2" if lm else "bundled:minilm", "batch": 60 if lm else 128,
            "physical": 12 if lm else 32, "seq": 96 if lm else 64, "lr": 0.002 if lm else 0.005, "canaries": 100,
            "records": 50 if lm else 200, "candidates": 200, "samples": 24 if lm else 0}


def _run(args: argparse.Namespace, folder: Path, setting: dict[str, Any], dp: bool) -> dict[str, Any]:
    from auditor.leakage.model import LeakageReport
    from auditor.plan import load_plan
    from auditor.privacy.requirements import PrivacyBounds, merge
    from auditor.train.api import run_training

    lm = args.task == "causal-lm"
    plan = folder / ("dp.yaml" if dp else "plain.yaml")
    plan.write_text(PLAN.format(
        data=setting["data"].name, field="messages" if lm else "text", label="" if lm else ", label_field: label",
        base=setting["base"], task=args.task, labels="" if lm else ", num_labels: 4",
        # the classifier trains its top two layers and head (as the bundled example does): at this learning
        # rate every layer of MiniLM would be overwritten without DP's clipping, and nothing learned
        layers="" if lm or args.tiny else ", trainable_layers: 2",
        epochs=1 if dp else args.epochs, batch=setting["batch"], physical=setting["physical"], lr=setting["lr"],
        seq=setting["seq"], mechanism="dp-sgd" if dp else "none", canaries=setting["canaries"],
        records=setting["records"], candidates=setting["candidates"], samples=setting["samples"]),
        encoding="utf-8")
    requirement = merge([("benchmark/DP", PrivacyBounds(max_epsilon=1.0, max_grad_norm=1.0))]) if dp else merge([])
    out = folder / ("out-dp" if dp else "out-plain")
    evidence = run_training(load_plan(plan), requirement=requirement, out_dir=out, ledger_dir=folder / "ledger",
                            progress=False)
    report = LeakageReport.model_validate_json((out / "leakage.json").read_text(encoding="utf-8"))
    m, b, x, e = report.membership, report.epsilon_lower_bound, report.exposure, report.extraction
    one = next((t for t in (m.tpr_at_fpr if m else []) if t.fpr == 0.01), None)
    return {
        "epsilon": evidence.epsilon, "epochs": evidence.epochs_planned, "steps": evidence.steps,
        "canary_auc": m.auc if m else None, "tpr_at_1pct_fpr": one.tpr if one else None,
        "tpr_at_1pct_ci95": one.ci95 if one else None, "real_records_auc": m.real_records_auc if m else None,
        "epsilon_lower_bound": b.value if b else None, "ceiling": b.ceiling if b else None,
        "exposure_median": x.median if x else None, "exposure_max": x.max if x else None,
        "training_pii_reproduced": e.training_pii_reproduced if e else None,
        "training_wall_s": evidence.wall_time_s - report.wall_time_s, "audit_wall_s": report.wall_time_s,
        "audit_timings": report.timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["sequence-classification", "causal-lm"], default="sequence-classification")
    parser.add_argument("--tiny", action="store_true", help="the test suite's tiny models built from configs")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the non-DP run")
    parser.add_argument("--records", type=int, default=1500, help="records of the bundled example used")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    folder = Path(tempfile.mkdtemp(prefix="auditor-leakage-bench-"))
    try:
        setting = _setting(args, folder)
        dp, plain = _run(args, folder, setting, True), _run(args, folder, setting, False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    checks = {
        "non_dp_leaks_more_auc": (plain["canary_auc"] or 0) > (dp["canary_auc"] or 0),
        "non_dp_bound_at_least_dp": (plain["epsilon_lower_bound"] or 0) >= (dp["epsilon_lower_bound"] or 0),
        "dp_bound_within_epsilon": dp["epsilon_lower_bound"] is not None and dp["epsilon"] is not None
        and dp["epsilon_lower_bound"] <= dp["epsilon"] + 1e-9,
    }
    result = {"task": args.task, "model": "tiny" if args.tiny else str(setting["base"]),
              "device": "cuda" if torch.cuda.is_available() else f"cpu x{torch.get_num_threads()} threads",
              "dp": dp, "non_dp": plain, "checks": checks,
              "audit_over_training": {"dp": dp["audit_wall_s"] / dp["training_wall_s"],
                                      "non_dp": plain["audit_wall_s"] / plain["training_wall_s"]}}
    print(json.dumps(result, indent=2))
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
