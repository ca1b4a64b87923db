"""Policy files as data: the YAML shape (pydantic, ``extra="forbid"``) and the compiled form."""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auditor.findings import Severity
from auditor.policy.celx import Expr
from auditor.privacy.requirements import DeltaExpressionError, PrivacyBounds, parse_delta

RULE_ID = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"
POLICY_ID = r"^[a-z][a-z0-9_]*$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Citation(_Spec):
    ref: str = Field(min_length=1, description="Article reference, e.g. 'GDPR Art. 9(1)-(2)'")
    url: str = Field(pattern=r"^https://\S+$", description="Official text of the cited article, over https")


class _Worded(_Spec):
    """The sentences a reader gets instead of the expressions: ``met`` when the check passes,
    ``not_applicable`` when ``when`` is false. Same ``{{ plan.x }}`` / ``{{ facts.x }}`` placeholders as
    ``explain``; facts hold counts, never a value read from the dataset."""

    when: str | None = Field(default=None, description="CEL; false -> not_applicable")
    met: str | None = Field(default=None, min_length=1, description="The conclusion when the check passes")
    not_applicable: str | None = Field(default=None, min_length=1,
                                       description="Why it does not apply when `when` is false")

    @model_validator(mode="after")
    def _not_applicable_needs_when(self) -> Self:
        """Without ``when`` the text could never be shown; saying so at load beats a silently dead field."""
        if self.not_applicable is not None and self.when is None:
            raise ValueError("not_applicable is only shown when `when` is false; this rule has no `when`")
        return self


class RuleSpec(_Worded):
    id: str = Field(pattern=RULE_ID)
    title: str = Field(min_length=1)
    citation: Citation
    severity: Severity
    require: str = Field(min_length=1, description="CEL; true -> pass, false -> fail")
    explain: str | None = Field(default=None, description="Shown on failure; {{ facts.x }} placeholders")
    remediation: str = ""


class PrivacyBlockSpec(_Worded):
    id: str = Field(pattern=RULE_ID)
    title: str = Field(min_length=1)
    citation: Citation
    require: PrivacyBounds
    severity: Severity = Field(
        default="high", description="Of the finding when the plan's DP settings miss this block: a project "
                                    "default, not a legal duty, so an organisation sets how hard it blocks")

    @model_validator(mode="before")
    @classmethod
    def _delta_names_the_block(cls, data: Any) -> Any:
        """Parse ``require.max_delta`` here, where the block's id is known, so a bad bound fails at load with
        the file, the line and the rule, like a CEL syntax error does."""
        if isinstance(data, dict):
            require = data.get("require")
            delta = require.get("max_delta") if isinstance(require, dict) else None
            if isinstance(delta, str):
                try:
                    parse_delta(delta)
                except DeltaExpressionError as exc:
                    raise ValueError(f"privacy {data.get('id', '(no id)')}: require.max_delta: {exc}") from None
        return data


class PolicySpec(_Spec):
    id: str = Field(pattern=POLICY_ID)
    title: str = Field(min_length=1)
    version: str = Field(min_length=1)
    jurisdiction: str | None = None
    url: str | None = None
    description: str = ""
    not_covered: list[str] = Field(default_factory=list,
                                   description="Laws and obligations this policy does not check, one per entry")
    applies_when: str | None = None
    applies_text: str | None = Field(default=None, min_length=1,
                                     description="PolicyRef.reason when applies_when holds; placeholders allowed")
    not_applies_text: str | None = Field(default=None, min_length=1,
                                         description="PolicyRef.reason when applies_when is false")
    rules: list[RuleSpec] = Field(min_length=1)
    privacy: list[PrivacyBlockSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    when: Expr | None
    require: Expr


@dataclass(frozen=True)
class PrivacyBlock:
    spec: PrivacyBlockSpec
    when: Expr | None


@dataclass(frozen=True)
class Policy:
    """A loaded policy: its spec, where it came from, its digest, and every expression compiled."""

    spec: PolicySpec
    source: Path
    sha256: str
    bundled: bool
    applies_when: Expr | None
    rules: tuple[Rule, ...]
    privacy: tuple[PrivacyBlock, ...]

    @property
    def id(self) -> str:
        return self.spec.id
