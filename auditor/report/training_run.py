"""Evidence for a training folder that no ``auditor audit`` wrapped: ``training.json`` from ``auditor train``
or the Trainer integration, plus the plan and the scan it was gated on.

The gate runs again on the same plan and scan (so the report states the policies as they are when it is
signed), the scan and the gate result are written beside the training files, and the model files,
``training.json`` (and ``leakage.json``, when the run audited itself) become subjects of the signature,
exactly as ``auditor audit`` lists them. Nothing is trusted that does not match: a ``training.json`` of
another plan, or a scan of other data than the run trained on, is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from auditor.errors import InputError
from auditor.fsutil import atomic_write
from auditor.plan import PlanDocument
from auditor.report.evidence import EvidenceBundle, TrainingOutcome, artifact, build_evidence, now_utc
from auditor.scan.model import ScanResult
from auditor.train.evidence import TrainingEvidence


def read_training(folder: Path) -> TrainingEvidence:
    path = folder / "training.json"
    if not path.is_file():
        raise InputError(f"{path}: not found; point at a training folder (auditor train --out, or the Trainer's "
                         "output_dir) or at an audit folder holding evidence.json")
    try:
        return TrainingEvidence.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{path}: field {where}: {first['msg']}") from None


def evidence_for_training(folder: Path, doc: PlanDocument, scan: ScanResult | None, *,
                          policies: Sequence[str] = (), waivers: Path | None = None,
                          fail_on: str = "high") -> EvidenceBundle:
    """The evidence bundle ``auditor audit`` would have written for this training folder."""
    from auditor.gate import run_gate
    from auditor.pipeline import _training_artifacts

    training = read_training(folder)
    if training.plan_sha256 != doc.sha256:
        raise InputError(f"{folder / 'training.json'}: trained under another plan (sha256 "
                         f"{training.plan_sha256[:12]}…) than {doc.source} ({doc.sha256[:12]}…)")
    if scan is None:
        raise InputError(f"{doc.source}: give the scan the run was gated on (scan=... / --scan scan.json)")
    if scan.dataset.sha256 != training.dataset_sha256:
        raise InputError(f"{doc.source}: the scan is of other data (sha256 {scan.dataset.sha256[:12]}…) than the "
                         f"run trained on ({training.dataset_sha256[:12]}…); give that run's scan")
    leakage_report, leakage = None, None
    if training.leakage_file is not None:
        from auditor.leakage.facts import LeakageFacts, read_run

        leakage_report = read_run(folder, doc.sha256)
        leakage = LeakageFacts.from_report(leakage_report)
    gate = run_gate(doc, scan, policies, waivers, fail_on, leakage=leakage)
    atomic_write(folder / "scan.json", scan.model_dump_json(indent=2) + "\n", mode=0o644)
    atomic_write(folder / "check.json", json.dumps(gate.to_json_v1(), indent=2, ensure_ascii=False) + "\n",
                 mode=0o644)
    artifacts = [artifact(folder, folder / "scan.json", "scan"), artifact(folder, folder / "check.json", "gate-result"),
                 *_training_artifacts(folder, training)]
    if training.leakage_file is not None:
        artifacts.append(artifact(folder, folder / training.leakage_file, "leakage-audit"))
    return build_evidence(doc, gate, scan=scan, training=training, training_outcome=TrainingOutcome(status="completed"),
                          leakage=leakage_report, ledger=training.ledger, waivers=waivers, artifacts=artifacts,
                          timestamps={"trained": training.started_at, "reported": now_utc()})
