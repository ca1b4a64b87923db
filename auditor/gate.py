"""The pre-training gate: plan + scan + policies + waivers -> findings, verdict and DP requirement.

This is the one function ``auditor check``, ``auditor train`` and ``auditor audit`` share, so a pipeline
that passed ``check`` passes the same gate inside ``train``.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.errors import InputError
from auditor.facts import ScanFacts, build_facts
from auditor.findings import SEVERITIES, GateResult
from auditor.plan import PlanDocument
from auditor.policy.engine import Evaluator
from auditor.policy.load import resolve_policies
from auditor.scan.model import ScanResult

if TYPE_CHECKING:
    from auditor.leakage.facts import LeakageFacts
    from auditor.policy.waivers import Waiver

FAIL_ON_CHOICES = (*SEVERITIES, "none")


def _stderr(message: str) -> None:
    print(f"auditor: warning: {message}", file=sys.stderr)


def _short(digest: str) -> str:
    return f"{digest[:12]}…"


def verify_scan_dataset(doc: PlanDocument, scan: ScanResult, scan_source: Path | str | None = None,
                        warn: Callable[[str], None] = _stderr) -> None:
    """Refuse a scan of another dataset: its facts would decide the gate for data nobody scanned.

    When the plan's dataset is where the plan says, the scan's recorded sha256 must equal the file's
    (streamed, so size does not matter). When it is not there (scan and check in separate CI jobs) the
    digest cannot be checked: the file names must still match, and a warning says the scan is unverified.
    """
    where = str(scan_source) if scan_source is not None else "the scan result"
    spec = doc.plan.dataset
    if spec.user_id_field and scan.users is not None and (scan.users.field, scan.users.normalisation) != (
            spec.user_id_field, spec.user_id_normalisation):
        # its per-person counts would describe other people than the ones the training will protect
        raise InputError(f"{where} counted people by '{scan.users.field}' ({scan.users.normalisation}), but "
                         f"{doc.source}'s dataset.user_id_field is '{spec.user_id_field}' "
                         f"({spec.user_id_normalisation}): rescan")
    dataset = doc.dataset_path
    scanned = scan.dataset.path
    if dataset.is_file():
        from auditor.fsutil import sha256_file  # hashlib only; fsutil's tempfile import is cheap enough here

        try:
            actual = sha256_file(dataset)
        except OSError as exc:
            raise InputError(f"{dataset}: cannot read the plan's dataset to verify {where}: "
                             f"{exc.strerror or exc}") from None
        if actual != scan.dataset.sha256:
            raise InputError(f"{where} describes {scanned} (sha256 {_short(scan.dataset.sha256)}), but "
                             f"{doc.source}'s dataset.path is {dataset} (sha256 {_short(actual)}): rescan")
        return
    if Path(scanned).name != dataset.name:
        raise InputError(f"{where} describes {scanned}, but {doc.source}'s dataset.path is {dataset} (a "
                         "different file name; the dataset is not there to compare digests): rescan")
    warn(f"{dataset} not found: {where} could not be verified against the plan's dataset (same file name "
         f"{dataset.name}, sha256 {_short(scan.dataset.sha256)} unchecked)")


def run_gate(doc: PlanDocument, scan: ScanResult | ScanFacts | None, policies: Sequence[str] = (),
             waivers: Path | None = None, fail_on: str = "high", today: dt.date | None = None,
             scan_source: Path | str | None = None, warn: Callable[[str], None] = _stderr,
             plan_only: bool = False, leakage: LeakageFacts | None = None) -> GateResult:
    """Evaluate every requested policy; exit code 1 when an unwaived failure reaches ``fail_on``.

    A :class:`ScanResult` is first checked against the plan's dataset (:func:`verify_scan_dataset`), so
    ``check``, ``train`` and ``audit`` all refuse a scan of other data. Hand-made :class:`ScanFacts`
    (policy tests) name no dataset and are taken as given. Without a scan, a rule that reads dataset
    facts is ``needs_scan`` and blocks like a failure at its severity -- a gate that has not seen the data
    cannot pass it -- unless ``plan_only`` asks to lint the plan alone. ``leakage`` (after training) lets
    rules read the leakage audit's results as ``facts.leakage``.
    """
    if fail_on not in FAIL_ON_CHOICES:
        raise InputError(f"--fail-on: '{fail_on}' is not one of {', '.join(FAIL_ON_CHOICES)}")
    if isinstance(scan, ScanResult):
        verify_scan_dataset(doc, scan, scan_source, warn)
    loaded = resolve_policies(policies)
    waiver_source: Path | None = None
    waiver_list: list[Waiver] = []
    if waivers:
        from auditor.policy.waivers import check_waiver_targets, load_waivers_with_lines

        waiver_source, waiver_list, waiver_lines = load_waivers_with_lines(waivers)
        # No --policy filter (every bundled policy loaded): an unknown rule id can only be a typo.
        strict = set(policies) <= {"bundled"}
        check_waiver_targets(waiver_source, waiver_list, waiver_lines, loaded, strict=strict, warn=warn)
    redaction = None
    if doc.plan.dataset.redaction_evidence is not None:
        from auditor.redact.chain import check_redaction  # only for a plan that names evidence

        redaction = check_redaction(doc, scan)
    facts = build_facts(doc.plan, scan, leakage=leakage, redaction=redaction)
    evaluation = Evaluator(doc.plan, facts, waiver_list, waiver_source, today).evaluate(loaded)
    draft = GateResult(verdict="pass", exit_code=0, fail_on=fail_on, policies=evaluation.policies,
                       findings=evaluation.findings, privacy_requirements=evaluation.requirement,
                       privacy_units=facts.n, scan_used=facts.scan_available, plan_only=plan_only,
                       redaction=redaction)
    if draft.blocking():
        return draft.model_copy(update={"verdict": "fail", "exit_code": 1})
    return draft
