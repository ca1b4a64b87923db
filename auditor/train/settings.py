"""Requirements → settings: the policies, not the plan, decide the privacy a training run must meet.

Pure and light (no torch), so enforcement is unit-tested with hand-built requirements. A plan asking for
more ε or δ than the policies allow is refused with both numbers and the rule that set the bound, and so is
a dataset with fewer privacy units than the policies' ``min_units``; a silent plan gets the required values;
δ resolves against the n actually loaded.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from auditor.errors import GateFailed, TrainingInputError
from auditor.plan import PlanDocument
from auditor.privacy.requirements import DEFAULT_DELTA, PrivacyRequirement, default_delta, parse_delta
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


def _resolve_delta(doc: PlanDocument, requirement: PrivacyRequirement, n: int) -> tuple[float, str]:
    """δ for ``n`` units: the plan's explicit value when it is within the binding bound, else a refusal
    naming the rule; ``auto`` is the binding bound, never above min(1e-5, 1/(10·n)) — also when no policy
    bounds δ, since δ = 1/n would admit publishing about one whole unit's data (NIST SP 800-226;
    Ponomareva et al. 2023 ask for δ ≪ 1/n)."""
    src = doc.source
    if n < 1:
        raise TrainingInputError(f"{src}: no privacy units to train on (n={n})")
    units_problem = requirement.units_problem(n)
    if units_problem is not None:
        raise GateFailed(f"{src}: {units_problem}; train on more "
                         f"{'people' if doc.plan.privacy.unit == 'user' else 'records'}, or do not train on "
                         "personal data")
    target = doc.plan.privacy.target_delta
    limit = requirement.delta_limit(n)
    if limit is not None and limit.value <= 0.0:
        raise GateFailed(f"{src}: {requirement.target_delta_problem(0.0, n)}; fix the policy's max_delta")
    if isinstance(target, float):
        delta_problem = requirement.target_delta_problem(target, n)
        if delta_problem is not None:
            raise GateFailed(f"{src}: privacy.{delta_problem}; lower it or set target_delta: auto")
        return target, "plan"
    default = default_delta(n)
    if limit is not None and limit.value <= default:
        origin = limit.origin or "the policies"
        return limit.value, f"{origin} ({limit.expr}, n={n})" if parse_delta(limit.expr).uses_n else origin
    return default, f"auto ({DEFAULT_DELTA}, n={n})"


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

    delta, delta_source = _resolve_delta(doc, requirement, privacy_units)
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
