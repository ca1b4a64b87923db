"""The example plan, trained with Hugging Face's Trainer under the policies' DP requirement.

    python examples/hf_trainer.py [OUT]        # scan, gate, DP fine-tune of the bundled MiniLM: minutes on a CPU

The gate runs in PrivateTrainer's constructor (auditor.GateFailed if it refuses); train() runs the same
mechanism as `auditor train`: σ for the policies' ε and δ, Poisson-sampled logical batches, per-example
clipping, the privacy ledger. Only ε and δ reach the loggers (TensorBoard here), never a loss.
"""

import importlib.util
import sys
from pathlib import Path

from transformers import TrainingArguments

import auditor
from auditor.integrations.transformers import PrivateTrainer

HERE = Path(__file__).resolve().parent
PLAN, WAIVERS = HERE / "plan.yaml", HERE / "waivers.yaml"
out = Path(sys.argv[1] if len(sys.argv) > 1 else "hf-trainer-out")
out.mkdir(parents=True, exist_ok=True)

scan = auditor.scan(PLAN, output=out / "scan.json")
args = TrainingArguments(
    output_dir=str(out),
    per_device_train_batch_size=32,  # a physical batch: what fits in memory
    gradient_accumulation_steps=8,   # expected logical batch 32 × 8 = 256, Poisson-sampled (its size varies)
    num_train_epochs=1, learning_rate=5e-3, save_strategy="no", disable_tqdm=True,
    report_to=["tensorboard"] if importlib.util.find_spec("tensorboard") else [],
)
try:
    trainer = PrivateTrainer(plan=PLAN, scan=scan, waivers=WAIVERS, args=args)
except auditor.GateFailed as refused:  # the gate, the policies' DP bounds or the ledger said no
    sys.exit(f"refused: {refused.message}")
trainer.train()
ev = trainer.auditor_evidence
assert ev is not None and ev.epsilon is not None
print(f"trained {ev.steps} steps: ε = {ev.epsilon:.3f} at δ = {ev.delta:.1e}, eval accuracy {ev.eval.accuracy:.3f}")
print(f"sign it: auditor report {out} --plan {PLAN} --scan {out / 'scan.json'} --waivers {WAIVERS}")
