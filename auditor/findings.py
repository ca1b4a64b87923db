"""Findings and the gate's verdict: the values every output format and the report are rendered from."""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.privacy.requirements import PrivacyRequirement

Severity = Literal["info", "low", "medium", "high", "critical"]
Status = Literal["pass", "fail", "waived", "not_applicable", "error"]
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

    def blocking(self) -> list[Finding]:
        """Unwaived failures and errors at or above the threshold: what stops a pipeline."""
        limit = severity_rank(self.fail_on)
        return [f for f in self.findings if f.status in ("fail", "error") and severity_rank(f.severity) >= limit]

    def to_json_v1(self) -> dict[str, Any]:
        """``auditor check --format json``, schema v1 (a contract with pipelines)."""
        req = self.privacy_requirements
        n = self.privacy_units
        bound_by = dict(req.bound_by)
        origin = req.delta_origin(n) if n else None
        if origin:  # with n known, name the rule whose bound binds at this n
            bound_by["max_delta"] = origin
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "fail_on": self.fail_on,
            "policies": [p.model_dump(mode="json") for p in self.policies],
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "privacy_requirements": {
                "dp_required": req.dp_required,
                "max_epsilon": req.max_epsilon,
                "max_delta": req.delta_shown(n),
                "min_units": req.min_units,
                "max_grad_norm": req.max_grad_norm,
                "sampling": req.sampling,
                "privacy_units": n,
                "bound_by": bound_by,
            },
        }
