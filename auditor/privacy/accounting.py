"""ε for DP-SGD, from two independent accountants, and the noise calibrated so that both stay in budget.

One accountant's bug should not silently weaken a guarantee a report signs, so every ε is computed twice:
by Opacus' accountant (PRV or RDP, as the plan asks) and by Google's ``dp-accounting`` privacy-loss
distribution (PLD) for the same Poisson-subsampled Gaussian mechanism (σ, q, steps). Enforcement uses the
larger of the two. Both libraries are imported inside the functions so ``auditor check`` stays light.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.errors import TrainingInputError

Accountant = Literal["prv", "rdp"]

#: PLD discretisation. dp-accounting's PLD is a pessimistic estimate (an upper bound) at any interval; a
#: coarser one over-states ε, never under-states it. Measured (dp-accounting 0.6, δ=1e-5): the example's
#: run (σ=1.0, q=1/9, 9 steps) gives 3.0037 at both 1e-3 and 1e-4; σ=0.8, q=0.01, 3,000 steps 5.243 vs
#: 5.242; but σ=3, q=0.001, 50,000 steps 0.402 vs 0.258 -- long low-ε runs are over-charged by up to ~50%
#: and stop early. 1e-4 costs ~10x per call, and the loop calls it before every step, so 1e-3 it is.
PLD_DISCRETIZATION = 1e-3
#: Beyond this σ the model learns nothing useful: too few privacy units for the ε asked.
MAX_USEFUL_NOISE = 25.0


class EpsilonPair(BaseModel):
    """ε after ``steps`` steps from both accountants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(ge=0)
    opacus: float = Field(ge=0)
    pld: float = Field(ge=0)

    @property
    def enforced(self) -> float:
        """The larger of the two: a bug in either accountant can only make us stricter."""
        return max(self.opacus, self.pld)


@lru_cache(maxsize=4096)
def epsilon_pld(sigma: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε of ``steps`` Poisson-subsampled Gaussian steps by dp-accounting's PLD accountant."""
    if steps <= 0:
        return 0.0
    import dp_accounting
    from dp_accounting import pld

    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(sample_rate, dp_accounting.GaussianDpEvent(sigma)), steps)
    accountant = pld.PLDAccountant(value_discretization_interval=PLD_DISCRETIZATION)
    accountant.compose(event)
    return float(accountant.get_epsilon(delta))


@lru_cache(maxsize=4096)
def epsilon_opacus(sigma: float, sample_rate: float, steps: int, delta: float, accountant: Accountant) -> float:
    """ε by a fresh Opacus accountant given the same history Opacus' step hook records."""
    if steps <= 0:
        return 0.0
    import warnings

    from opacus.accountants import create_accountant

    acc = create_accountant(mechanism=accountant)
    acc.history = [(sigma, sample_rate, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RDP's "optimal order is the largest alpha": the bound stays valid
        return float(acc.get_epsilon(delta=delta))


def epsilon_pair(sigma: float, sample_rate: float, steps: int, delta: float, accountant: Accountant) -> EpsilonPair:
    return EpsilonPair(steps=steps, opacus=epsilon_opacus(sigma, sample_rate, steps, delta, accountant),
                       pld=epsilon_pld(sigma, sample_rate, steps, delta))


Event = tuple[float, float, int]  # (σ, q, steps) of one run


@lru_cache(maxsize=1024)
def composed_epsilon(events: tuple[Event, ...], delta: float, accountant: Accountant) -> float:
    """ε at ``delta`` of several runs' Poisson-subsampled Gaussian histories composed (the ledger's per-unit
    composition): Opacus' accountant and dp-accounting's PLD over the same events, the larger."""
    events = tuple(e for e in events if e[2] > 0)
    if not events:
        return 0.0
    import warnings

    import dp_accounting
    from dp_accounting import pld
    from opacus.accountants import create_accountant

    acc = create_accountant(mechanism=accountant)
    acc.history = [(float(s), float(q), int(n)) for s, q, n in events]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opacus = float(acc.get_epsilon(delta=delta))
    pld_accountant = pld.PLDAccountant(value_discretization_interval=PLD_DISCRETIZATION)
    pld_accountant.compose(dp_accounting.ComposedDpEvent([
        dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(s)),
                                          n) for s, q, n in events]))
    return max(opacus, float(pld_accountant.get_epsilon(delta)))


def sample_rate_for(units: int, batch_size: int) -> float:
    """q as Opacus defines it for a loader of ``units`` items in logical batches: 1 / number of batches."""
    if units <= 0:
        raise ValueError("no privacy units")
    return 1.0 / math.ceil(units / batch_size)


def calibrate_noise(target_epsilon: float, delta: float, sample_rate: float, steps: int,
                    accountant: Accountant, *, source: str = "plan") -> float:
    """The smallest σ (to 1%) for which *both* accountants give ε ≤ target after ``steps`` steps.

    Opacus' own search calibrates for its accountant only; the PLD cross-check may disagree slightly, and the
    run must finish within budget by the enforced (larger) ε, so σ is raised until both agree.
    """
    import warnings

    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sigma = float(get_noise_multiplier(target_epsilon=target_epsilon, target_delta=delta,
                                               sample_rate=sample_rate, steps=steps, accountant=accountant,
                                               epsilon_tolerance=0.005))
        except ValueError as exc:
            raise TrainingInputError(
                f"{source}: cannot reach ε={target_epsilon:g} at δ={delta:.3g} with q={sample_rate:.3g} over "
                f"{steps} steps ({exc})") from None
    for _ in range(200):
        if sigma > MAX_USEFUL_NOISE:
            break
        if epsilon_pair(sigma, sample_rate, steps, delta, accountant).enforced <= target_epsilon:
            return sigma
        sigma *= 1.01
    raise TrainingInputError(
        f"{source}: too few privacy units for ε={target_epsilon:g} at δ={delta:.3g}: the noise multiplier "
        f"would exceed {MAX_USEFUL_NOISE:g} (q={sample_rate:.3g}, {steps} steps); the model would learn noise. "
        "Use more data, fewer epochs, or a larger ε if the policies allow it")


def steps_within(cap: float, sigma: float, sample_rate: float, delta: float, accountant: Accountant,
                 planned: int) -> int:
    """How many of the ``planned`` steps keep the enforced ε at or below ``cap`` (binary search)."""
    lo, hi = 0, planned
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if epsilon_pair(sigma, sample_rate, mid, delta, accountant).enforced <= cap:
            lo = mid
        else:
            hi = mid - 1
    return lo
