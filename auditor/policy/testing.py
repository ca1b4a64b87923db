"""Policy tests (like ``opa test``): cases of plan fragment + scan facts -> the expected rule status.

Each bundled rule has at least one passing and one failing case; a user's policy directory can carry its
own. Cases build real plans through the plan schema, so a case that no longer validates fails loudly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import PolicyLoadError
from auditor.facts import RedactionFacts, ScanFacts, build_facts
from auditor.leakage.facts import LeakageFacts
from auditor.plan import TrainingPlan
from auditor.policy.engine import Evaluator
from auditor.policy.load import bundled_dir, load_policy
from auditor.policy.model import Policy
from auditor.privacy.requirements import PrivacyRequirement
from auditor.yamlio import describe_validation_error, load_yaml


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    rule: str
    plan: dict[str, Any] = Field(default_factory=dict)
    scan: dict[str, Any] | None = None
    no_scan: bool = False
    leakage: dict[str, Any] | None = Field(default=None, description="facts.leakage after training (merged over "
                                                                     "the file's base_leakage)")
    no_leakage: bool = False
    redaction: dict[str, Any] | None = Field(default=None, description="facts.redaction, as the gate would "
                                             "build it from checked redaction evidence")
    expect: Literal["pass", "fail", "not_applicable", "needs_scan", "error", "waived"]
    expect_privacy: dict[str, Any] | None = None
    expect_conclusion: str | None = Field(default=None, min_length=1,
                                          description="Text the finding's conclusion must contain")


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str
    base_plan: dict[str, Any] = Field(default_factory=dict)
    base_scan: dict[str, Any] | None = None
    base_leakage: dict[str, Any] | None = None
    cases: list[Case] = Field(min_length=1)


@dataclass
class CaseResult:
    file: Path
    line: int | None
    case: Case
    actual: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass
class TestReport:
    results: list[CaseResult] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list, metadata={"doc": "rule: missing pass/fail case"})

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.ok]


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` onto ``base``; nested maps merge, a ``None`` value removes the key."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _policy_for(ref: str, case_file: Path) -> Policy:
    """A policy next to the tests' folder (``policies/gdpr.yaml`` for ``policies/tests/gdpr.yaml``), a path
    relative to the case file, or a bundled id."""
    local = case_file.parent / ref
    for candidate in (case_file.parent.parent / f"{ref}.yaml", local, local.with_suffix(".yaml"),
                      bundled_dir() / f"{ref}.yaml"):
        if candidate.is_file() and candidate.resolve() != case_file.resolve():
            return load_policy(candidate, bundled=candidate.parent == bundled_dir())
    raise PolicyLoadError(f"{case_file}: policy '{ref}' not found next to the tests or among bundled policies")


def _privacy_view(requirement: PrivacyRequirement, n: int | None) -> dict[str, Any]:
    """What ``expect_privacy`` can name: the merged requirement's fields, plus ``delta`` (the bound resolved
    at the case's n, or as ``auditor check`` shows it without a scan), ``delta_bound_by`` (the rule whose
    bound binds there) and the legacy ``delta_one_over_n`` (a ``"1/n"`` bound is among them)."""
    got = requirement.model_dump()
    got["delta"] = requirement.delta_shown(n)
    got["delta_bound_by"] = requirement.delta_origin(n)
    got["delta_one_over_n"] = any(b.expr == "1/n" for b in requirement.delta_bounds)
    return got


def _same(got: Any, want: Any) -> bool:
    """Equal, with numbers compared to a relative 1e-9 (a case writes 1.0e-7 for 1/(10*10**6))."""
    numbers = (int, float)
    if isinstance(got, numbers) and isinstance(want, numbers) and not isinstance(got, bool) \
            and not isinstance(want, bool):
        return math.isclose(got, want, rel_tol=1e-9)
    return bool(got == want)


def run_case_file(path: Path) -> tuple[Policy, list[CaseResult]]:
    loaded = load_yaml(path, "policy test file", PolicyLoadError)
    if isinstance(loaded.data, dict) and "rules" in loaded.data and "cases" not in loaded.data:
        raise PolicyLoadError(f"{path}: is a policy, not a policy test file (those have 'policy:' and 'cases:'); "
                              "point `auditor policies test` at the policies' tests/ folder")
    try:
        spec = CaseFile.model_validate(loaded.data)
    except ValidationError as exc:
        raise PolicyLoadError(describe_validation_error(exc, path, loaded)) from None
    policy = _policy_for(spec.policy, path)
    known = {r.spec.id for r in policy.rules} | {b.spec.id for b in policy.privacy}
    results: list[CaseResult] = []
    for index, case in enumerate(spec.cases):
        line = loaded.line_of(("cases", index))
        if case.rule not in known:
            results.append(CaseResult(path, line, case, "-", f"rule {case.rule} is not in policy {policy.id}"))
            continue
        try:
            plan = TrainingPlan.model_validate(deep_merge(spec.base_plan, case.plan))
            scan_dict = None if case.no_scan else (
                deep_merge(spec.base_scan or {}, case.scan or {}) if (spec.base_scan is not None or case.scan)
                else None)
            scan = ScanFacts.model_validate(scan_dict) if scan_dict is not None else None
            leakage_dict = None if case.no_leakage else (
                deep_merge(spec.base_leakage or {}, case.leakage or {})
                if (spec.base_leakage is not None or case.leakage) else None)
            leakage = LeakageFacts.model_validate(leakage_dict) if leakage_dict is not None else None
            redaction = RedactionFacts.model_validate(case.redaction) if case.redaction is not None else None
        except ValidationError as exc:
            results.append(CaseResult(path, line, case, "-",
                                      describe_validation_error(exc, path, None,
                                                                prefix="case plan/scan/leakage ")))
            continue
        facts = build_facts(plan, scan, leakage=leakage, redaction=redaction)
        evaluation = Evaluator(plan, facts).evaluate([policy])
        finding = next(f for f in evaluation.findings if f.rule == case.rule)
        problem = ""
        if finding.status != case.expect:
            problem = f"expected {case.expect}, got {finding.status}: {finding.message}"
        elif case.expect_conclusion and case.expect_conclusion not in finding.conclusion:
            problem = f"conclusion lacks {case.expect_conclusion!r}: {finding.conclusion}"
        elif case.expect_privacy:
            got = _privacy_view(evaluation.requirement, facts.n)
            wrong = {k: got.get(k) for k, v in case.expect_privacy.items() if not _same(got.get(k), v)}
            if wrong:
                problem = f"privacy requirement differs: expected {case.expect_privacy}, got {wrong}"
        results.append(CaseResult(path, line, case, finding.status, problem))
    return policy, results


def run_tests(target: Path | None = None) -> TestReport:
    """Run every ``*.yaml`` case file under ``target`` (default: the bundled ``policies/tests``)."""
    directory = target or (bundled_dir() / "tests")
    if directory.is_file():
        files: Sequence[Path] = [directory]
    elif directory.is_dir():
        files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        if not files and (directory / "tests").is_dir():
            files = sorted((directory / "tests").glob("*.yaml"))
    else:
        raise PolicyLoadError(f"{directory}: no such directory of policy tests")
    if not files:
        raise PolicyLoadError(f"{directory}: no policy test files (*.yaml)")
    report = TestReport()
    coverage: dict[str, set[str]] = {}
    for path in files:
        policy, results = run_case_file(path)
        for rule in policy.rules:
            coverage.setdefault(rule.spec.id, set())
        for block in policy.privacy:
            coverage.setdefault(block.spec.id, set())
        for result in results:  # what the cases cover, passing or not: a failing case is reported as such
            coverage.setdefault(result.case.rule, set()).add(result.case.expect)
        report.results.extend(results)
    for rule_id, seen in sorted(coverage.items()):
        missing = [s for s in ("pass", "fail") if s not in seen]
        if missing:
            report.uncovered.append(f"{rule_id}: no {' and no '.join(missing)} case")
    return report
