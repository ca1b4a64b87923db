"""Waivers: a named person accepts a finding for a reason, until a date.

They live in their own file so the policies stay shared and the exceptions stay reviewable. An expired
waiver does not apply and is itself reported as a failing finding; a waived finding stays visible in every
output format (SARIF ``suppressions``), it only stops blocking.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

import datetime as dt
import fnmatch
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor.errors import PolicyLoadError
from auditor.findings import WaiverRef
from auditor.yamlio import describe_validation_error, load_yaml

if TYPE_CHECKING:
    from auditor.policy.model import Policy


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

    @field_validator("rule", "reason", "approver")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # A waiver is an accountable decision: "reason: ' '" or an anonymous approver is no decision at all.
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

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
    """The waivers in ``path``; any invalid entry is one :class:`PolicyLoadError` line (file:line: field)."""
    source, waivers, _ = load_waivers_with_lines(path)
    return source, waivers


def load_waivers_with_lines(path: Path | str) -> tuple[Path, list[Waiver], list[int | None]]:
    """Like :func:`load_waivers`, plus each waiver's line, so later checks can point at the entry."""
    path = Path(path)
    loaded = load_yaml(path, "waiver file", PolicyLoadError)
    listed = isinstance(loaded.data, dict)
    data = loaded.data if listed else {"waivers": loaded.data}
    # A bare list is read as if under "waivers:"; its recorded lines get the same prefix.
    where = loaded.lines if listed else {("waivers", *key): line for key, line in loaded.lines.items()}
    try:
        parsed = WaiverFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyLoadError(describe_validation_error(exc, path, where)) from None
    lines = [where.get(("waivers", i)) for i in range(len(parsed.waivers))]
    return path, parsed.waivers, lines


def check_waiver_targets(source: Path, waivers: Sequence[Waiver], lines: Sequence[int | None],
                         policies: Sequence["Policy"], *, strict: bool,
                         warn: Callable[[str], None]) -> None:
    """A waiver that names no loaded rule or policy never applies; say so instead of ignoring it.

    Typos here are silent failures of the worst kind: the team believes a finding is waived (or a waiver
    is scoped) and it is not. With every bundled policy loaded (``strict``: no ``--policy`` filter) an
    unknown id can only be a mistake, so it is an error (exit 2), as is an id that differs from a loaded
    one only in case. With a ``--policy`` filter an unknown rule may belong to a policy the user left out
    on purpose, so it is a warning on stderr.
    """
    owner = {rule.spec.id: p.id for p in policies for rule in p.rules}
    owner.update({block.spec.id: p.id for p in policies for block in p.privacy})
    policy_ids = {p.id for p in policies}
    for index, waiver in enumerate(waivers):
        where = f"{source}:{lines[index]}" if index < len(lines) and lines[index] else str(source)
        problem: str | None = None
        certain = strict  # a case-only mismatch with a loaded id is a typo whatever --policy selected
        if waiver.rule not in owner:
            near = next((rid for rid in owner if rid.upper() == waiver.rule.upper()), None)
            certain = certain or near is not None
            problem = (f"rule '{waiver.rule}' does not match rule id {near} (ids are case-sensitive)" if near
                       else f"no loaded policy has a rule '{waiver.rule}'; the waiver never applies")
        elif waiver.scope is not None and waiver.scope.policy is not None:
            wanted = waiver.scope.policy
            if wanted not in policy_ids:
                near = next((pid for pid in policy_ids if pid.lower() == wanted.lower()), None)
                certain = certain or near is not None
                problem = (f"scope.policy '{wanted}' does not match policy id '{near}' (ids are case-sensitive)"
                           if near else f"scope.policy '{wanted}' is not a loaded policy; the waiver never applies")
            elif owner[waiver.rule] != wanted:
                problem = (f"scope.policy '{wanted}' does not contain rule {waiver.rule} (it is in "
                           f"'{owner[waiver.rule]}'); the waiver never applies")
        if problem is None:
            continue
        if certain:
            raise PolicyLoadError(f"{where}: waiver: {problem}")
        warn(f"{where}: waiver: {problem} (only the policies selected with --policy are loaded)")
