"""The DP settings a fine-tune must meet, merged strictest-wins across every applicable policy.

No law fixes ε; each policy file states its documented choice. When several policies apply (EU and CN
subjects in one dataset), the smallest ε, the smallest δ and the smallest clipping norm win, and the merged
requirement remembers which rule set each bound, so a refusal can name it.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DeltaBound = float | Literal["1/n"]


class PrivacyBounds(BaseModel):
    """One policy's ``privacy[].require`` block, as written in the policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    dp_required: bool = True
    max_epsilon: float | None = Field(default=None, gt=0)
    max_delta: DeltaBound | None = None
    max_grad_norm: float | None = Field(default=None, gt=0)
    sampling: Literal["poisson"] | None = None


class PrivacyRequirement(BaseModel):
    """The merged requirement: ``bound_by`` maps each field to ``policy/ID`` of the block that set it."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    dp_required: bool = False
    max_epsilon: float | None = None
    max_delta: float | None = Field(default=None, description="Numeric bound on δ, before the 1/n bound")
    delta_one_over_n: bool = Field(default=False, description="δ must also be at most 1/n privacy units")
    max_grad_norm: float | None = None
    sampling: Literal["poisson"] | None = None
    bound_by: dict[str, str] = Field(default_factory=dict)

    def delta_for(self, n: int) -> float | None:
        """The δ bound for ``n`` privacy units (records, or distinct users for user-level DP)."""
        bounds = [b for b in (self.max_delta, (1.0 / n) if (self.delta_one_over_n and n > 0) else None) if b]
        return min(bounds) if bounds else None


def merge(blocks: list[tuple[str, PrivacyBounds]]) -> PrivacyRequirement:
    """Strictest wins: smallest ε, δ and clipping norm; DP and Poisson sampling if any block asks."""
    dp_required = False
    max_epsilon: float | None = None
    max_delta: float | None = None
    one_over_n = False
    max_grad_norm: float | None = None
    sampling: Literal["poisson"] | None = None
    bound_by: dict[str, str] = {}
    for origin, block in blocks:
        if block.dp_required and not dp_required:
            dp_required = True
            bound_by["dp_required"] = origin
        if block.max_epsilon is not None and (max_epsilon is None or block.max_epsilon < max_epsilon):
            max_epsilon = block.max_epsilon
            bound_by["max_epsilon"] = origin
        if block.max_delta == "1/n":
            if not one_over_n:
                one_over_n = True
                bound_by["delta_one_over_n"] = origin
        elif block.max_delta is not None and (max_delta is None or block.max_delta < max_delta):
            max_delta = block.max_delta
            bound_by["max_delta"] = origin
        if block.max_grad_norm is not None and (max_grad_norm is None or block.max_grad_norm < max_grad_norm):
            max_grad_norm = block.max_grad_norm
            bound_by["max_grad_norm"] = origin
        if block.sampling is not None and sampling is None:
            sampling = block.sampling
            bound_by["sampling"] = origin
    return PrivacyRequirement(dp_required=dp_required, max_epsilon=max_epsilon, max_delta=max_delta,
                              delta_one_over_n=one_over_n, max_grad_norm=max_grad_norm, sampling=sampling,
                              bound_by=bound_by)
