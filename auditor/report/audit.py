"""The one-shot audit: scan → gate → (train) → evidence → report → sign, all into one folder.

A refused gate is a result, not an error: the folder still gets a signed report saying training was
refused and which findings blocked it, and the caller exits with the gate's code. A training run that fails
on its inputs is recorded the same way and its error returned with the outcome, so the record of *why*
survives and the caller still exits with that error's code.

The scan and the training live in other packages and pull in heavy libraries (presidio, torch); they are
reached through :class:`Stages` so they load only when used, and tests can replace them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from auditor.errors import AuditorError, InputError
from auditor.findings import GateResult
from auditor.fsutil import atomic_write, ensure_folder
from auditor.plan import PlanDocument, load_plan
from auditor.privacy.ledger import LedgerTotals
from auditor.report.api import ReportFiles, signer_for, signing_info, write_report
from auditor.report.evidence import (
    Artifact,
    TrainingOutcome,
    artifact,
    build_evidence,
    now_utc,
)
from auditor.report.render import FORMATS, Format
from auditor.report.sign import PRIVATE_KEY_NAME, PUBLIC_KEY_NAME, generate_keypair, load_private_key
from auditor.report.signer import SignerIdentity
from auditor.scan.model import ScanResult
from auditor.train.evidence import TrainingEvidence

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _scan(doc: PlanDocument, progress: bool) -> ScanResult:
    from auditor.scan.api import scan_plan_dataset

    return scan_plan_dataset(doc, progress=progress)


def _train(doc: PlanDocument, gate: GateResult, out_dir: Path, ledger_dir: Path | None,
           dataset_sha256: str | None, progress: bool) -> TrainingEvidence:
    import warnings

    from auditor.train.api import run_training

    with warnings.catch_warnings():
        # Opacus' ghost clipping warns once per step about backward hooks; it buries the progress display.
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        return run_training(doc, requirement=gate.privacy_requirements, out_dir=out_dir, ledger_dir=ledger_dir,
                            progress=progress, dataset_sha256=dataset_sha256)


def _ledger(doc: PlanDocument, ledger_dir: Path | None, training: TrainingEvidence | None, gate: GateResult,
            dataset_sha256: str) -> LedgerTotals | None:
    """What the ledger holds for the people of the plan's dataset: the training's own settlement when it
    ran, else read now (None when the data cannot be grouped into units, e.g. bad labels: the error is
    already in the report)."""
    if training is not None:
        return training.ledger
    from auditor.privacy.ledger import Ledger
    from auditor.train.data import load_training_data, unit_identities
    from auditor.train.settings import resolve_settings

    try:
        data = load_training_data(doc, bytes(32))  # the split key does not change which units there are
        req = gate.privacy_requirements
        settings = resolve_settings(doc, req, data.privacy_units)  # the δ a run would be stated at
        return Ledger(ledger_dir).totals(unit_identities(data), dataset_sha256,
                                         max_epsilon_allowed=req.max_epsilon, delta=settings.delta)
    except AuditorError:
        return None


@dataclass(frozen=True)
class Stages:
    """The heavy stages, swappable (tests use hand-made values; the defaults import lazily)."""

    scan: Callable[[PlanDocument, bool], ScanResult] = _scan
    train: Callable[[PlanDocument, GateResult, Path, Path | None, str | None, bool], TrainingEvidence] = _train
    ledger: Callable[[PlanDocument, Path | None, TrainingEvidence | None, GateResult, str],
                     LedgerTotals | None] = _ledger


class AuditOutcome(BaseModel):
    """What ``auditor audit`` did; ``exit_code`` is the gate's (0 pass, 1 refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out_dir: str
    verdict: str
    exit_code: int
    training: TrainingOutcome
    report: ReportFiles
    key: str
    public_key: str | None
    generated_key: bool
    blocking: list[str]
    error: str | None = None
    error_exit_code: int | None = None


def _resolve_key(out_dir: Path, key: Path | None, say: Say,
                 signer: SignerIdentity | None = None) -> tuple[Path, Path | None, bool]:
    """Use ``key``; else reuse or create ``DIR/keys/auditor.key`` (keygen refuses to overwrite a key). A key
    made here keeps ``signer`` beside it, so a later ``auditor report`` re-render signs as the same person.
    The caller announces a generated key, once, in its summary."""
    if key is not None:
        public = Path(key).with_suffix(".pub")
        return Path(key), public if public.is_file() else None, False
    keys = out_dir / "keys"
    private, public = keys / PRIVATE_KEY_NAME, keys / PUBLIC_KEY_NAME
    if private.is_file():
        say(f"signing with the existing key {private}")
        return private, public if public.is_file() else None, False
    private, public = generate_keypair(keys, signer)
    return private, public, True


def _training_artifacts(out_dir: Path, training: TrainingEvidence) -> list[Artifact]:
    """Every file of the saved model plus training.json; the weights must match the recorded digest."""
    items: list[Artifact] = []
    model_dir = out_dir / training.model_dir
    if model_dir.is_dir():
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            role = "model-weights" if path.suffix in (".safetensors", ".bin", ".pt") else "model-file"
            items.append(artifact(out_dir, path, role))
    weights = [a for a in items if a.path.endswith("model.safetensors")]
    if weights and weights[0].sha256 != training.model_weights_sha256:
        raise AuditorError(f"{out_dir / weights[0].path}: sha256 differs from the training evidence")
    training_json = out_dir / "training.json"
    if training_json.is_file():
        items.append(artifact(out_dir, training_json, "training-evidence"))
    return items


def run_audit(plan: Path, out_dir: Path, *, key: Path | None = None, train: bool = True,
              ledger_dir: Path | None = None, policies: Sequence[str] = (), waivers: Path | None = None,
              fail_on: str = "high", formats: tuple[Format, ...] = FORMATS, templates: Path | None = None,
              progress: bool = True, say: Say = _quiet, stages: Stages | None = None,
              signer: SignerIdentity | None = None) -> AuditOutcome:
    """Run every stage into ``out_dir`` and return what happened; bad input raises before anything runs."""
    from auditor.gate import run_gate

    stages = stages or Stages()
    out_dir = Path(out_dir)
    timestamps: dict[str, str] = {"started": now_utc()}
    doc = load_plan(plan)
    if waivers is not None and not Path(waivers).is_file():
        raise InputError(f"{waivers}: waivers file not found")
    if templates is not None and not Path(templates).is_dir():
        raise InputError(f"{templates}: --templates must be a folder holding report.html.j2 / report.md.j2")
    # Everything that could fail after the scan and the training (which spends ε) is checked now: the key,
    # the output folder, the policies and waivers, and the templates -- rendered once, in memory, on the
    # evidence as it stands before the scan.
    if key is not None:
        signer_for(key, load_private_key(key), signer)  # a bad identity file beside the key, too
    else:
        existing = out_dir / "keys" / PRIVATE_KEY_NAME
        if existing.is_file():
            signer_for(existing, load_private_key(existing), signer)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: --out must be a folder")
    preflight = run_gate(doc, None, policies, waivers, fail_on)
    if templates is not None:
        from auditor.report.render import render_all

        text_formats = tuple(f for f in formats if f != "pdf") or ("html",)  # the PDF is the HTML printed
        render_all(build_evidence(doc, preflight, training_outcome=TrainingOutcome(status="skipped")),
                   signing_info(None), text_formats, templates)
    ensure_folder(out_dir, "--out")  # last: a refused option leaves no folder behind

    say(f"[1/5] scanning {doc.dataset_path}")
    scan = stages.scan(doc, progress)
    timestamps["scanned"] = now_utc()
    say(f"      {scan.records:,} records, {scan.records_with_personal_data:,} with personal data")

    say("[2/5] checking the plan and the scan against the policies")
    gate = run_gate(doc, scan, policies, waivers, fail_on)
    timestamps["checked"] = now_utc()
    blocking = [f"{f.severity} {f.policy}/{f.rule}: {f.title}" for f in gate.blocking()]
    say(f"      verdict {gate.verdict.upper()}" + (f" — {len(blocking)} blocking finding(s)" if blocking else ""))

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "scan.json", scan.model_dump_json(indent=2) + "\n", mode=0o644)
    atomic_write(out_dir / "check.json", json.dumps(gate.to_json_v1(), indent=2, ensure_ascii=False) + "\n",
                 mode=0o644)
    artifacts = [artifact(out_dir, out_dir / "scan.json", "scan"), artifact(out_dir, out_dir / "check.json",
                                                                              "gate-result")]

    training: TrainingEvidence | None = None
    failure: AuditorError | None = None
    if gate.verdict == "fail":
        outcome = TrainingOutcome(status="refused", reason=f"the gate failed with {len(blocking)} blocking "
                                  f"finding(s) at or above '{fail_on}': " + "; ".join(
                                      f"{f.policy}/{f.rule}" for f in gate.blocking()))
        say("[3/5] training REFUSED: the gate failed")
    elif not train:
        outcome = TrainingOutcome(status="skipped", reason="--no-train was given")
        say("[3/5] training skipped (--no-train)")
    else:
        say("[3/5] fine-tuning with differential privacy")
        try:
            training = stages.train(doc, gate, out_dir, ledger_dir, scan.dataset.sha256, progress)
        except AuditorError as exc:
            failure = exc
            outcome = TrainingOutcome(status="failed", reason=exc.message)
            say(f"      training failed: {exc.message}")
        else:
            outcome = TrainingOutcome(status="completed")
            artifacts += _training_artifacts(out_dir, training)
            say(f"      ε spent {f'{training.epsilon:.3f}' if training.epsilon is not None else '—'}, "
                f"{training.steps} steps, stop: {training.stop_reason}")
        timestamps["trained"] = now_utc()

    ledger = stages.ledger(doc, ledger_dir, training, gate, scan.dataset.sha256)
    say("[4/5] writing evidence and rendering " + ", ".join(formats))
    evidence = build_evidence(doc, gate, scan=scan, training=training, training_outcome=outcome, ledger=ledger,
                              waivers=waivers, artifacts=artifacts, timestamps=timestamps)
    private, public, generated = _resolve_key(out_dir, key, say, signer)
    say("[5/5] signing")
    report = write_report(evidence, out_dir, key=private, formats=formats, templates=templates, signer=signer)
    return AuditOutcome(out_dir=str(out_dir), verdict=gate.verdict, exit_code=gate.exit_code, training=outcome,
                        report=report, key=str(private), public_key=str(public) if public else None,
                        generated_key=generated, blocking=blocking,
                        error=failure.message if failure else None,
                        error_exit_code=failure.exit_code if failure else None)
