"""Waivers: a named person accepts a finding for a reason, until a date.

They live in their own file so the policies stay shared and the exceptions stay reviewable. An expired
waiver does not apply and is itself reported as a failing finding; a waived finding stays visible in every
output format (SARIF ``suppressions``), it only stops blocking.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

import datetime as dt
import fnmatch
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import PolicyLoadError
from auditor.findings import WaiverRef
from auditor.yamlio import describe_validation_error, load_yaml


class WaiverScope(BaseModel):
    """Globs a waiver is limited to; an omitted key matches everything."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    plan: str | None = Field(default=None, description="Glob on the plan's name")
    dataset: str | None = Field(default=None, description="Glob on the plan's dataset path")
    policy: str | None = Field(default=None, description="Policy id")

    def matches(self, plan_name: str, dataset_path: str, policy_id: str) -> bool:
        return ((self.plan is None or fnmatch.fnmatchcase(plan_name, self.plan))
                and (self.dataset is None or fnmatch.fnmatchcase(dataset_path, self.dataset))
                and (self.policy is None or self.policy == policy_id))

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.model_dump(exclude_none=True).items())


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    rule: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: dt.date
    scope: WaiverScope | None = None

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def ref(self, source: Path) -> WaiverRef:
        return WaiverRef(rule=self.rule, reason=self.reason, approver=self.approver,
                         expires=self.expires.isoformat(), scope=self.scope.describe() if self.scope else None,
                         source=str(source))


class WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    waivers: list[Waiver] = Field(default_factory=list)


def load_waivers(path: Path | str) -> tuple[Path, list[Waiver]]:
    path = Path(path)
    loaded = load_yaml(path, "waiver file", PolicyLoadError)
    data = loaded.data if isinstance(loaded.data, dict) else {"waivers": loaded.data}
    try:
        parsed = WaiverFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyLoadError(describe_validation_error(exc, path, loaded)) from None
    return path, parsed.waivers
