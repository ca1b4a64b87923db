"""The public Python API: ``auditor.scan``, ``check``, ``train``, ``audit``, ``report`` and ``verify``.

These six functions are what the CLI calls and what a pipeline should call; their names and keyword
arguments are a contract (add, never rename). They take paths or the typed values the other functions
return, raise :class:`~auditor.errors.AuditorError` subclasses (``GateFailed``, ``InputError``, ...) with a
one-line message, and print nothing unless ``progress`` asks for progress bars. Heavy libraries (torch,
presidio) are imported inside the functions, so ``import auditor`` and ``auditor.check`` stay light.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.errors import GateFailed, InputError

if TYPE_CHECKING:
    from auditor.findings import GateResult
    from auditor.pipeline import AuditOutcome
    from auditor.plan import PlanDocument
    from auditor.privacy.requirements import PrivacyRequirement
    from auditor.report.api import ReportFiles
    from auditor.report.render import Format
    from auditor.report.signer import SignerIdentity
    from auditor.report.verify import VerifyResult
    from auditor.scan.model import ScanResult
    from auditor.train.evidence import TrainingEvidence


_PLAN_SUFFIXES = (".yaml", ".yml")


def _plan(plan: str | Path | PlanDocument) -> PlanDocument:
    from auditor.plan import PlanDocument, load_plan

    return plan if isinstance(plan, PlanDocument) else load_plan(Path(plan))


def _scan_of(scan: str | Path | ScanResult | None) -> ScanResult | None:
    if scan is None or not isinstance(scan, str | Path):
        return scan
    from auditor.scan.api import load_scan

    return load_scan(Path(scan))


def scan(source: str | Path | PlanDocument, *, text_fields: Sequence[str] | None = None,
         format: str | None = None, user_id_field: str | None = None, workers: int | None = None,
         sample: int | None = None, seed: int = 0, findings: str | Path | None = None,
         output: str | Path | None = None, progress: bool = False, engine: str = "local",
         ray_address: str | None = None) -> ScanResult:
    """Scan a dataset for personal data, offline, into aggregates (never a value).

    ``source`` is a dataset file, or a training plan (a loaded plan, or a ``.yaml`` path when ``format`` is not
    given), whose dataset, format, text fields and user id field are used unless given here. ``findings``
    writes one JSON line per detected span; ``output`` writes scan.json (atomically). ``engine``: ``local``
    (worker processes) or ``ray`` (Ray Data; ``ray_address`` joins a cluster, else a local instance starts).
    Bad input raises ``ScanError``."""
    from auditor.scan.api import save_scan, scan_dataset, scan_plan_dataset

    findings_path = Path(findings) if findings is not None else None
    is_plan = not isinstance(source, str | Path) or (format is None and Path(source).suffix.lower() in _PLAN_SUFFIXES)
    if is_plan:
        doc = _plan(source)
        doc.require_dataset()
        overrides: dict[str, object] = {"workers": workers, "sample": sample, "seed": seed,
                                        "findings_path": findings_path, "progress": progress, "engine": engine,
                                        "ray_address": ray_address}
        if text_fields:
            overrides["text_fields"] = list(text_fields)
        if format is not None:
            overrides["format"] = format
        if user_id_field is not None:
            overrides["user_id_field"] = user_id_field
        result = scan_plan_dataset(doc, **overrides)
    else:
        assert isinstance(source, str | Path)
        result = scan_dataset(Path(source), text_fields=list(text_fields or ["text"]), format=format,
                              user_id_field=user_id_field, workers=workers, sample=sample,
                              findings_path=findings_path, progress=progress, seed=seed, engine=engine,
                              ray_address=ray_address)
    if output is not None:
        save_scan(result, Path(output))
    return result


def check(plan: str | Path | PlanDocument, scan: str | Path | ScanResult | None = None, *,
          policies: Sequence[str] = (), waivers: str | Path | None = None, fail_on: str = "high",
          plan_only: bool = False, training: str | Path | None = None,
          scan_source: str | Path | None = None) -> GateResult:
    """The pre-training gate: the plan (and its scan) against the policies. Returns the result; it does not
    raise on a failing verdict (``result.verdict``, ``result.exit_code``, ``result.blocking()`` say it).

    Without a scan, rules that read dataset facts are "needs a scan" and block at their severity unless
    ``plan_only``. ``training`` is a training folder whose leakage audit the rules may read afterwards.
    ``scan_source`` names where a given :class:`ScanResult` was read from, for messages."""
    from auditor.gate import run_gate

    doc = _plan(plan)
    if plan_only and scan is not None:
        raise InputError("--plan-only checks the plan without its data; drop it, or drop --scan")
    leakage = None
    if training is not None:
        from auditor.leakage.facts import LeakageFacts, read_run

        leakage = LeakageFacts.from_report(read_run(Path(training), doc.sha256))
    source = Path(scan) if isinstance(scan, str | Path) else scan_source
    return run_gate(doc, _scan_of(scan), policies, Path(waivers) if waivers else None, fail_on,
                    scan_source=source, plan_only=plan_only, leakage=leakage)


def gate_for_training(plan: str | Path | PlanDocument, scan: str | Path | ScanResult | None = None, *,
                      policies: Sequence[str] = (), waivers: str | Path | None = None, fail_on: str = "high",
                      progress: bool = False) -> tuple[PlanDocument, ScanResult, GateResult]:
    """What every way of training starts with: the plan's dataset scanned (unless a scan is given) and the
    gate run on it; :class:`GateFailed` (carrying the gate) when it refuses, before anything is trained."""
    doc = _plan(plan)
    doc.require_dataset()  # training reads it, with or without a scan
    result_scan = _scan_of(scan)
    if result_scan is None:
        from auditor.scan.api import scan_plan_dataset

        result_scan = scan_plan_dataset(doc, progress=progress)
    from auditor.gate import run_gate

    source = Path(scan) if isinstance(scan, str | Path) else None
    gate = run_gate(doc, result_scan, policies, Path(waivers) if waivers else None, fail_on, scan_source=source)
    blocking = gate.blocking()
    if blocking:
        raise GateFailed(f"{doc.source}: the gate refused training: {len(blocking)} blocking finding(s) at or "
                         f"above '{fail_on}' (see `auditor check {doc.source}`)", gate=gate)
    return doc, result_scan, gate


def train(plan: str | Path | PlanDocument, *, scan: str | Path | ScanResult | None = None,
          out: str | Path = "training-out", ledger: str | Path | None = None, resume: bool = False,
          seed: int | None = None, policies: Sequence[str] = (), waivers: str | Path | None = None,
          fail_on: str = "high", progress: bool = False) -> TrainingEvidence | None:
    """Gate the plan, then fine-tune under the policies' DP requirement; writes ``out/model`` and
    ``out/training.json`` and returns the evidence. Raises :class:`GateFailed` when the gate, the policies'
    DP bounds or the privacy ledger refuse (nothing trained, no ε spent).

    Under ``torchrun`` the processes train one run together (:mod:`auditor.train.distributed`): rank 0 alone
    gates, books the ledger and writes the outputs, and the other ranks return None."""
    from auditor.train.api import run_training
    from auditor.train.distributed import launch
    from auditor.train.model import resolve_device

    doc = _plan(plan)
    group = launch(lambda: resolve_device(doc))  # one process, unless torchrun started several

    def gate() -> tuple[PrivacyRequirement, str]:
        _, result_scan, result = gate_for_training(doc, scan, policies=policies, waivers=waivers, fail_on=fail_on,
                                                   progress=progress)
        # the gate has just hashed the dataset and found it equal to what the scan recorded: no second read
        return result.privacy_requirements, result_scan.dataset.sha256

    try:
        requirement, dataset_sha = group.on_main(gate)
        evidence = run_training(doc, requirement=requirement, out_dir=Path(out),
                                ledger_dir=Path(ledger) if ledger is not None else None, resume=resume, seed=seed,
                                progress=progress and group.is_main, dataset_sha256=dataset_sha, group=group)
    finally:
        group.close()
    return evidence if group.is_main else None


def audit(plan: str | Path, *, out: str | Path = "audit-out", key: str | Path | None = None, train: bool = True,
          ledger: str | Path | None = None, policies: Sequence[str] = (), waivers: str | Path | None = None,
          fail_on: str = "high", formats: Sequence[Format] | None = None, templates: str | Path | None = None,
          signer: SignerIdentity | None = None, force: bool = False, leakage: bool = True,
          progress: bool = False, say: Callable[[str], None] | None = None) -> AuditOutcome:
    """Scan → gate → train (only if the gate passes) → leakage audit → signed report, all into ``out``.

    A refused gate is a result, not an exception: the outcome's ``verdict`` and ``exit_code`` say it, and the
    folder holds a signed report saying why. Without ``key`` your own key (made on first use) signs.
    ``say`` receives one line per stage (the CLI prints them)."""
    from auditor.pipeline import _quiet, run_audit
    from auditor.report.render import FORMATS

    return run_audit(Path(plan), Path(out), key=Path(key) if key is not None else None, train=train,
                     ledger_dir=Path(ledger) if ledger is not None else None, policies=policies,
                     waivers=Path(waivers) if waivers else None, fail_on=fail_on,
                     formats=tuple(formats) if formats else FORMATS,
                     templates=Path(templates) if templates is not None else None, progress=progress,
                     signer=signer, force=force, leakage=leakage, say=say or _quiet)


def report(evidence_dir: str | Path, *, key: str | Path | None = None, formats: Sequence[Format] | None = None,
           out: str | Path | None = None, templates: str | Path | None = None,
           signer: SignerIdentity | None = None, plan: str | Path | PlanDocument | None = None,
           scan: str | Path | ScanResult | None = None, policies: Sequence[str] = (),
           waivers: str | Path | None = None, fail_on: str = "high") -> ReportFiles:
    """Render and sign a report folder.

    ``evidence_dir`` holds ``evidence.json`` (from ``auditor audit``): it is re-rendered and re-signed. Or it
    is a training folder (``training.json`` from ``auditor train`` or the Trainer integration) and ``plan``
    and ``scan`` are given: the gate runs again, and its result, the scan and the training evidence become a
    new ``evidence.json``, rendered and signed with the model files and ``training.json`` as subjects."""
    from auditor.report.api import write_report
    from auditor.report.evidence import EVIDENCE_NAME, load_evidence
    from auditor.report.render import FORMATS

    folder = Path(evidence_dir)
    source = folder if folder.is_dir() else folder.parent
    if plan is not None and not (source / EVIDENCE_NAME).is_file():
        from auditor.report.training_run import evidence_for_training

        evidence = evidence_for_training(source, _plan(plan), _scan_of(scan), policies=policies,
                                         waivers=Path(waivers) if waivers else None, fail_on=fail_on)
    elif plan is not None:
        raise InputError(f"{source / EVIDENCE_NAME}: the folder already holds an audit's evidence; re-render it "
                         "without a plan, or point at the training folder")
    else:
        evidence = load_evidence(folder)
    return write_report(evidence, Path(out) if out is not None else source,
                        key=Path(key) if key is not None else None,
                        formats=tuple(formats) if formats else FORMATS,
                        templates=Path(templates) if templates is not None else None, signer=signer)


def verify(envelope: str | Path, *, key: str | Path | None = None, fingerprints: Sequence[str] = (),
           trust: str | Path | None = None, raise_on_failure: bool = True) -> VerifyResult:
    """Check a signed report: the signer (a key you bring, or a fingerprint you accept), the signature,
    the statement, and every listed file's sha256. Raises :class:`~auditor.errors.VerificationFailed` when
    any check fails, unless ``raise_on_failure`` is false (then read ``result.ok``)."""
    from auditor.errors import VerificationFailed
    from auditor.report.verify import normalise_fingerprint, read_trust_file, verify_envelope

    accepted = {normalise_fingerprint(f) for f in fingerprints}
    if trust is not None:
        accepted |= read_trust_file(Path(trust))
    result = verify_envelope(Path(envelope), Path(key) if key is not None else None,
                             fingerprints=accepted or None)
    if raise_on_failure and not result.ok:
        failed = result.failures()
        first = "; ".join(f"{c.what}: {c.detail}" for c in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise VerificationFailed(f"{envelope}: verification FAILED: {first}{more}")
    return result
