"""``auditor train``: gate first, then the enforced DP fine-tune. Parses arguments and calls the library."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.cli.options import gate_options

if TYPE_CHECKING:
    from auditor.plan import PlanDocument
    from auditor.privacy.requirements import PrivacyRequirement


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
    from auditor.plan import load_plan
    from auditor.train.api import run_training
    from auditor.train.distributed import launch
    from auditor.train.model import resolve_device

    doc = load_plan(plan)
    doc.require_dataset()  # training reads it, with or without --scan: a missing one is exit 2 now
    group = launch(lambda: resolve_device(doc))  # one process, unless torchrun started several
    try:
        requirement, dataset_sha = group.on_main(
            lambda: _gate(doc, plan, scan_path, no_progress, policies, waivers, fail_on))
        evidence = run_training(doc, requirement=requirement, out_dir=out_dir, ledger_dir=ledger_dir,
                                resume=resume, seed=seed, progress=not no_progress and group.is_main,
                                dataset_sha256=dataset_sha, group=group)
    finally:
        group.close()
    if not group.is_main:
        return
    eps = f"ε={evidence.epsilon:.3f} (opacus {evidence.accountant} {evidence.epsilon_opacus:.3f}, " \
          f"pld {evidence.epsilon_pld:.3f}), δ={evidence.delta:.2e}" if evidence.epsilon is not None \
        else "no DP (not required by any applicable policy)"
    acc = f", eval accuracy {evidence.eval.accuracy:.3f}" if evidence.eval.accuracy is not None else \
        f", eval perplexity {evidence.eval.perplexity:.2f}" if evidence.eval.perplexity is not None else ""
    click.echo(f"trained {evidence.steps}/{evidence.steps_planned} steps ({evidence.stop_reason}): {eps}{acc}; "
               f"wrote {out_dir / 'model'} and {out_dir / 'training.json'}")


def _gate(doc: PlanDocument, plan: Path, scan_path: Path | None, no_progress: bool, policies: tuple[str, ...],
          waivers: str | None, fail_on: str) -> tuple[PrivacyRequirement, str]:
    """The gate (scanning first without --scan): the privacy requirement and the dataset's sha256, or
    GateFailed (exit 1) naming the blocking findings."""
    from auditor.errors import GateFailed
    from auditor.gate import run_gate
    from auditor.scan.api import load_scan, scan_plan_dataset

    if scan_path is not None:
        scan = load_scan(scan_path)
    else:
        click.echo(f"scanning {doc.dataset_path} (the gate's dataset rules need it)", err=True)
        scan = scan_plan_dataset(doc, progress=not no_progress)
    # run_gate refuses a scan of other data (sha256 against the plan's dataset) before any policy runs
    result = run_gate(doc, scan, policies, Path(waivers) if waivers else None, fail_on, scan_source=scan_path)
    blocking = result.blocking()
    if blocking:
        for finding in blocking:
            click.echo(f"  {finding.severity:<8} {finding.policy}/{finding.rule}: {finding.message}", err=True)
        raise GateFailed(f"{plan}: the gate refused training: {len(blocking)} blocking finding(s) at or above "
                         f"'{fail_on}' (see `auditor check {plan}`)")
    # the gate has just hashed the dataset and found it equal to what the scan recorded: no second read
    return result.privacy_requirements, scan.dataset.sha256
