"""The pre-training gate: plan + scan + policies + waivers -> findings, verdict and DP requirement.

This is the one function ``auditor check``, ``auditor train`` and ``auditor audit`` share, so a pipeline
that passed ``check`` passes the same gate inside ``train``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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
    from auditor.policy.waivers import Waiver

FAIL_ON_CHOICES = (*SEVERITIES, "none")


def run_gate(doc: PlanDocument, scan: ScanResult | ScanFacts | None, policies: Sequence[str] = (),
             waivers: Path | None = None, fail_on: str = "high", today: dt.date | None = None) -> GateResult:
    """Evaluate every requested policy; exit code 1 when an unwaived failure reaches ``fail_on``."""
    if fail_on not in FAIL_ON_CHOICES:
        raise InputError(f"--fail-on: '{fail_on}' is not one of {', '.join(FAIL_ON_CHOICES)}")
    loaded = resolve_policies(policies)
    waiver_source: Path | None = None
    waiver_list: list[Waiver] = []
    if waivers:
        from auditor.policy.waivers import load_waivers

        waiver_source, waiver_list = load_waivers(waivers)
    facts = build_facts(doc.plan, scan)
    evaluation = Evaluator(doc.plan, facts, waiver_list, waiver_source, today).evaluate(loaded)
    draft = GateResult(verdict="pass", exit_code=0, fail_on=fail_on, policies=evaluation.policies,
                       findings=evaluation.findings, privacy_requirements=evaluation.requirement,
                       privacy_units=facts.n, scan_used=facts.scan_available)
    if draft.blocking():
        return draft.model_copy(update={"verdict": "fail", "exit_code": 1})
    return draft
