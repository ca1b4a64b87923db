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
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from auditor.errors import AuditorError, GateFailed, InputError
from auditor.findings import GateResult
from auditor.fsutil import atomic_write, ensure_folder
from auditor.leakage.model import LeakageReport
from auditor.plan import AuditSpec, PlanDocument, load_plan
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
from auditor.report.sign import (
    PRIVATE_KEY_NAME,
    PUBLIC_KEY_NAME,
    default_key_dir,
    generate_keypair,
    load_private_key,
)
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
           dataset_sha256: str | None, progress: bool, audit: AuditSpec | None) -> TrainingEvidence:
    import warnings

    from auditor.train.api import run_training

    with warnings.catch_warnings():
        # Opacus' ghost clipping warns once per step about backward hooks; it buries the progress display.
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        return run_training(doc, requirement=gate.privacy_requirements, out_dir=out_dir, ledger_dir=ledger_dir,
                            progress=progress, dataset_sha256=dataset_sha256, audit=audit)


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
    train: Callable[[PlanDocument, GateResult, Path, Path | None, str | None, bool, AuditSpec | None],
                    TrainingEvidence] = _train
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
    """Use ``key``; else the user's own key (:func:`default_key_dir`), made on first use.

    The private key never goes into ``out_dir``: a report folder is copied to whoever reviews it, and a key
    inside it would let them re-sign an edited report. Only the public key is copied to ``OUT/keys/``, so
    the folder says which key to check (verification still wants it from outside, or its fingerprint). A
    key made here keeps ``signer`` beside it, so a later ``auditor report`` signs as the same person. The
    caller announces a generated key, once, in its summary."""
    generated = False
    if key is not None:
        private = Path(key)
        public: Path | None = private.with_suffix(".pub")
    else:
        keys = default_key_dir()
        private, public = keys / PRIVATE_KEY_NAME, keys / PUBLIC_KEY_NAME
        if private.is_file():
            say(f"signing with your key {private}")
        else:
            private, public = generate_keypair(keys, signer)
            generated = True
    if public is None or not public.is_file():
        return private, None, generated
    if key is None:
        copy = out_dir / "keys" / PUBLIC_KEY_NAME
        atomic_write(copy, public.read_bytes(), mode=0o644)
    return private, public, generated


#: What an audit writes into its folder, besides ``keys/``: a folder holding any of them holds another run.
RUN_FILES = ("evidence.json", "scan.json", "check.json", "training.json", "leakage.json", "report.html",
             "report.md", "report.pdf", "report.intoto.jsonl")
RUN_FOLDERS = ("model", "checkpoint")


def _earlier_run(out_dir: Path) -> list[str]:
    if not out_dir.is_dir():
        return []
    return [name for name in (*RUN_FILES, *RUN_FOLDERS) if (out_dir / name).exists() or (out_dir / name).is_symlink()]


def _clear_earlier_run(out_dir: Path, force: bool) -> None:
    """A signed report is never overwritten in place, and never left beside another run's model.

    Without ``--force`` a folder holding an earlier audit is refused before anything runs (the earlier
    signed report may be what a regulator already has). With it, the earlier run's files are removed
    first, so nothing of that run (its unsigned model, its training.json) ends up beside the new report.
    """
    found = _earlier_run(out_dir)
    if not found:
        return
    if not force:
        raise InputError(f"{out_dir}: holds an earlier audit ({', '.join(found[:4])}"
                         f"{', …' if len(found) > 4 else ''}); choose another --out, or add --force to replace it")
    for name in found:
        path = out_dir / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            raise InputError(f"{path}: cannot remove the earlier audit's file: {exc.strerror or exc}") from None


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/])/(?:[^\s/:;,()'\"]+/)+[^\s/:;,()'\"]*")  # not a URL's path


def public_reason(message: str, named: dict[str, str]) -> str:
    """A message fit for a signed report: the named local folders in words, no other absolute path.

    Error messages name paths for the person at the terminal; a report travels to regulators, and the
    path of someone's home or ledger folder says nothing to them and discloses the machine's layout.
    """
    for path, words in sorted(named.items(), key=lambda kv: -len(kv[0])):
        if path and path not in (".", "/"):
            message = message.replace(path.rstrip("/"), words)
    return _ABSOLUTE_PATH.sub("<local path>", message)


def _local_folders(out_dir: Path, ledger_dir: Path | None) -> dict[str, str]:
    from auditor.privacy.ledger import Ledger

    ledger = Ledger(ledger_dir).directory
    named = {str(ledger): "<ledger folder>", str(ledger.resolve()): "<ledger folder>",
             str(out_dir): "the output folder", str(out_dir.resolve()): "the output folder"}
    return {**named, str(Path.home()): "~"}


def _training_artifacts(out_dir: Path, training: TrainingEvidence) -> list[Artifact]:
    """Every file of the saved model plus training.json; the weights must match the recorded digest."""
    items: list[Artifact] = []
    model_dir = out_dir / training.model_dir
    if model_dir.is_dir():
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            role = "model-weights" if path.suffix in (".safetensors", ".bin", ".pt") else "model-file"
            items.append(artifact(out_dir, path, role))
    expected = {f"{training.model_dir}/{training.model_weights_file}": training.model_weights_sha256}
    if training.merged_weights_sha256 is not None:
        expected[f"{training.model_dir}/merged/model.safetensors"] = training.merged_weights_sha256
    for item in items:
        if item.path in expected and item.sha256 != expected[item.path]:
            raise AuditorError(f"{out_dir / item.path}: sha256 differs from the training evidence")
    training_json = out_dir / "training.json"
    if training_json.is_file():
        items.append(artifact(out_dir, training_json, "training-evidence"))
    return items


def _leakage_line(report: LeakageReport) -> str:
    if report.status != "completed":
        return f"did not complete ({report.failure}): no leakage claim is made"
    parts = []
    if report.epsilon_lower_bound is not None:
        b = report.epsilon_lower_bound
        parts.append(f"ε lower bound {b.value:.2f} (ceiling {b.ceiling:.2f} with {b.guesses} guesses)")
    if report.membership is not None and report.membership.auc is not None:
        parts.append(f"canary AUC {report.membership.auc:.2f}")
    if report.extraction is not None:
        parts.append(f"{report.extraction.training_pii_reproduced} training PII values reproduced")
    return "; ".join([*parts, report.verdict.upper()])


def run_audit(plan: Path, out_dir: Path, *, key: Path | None = None, train: bool = True,
              ledger_dir: Path | None = None, policies: Sequence[str] = (), waivers: Path | None = None,
              fail_on: str = "high", formats: tuple[Format, ...] = FORMATS, templates: Path | None = None,
              progress: bool = True, say: Say = _quiet, stages: Stages | None = None,
              signer: SignerIdentity | None = None, force: bool = False, leakage: bool = True) -> AuditOutcome:
    """Run every stage into ``out_dir`` and return what happened; bad input raises before anything runs.

    The leakage audit runs unless ``leakage`` is false or the plan disables it; its results then feed a
    second pass of the gate (the post-training gate), whose verdict the signed report states."""
    from auditor.gate import run_gate
    from auditor.train.prepare import audit_spec

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
    else:  # the key _resolve_key will sign with, and the identity file beside it
        existing = default_key_dir() / PRIVATE_KEY_NAME
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
    _clear_earlier_run(out_dir, force)
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
            training = stages.train(doc, gate, out_dir, ledger_dir, scan.dataset.sha256, progress,
                                    audit_spec(doc, by_default=True) if leakage else None)
        except AuditorError as exc:
            failure = exc
            reason = public_reason(exc.message, _local_folders(out_dir, ledger_dir))
            # a refusal (the ledger, a DP requirement the plan cannot meet) is a decision, not a crash
            outcome = TrainingOutcome(status="refused" if isinstance(exc, GateFailed) else "failed", reason=reason)
            say(f"      training {'refused' if isinstance(exc, GateFailed) else 'failed'}: {exc.message}")
        else:
            outcome = TrainingOutcome(status="completed")
            artifacts += _training_artifacts(out_dir, training)
            say(f"      ε spent {f'{training.epsilon:.3f}' if training.epsilon is not None else '—'}, "
                f"{training.steps} steps, stop: {training.stop_reason}")
        timestamps["trained"] = now_utc()
    report_of_leakage = None
    if training is not None and training.leakage_file is not None:
        from auditor.leakage.facts import LeakageFacts, read_run

        report_of_leakage = read_run(out_dir, doc.sha256)
        artifacts.append(artifact(out_dir, out_dir / training.leakage_file, "leakage-audit"))
        say(f"      leakage audit: {_leakage_line(report_of_leakage)}")
        # the post-training gate: the same policies, now able to read what the model leaks
        gate = run_gate(doc, scan, policies, waivers, fail_on, leakage=LeakageFacts.from_report(report_of_leakage))
        atomic_write(out_dir / "check.json", json.dumps(gate.to_json_v1(), indent=2, ensure_ascii=False) + "\n",
                     mode=0o644)
        artifacts = [a if a.path != "check.json" else artifact(out_dir, out_dir / "check.json", "gate-result")
                     for a in artifacts]
        blocking = [f"{f.severity} {f.policy}/{f.rule}: {f.title}" for f in gate.blocking()]
        if gate.verdict == "fail":
            say(f"      verdict after training {gate.verdict.upper()} — {len(blocking)} blocking finding(s)")

    ledger = stages.ledger(doc, ledger_dir, training, gate, scan.dataset.sha256)
    say("[4/5] writing evidence and rendering " + ", ".join(formats))
    evidence = build_evidence(doc, gate, scan=scan, training=training, training_outcome=outcome, ledger=ledger,
                              leakage=report_of_leakage, waivers=waivers, artifacts=artifacts,
                              timestamps=timestamps)
    private, public, generated = _resolve_key(out_dir, key, say, signer)
    say("[5/5] signing")
    report = write_report(evidence, out_dir, key=private, formats=formats, templates=templates, signer=signer)
    return AuditOutcome(out_dir=str(out_dir), verdict=gate.verdict, exit_code=gate.exit_code, training=outcome,
                        report=report, key=str(private), public_key=str(public) if public else None,
                        generated_key=generated, blocking=blocking,
                        error=failure.message if failure else None,
                        error_exit_code=failure.exit_code if failure else None)
