"""``auditor train``: gate first, then the enforced DP fine-tune. Parses arguments and calls the library."""

from __future__ import annotations

import os
from pathlib import Path

import click

from auditor.cli.options import gate_options


@click.command("train", short_help="Gate a plan, then fine-tune under the policies' DP settings.")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--scan", "scan_path", type=click.Path(path_type=Path), default=None,
              help="scan.json from `auditor scan`; without it the plan's dataset is scanned first.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("training-out"),
              show_default=True, help="Directory for model/, training.json and the checkpoint.")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out (same accounting).")
@click.option("--ledger", "ledger_dir", type=click.Path(path_type=Path), default=None,
              help="Privacy ledger directory (default: the user's data directory).")
@click.option("--seed", type=int, default=None,
              help="Override training.seed (public: seeds only a new head and dropout; the DP mechanism "
                   "always draws a fresh secret).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@gate_options
def train(plan: Path, scan_path: Path | None, out_dir: Path, resume: bool, ledger_dir: Path | None,
          seed: int | None, no_progress: bool, policies: tuple[str, ...], waivers: str | None,
          fail_on: str) -> None:
    """Gate PLAN like `auditor check`, then fine-tune under the policies' DP requirement.

    Under ``torchrun --nproc-per-node N -m auditor train PLAN ...`` the N processes train one run together
    (Opacus DPDDP): rank 0 gates, books the ledger and writes the outputs; see auditor.train.distributed."""
    from auditor.api import train as train_plan
    from auditor.errors import GateFailed
    from auditor.plan import load_plan

    doc = load_plan(plan)
    doc.require_dataset()  # training reads it, with or without --scan: a missing one is exit 2 now
    if scan_path is None and os.environ.get("RANK", "0") == "0":
        click.echo(f"scanning {doc.dataset_path} (the gate's dataset rules need it)", err=True)
    try:  # the gate refuses a scan of other data (sha256 against the plan's dataset) before any policy runs
        evidence = train_plan(doc, scan=scan_path, out=out_dir, ledger=ledger_dir, resume=resume, seed=seed,
                              policies=policies, waivers=waivers, fail_on=fail_on, progress=not no_progress)
    except GateFailed as refused:
        for finding in refused.gate.blocking() if refused.gate is not None else []:
            click.echo(f"  {finding.severity:<8} {finding.policy}/{finding.rule}: {finding.message}", err=True)
        raise
    if evidence is None:  # a torchrun rank other than 0: rank 0 reports
        return
    eps = f"ε={evidence.epsilon:.3f} (opacus {evidence.accountant} {evidence.epsilon_opacus:.3f}, " \
          f"pld {evidence.epsilon_pld:.3f}), δ={evidence.delta:.2e}" if evidence.epsilon is not None \
        else "no DP (not required by any applicable policy)"
    acc = f", eval accuracy {evidence.eval.accuracy:.3f}" if evidence.eval.accuracy is not None else \
        f", eval perplexity {evidence.eval.perplexity:.2f}" if evidence.eval.perplexity is not None else ""
    click.echo(f"trained {evidence.steps}/{evidence.steps_planned} steps ({evidence.stop_reason}): {eps}{acc}; "
               f"wrote {out_dir / 'model'} and {out_dir / 'training.json'}")
