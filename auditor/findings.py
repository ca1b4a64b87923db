"""Findings and the gate's verdict: the values every output format and the report are rendered from."""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.facts import RedactionFacts
from auditor.privacy.requirements import PrivacyRequirement

Severity = Literal["info", "low", "medium", "high", "critical"]
#: ``needs_scan``: the rule reads dataset facts and no scan was given. It is not "not applicable" (nobody
#: knows yet whether it applies), and it blocks the gate at the rule's severity unless the result was
#: asked for as a plan-only check (``plan_only``): a gate that has not seen the data cannot vouch for it.
Status = Literal["pass", "fail", "waived", "not_applicable", "needs_scan", "error"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    """Position in :data:`SEVERITIES`; ``none`` (never fail) ranks above everything."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class WaiverRef(_Frozen):
    """The waiver that applied to a finding (or that expired), as shown in every output."""

    rule: str
    reason: str
    approver: str
    expires: str
    scope: str | None = None
    source: str


def waiver_note(waiver: WaiverRef) -> str:
    """What a waived finding's message and conclusion end with; a reader that shows the waiver on its own
    (the report) strips exactly this."""
    return f" Waived by {waiver.approver} until {waiver.expires}: {waiver.reason}"


class Finding(_Frozen):
    policy: str
    rule: str
    title: str
    status: Status
    severity: Severity
    citation: str
    url: str
    message: str
    facts: dict[str, Any] = Field(default_factory=dict, description="The values that decided it")
    remediation: str = ""
    waiver: WaiverRef | None = None
    conclusion: str = Field(default="", description="The finding in words: the rule's explain on failure, its "
                                                    "met / not_applicable sentence otherwise")


class PolicyRef(_Frozen):
    id: str
    title: str
    version: str
    applies: bool
    sha256: str
    source: str
    reason: str = Field(default="", description="Why it applies or not: the policy's sentence, else the facts")
    not_covered: list[str] = Field(default_factory=list, description="What this policy does not check")


class GateResult(_Frozen):
    verdict: Literal["pass", "fail"]
    exit_code: int
    fail_on: str
    policies: list[PolicyRef]
    findings: list[Finding]
    privacy_requirements: PrivacyRequirement
    privacy_units: int | None = Field(default=None, description="n used to resolve the δ bound, when known")
    scan_used: bool = False
    plan_only: bool = Field(default=False, description="Rules that need a scan were reported, not blocking")
    redaction: RedactionFacts | None = Field(default=None, description="The plan's redaction evidence as the "
                                             "gate checked it (dataset.redaction_evidence); null without one")

    def blocking(self) -> list[Finding]:
        """Unwaived failures, errors and (unless ``plan_only``) rules still needing a scan, at or above the
        threshold: what stops a pipeline."""
        limit = severity_rank(self.fail_on)
        stopping = ("fail", "error") if self.plan_only else ("fail", "error", "needs_scan")
        return [f for f in self.findings if f.status in stopping and severity_rank(f.severity) >= limit]

    def to_json_v1(self) -> dict[str, Any]:
        """``auditor check --format json``, schema v1 (a contract with pipelines): :class:`CheckReport`."""
        req = self.privacy_requirements
        n = self.privacy_units
        bound_by = dict(req.bound_by)
        origin = req.delta_origin(n) if n else None
        if origin:  # with n known, name the rule whose bound binds at this n
            bound_by["max_delta"] = origin
        report = CheckReport(
            verdict=self.verdict, exit_code=self.exit_code, fail_on=self.fail_on, scan_used=self.scan_used,
            plan_only=self.plan_only, policies=self.policies, findings=self.findings, redaction=self.redaction,
            privacy_requirements=CheckPrivacy(
                dp_required=req.dp_required, max_epsilon=req.max_epsilon, max_delta=req.delta_shown(n),
                min_units=req.min_units, max_grad_norm=req.max_grad_norm, sampling=req.sampling,
                privacy_units=n, bound_by=bound_by))
        return report.model_dump(mode="json")


class CheckPrivacy(_Frozen):
    """The merged DP requirement as the gate states it, δ resolved for the known n."""

    dp_required: bool
    max_epsilon: float | None
    max_delta: float | str | None = Field(description="A number, or an expression over n while n is unknown")
    min_units: int | None
    max_grad_norm: float | None
    sampling: Literal["poisson"] | None
    privacy_units: int | None = Field(description="n, the privacy units the scan counted; null without a scan")
    bound_by: dict[str, str] = Field(description="Requirement field -> policy/RULE that set it")


class CheckReport(_Frozen):
    """``auditor check --format json`` (and ``check.json`` of an audit), schema v1. Readers must accept
    fields and status values added later within v1; ``schema_version`` changes when one changes meaning."""

    schema_version: Literal[1] = 1
    verdict: Literal["pass", "fail"]
    exit_code: int
    fail_on: str
    scan_used: bool
    plan_only: bool
    policies: list[PolicyRef]
    findings: list[Finding]
    privacy_requirements: CheckPrivacy
    redaction: RedactionFacts | None = Field(default=None, description="The plan's redaction evidence as the "
                                             "gate checked it; null when the plan names none")
