"""Requirements → settings: the policies, not the plan, decide the privacy a training run must meet.

Pure and light (no torch), so enforcement is unit-tested with hand-built requirements. A plan asking for
more ε than the policies allow is refused with both numbers and the rule that set the bound; a silent plan
gets the required values; δ resolves against the data actually loaded.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from auditor.errors import GateFailed, TrainingInputError
from auditor.plan import PlanDocument
from auditor.privacy.requirements import PrivacyRequirement
from auditor.train.evidence import SettingSource

DEFAULT_MAX_GRAD_NORM = 1.0


class DpSettings(BaseModel):
    """What the mechanism will enforce, and where each value came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dp: bool
    target_epsilon: float | None
    max_epsilon_allowed: float | None
    delta: float | None
    max_grad_norm: float | None
    accountant: Literal["prv", "rdp"]
    settings: dict[str, SettingSource]


def _rule(requirement: PrivacyRequirement, field: str) -> str:
    return requirement.bound_by.get(field, "the policies")


def resolve_settings(doc: PlanDocument, requirement: PrivacyRequirement, privacy_units: int) -> DpSettings:
    """Bound the plan's privacy block by the merged requirement for ``privacy_units`` units (n)."""
    spec = doc.plan.privacy
    src = doc.source
    if spec.mechanism == "none":
        if requirement.dp_required:
            raise GateFailed(f"{src}: privacy.mechanism is 'none' but {_rule(requirement, 'dp_required')} "
                             "requires differentially private training")
        return DpSettings(dp=False, target_epsilon=None, max_epsilon_allowed=None, delta=None,
                          max_grad_norm=None, accountant=spec.accountant, settings={})
    settings: dict[str, SettingSource] = {}

    max_eps = requirement.max_epsilon
    if spec.target_epsilon is not None:
        if max_eps is not None and spec.target_epsilon > max_eps:
            raise GateFailed(f"{src}: privacy.target_epsilon {spec.target_epsilon:g} exceeds the maximum "
                             f"ε={max_eps:g} required by {_rule(requirement, 'max_epsilon')}")
        epsilon = spec.target_epsilon
        settings["epsilon"] = SettingSource(value=epsilon, source="plan")
    elif max_eps is not None:
        epsilon = max_eps
        settings["epsilon"] = SettingSource(value=epsilon, source=_rule(requirement, "max_epsilon"))
    else:
        raise TrainingInputError(f"{src}: privacy.target_epsilon: not set, and no applicable policy sets a "
                                 "maximum ε; state the ε this training may spend")

    one_over_n = 1.0 / privacy_units
    candidates: list[tuple[float, str]] = []
    if isinstance(spec.target_delta, float):
        candidates.append((spec.target_delta, "plan"))
    if requirement.max_delta is not None:
        candidates.append((requirement.max_delta, _rule(requirement, "max_delta")))
    if requirement.delta_one_over_n:
        candidates.append((one_over_n, f"{_rule(requirement, 'delta_one_over_n')} (1/n, n={privacy_units})"))
    if not candidates or spec.target_delta == "auto":
        # 'auto' is at most 1/n even when no policy asks (NIST SP 800-226 rule of thumb).
        candidates.append((one_over_n, f"auto (1/n, n={privacy_units})"))
    delta, delta_source = min(candidates, key=lambda c: c[0])
    settings["delta"] = SettingSource(value=delta, source=delta_source)

    norm_candidates: list[tuple[float, str]] = []
    if spec.max_grad_norm is not None:
        norm_candidates.append((spec.max_grad_norm, "plan"))
    if requirement.max_grad_norm is not None:
        norm_candidates.append((requirement.max_grad_norm, _rule(requirement, "max_grad_norm")))
    clip, clip_source = min(norm_candidates, key=lambda c: c[0]) if norm_candidates else (
        DEFAULT_MAX_GRAD_NORM, "default")
    settings["max_grad_norm"] = SettingSource(value=clip, source=clip_source)

    return DpSettings(dp=True, target_epsilon=epsilon, max_epsilon_allowed=max_eps, delta=delta,
                      max_grad_norm=clip, accountant=spec.accountant, settings=settings)
