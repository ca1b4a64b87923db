"""Composition per privacy unit: what the worst-off unit has spent over every run that held it.

A unit's history is the list of runs it was in. Runs it was in once (``m = 1``) and whose mechanism is
known are composed *by the accountants* -- Opacus' and dp-accounting's PLD over the concatenated Poisson-
subsampled Gaussian histories, the larger enforced -- at the δ the policies allow, so δ does not add up run
after run and ε grows sub-additively, as it really does. Runs it matched ``m > 1`` times (a person with
several records in a record-level run, or texts matched after ids changed) and legacy runs with no recorded
mechanism are charged by group privacy and basic composition instead: ``mε`` and ``m·e^{(m-1)ε}·δ``, with
that δ taken out of what the accountants may use. Units with the same history are composed once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auditor.privacy import accounting


@dataclass(frozen=True)
class Mechanism:
    """One run's DP-SGD as the accountants see it."""

    noise_multiplier: float
    sample_rate: float
    steps: int


@dataclass(frozen=True)
class Charge:
    """One run as the ledger knows it: its own (ε, δ), and its mechanism when recorded."""

    epsilon: float
    delta: float
    mechanism: Mechanism | None
    settled: bool


@dataclass(frozen=True)
class Worst:
    """The worst-off unit: its composed ε at ``delta``, and the plain sums of its runs' own ε."""

    epsilon: float
    delta: float  # the δ the composition is stated at
    spent: float
    reserved: float
    units_touched: int
    runs_touched: int


def _pattern_epsilon(pattern: Sequence[float], charges: Sequence[Charge], extra: Mechanism | None,
                     extra_delta: float, delta: float | None,
                     accountant: accounting.Accountant) -> tuple[float, float]:
    """(ε, δ) of one history; without a given δ, at the runs' own largest δ plus what group privacy adds."""
    composed = [c for m, c in zip(pattern, charges, strict=True) if m == 1 and c.mechanism is not None]
    events = [(c.mechanism.noise_multiplier, c.mechanism.sample_rate, c.mechanism.steps)
              for c in composed if c.mechanism is not None]
    if extra is not None:
        events.append((extra.noise_multiplier, extra.sample_rate, extra.steps))
    basic = [(m * c.epsilon, m * math.exp((m - 1) * c.epsilon) * c.delta)
             for m, c in zip(pattern, charges, strict=True) if m > 1 or (m == 1 and c.mechanism is None)]
    basic_delta = sum(d for _, d in basic)
    if delta is None:
        own = [c.delta for c in composed] + ([extra_delta] if extra is not None else [])
        delta = max(own, default=0.0) + basic_delta
    delta_left = delta - basic_delta
    if delta_left < 0 or (events and delta_left == 0):
        return math.inf, delta
    eps = accounting.composed_epsilon(tuple(events), delta_left, accountant) if events else 0.0
    return eps + sum(e for e, _ in basic), delta


def worst_unit(matches: Any, charges: Sequence[Charge], delta: float | None, accountant: accounting.Accountant,
               planned: Mechanism | None = None, planned_delta: float = 0.0) -> Worst:
    """``matches[r, u]``: how many of run ``r``'s units unit ``u`` matched. ``planned`` (a run about to start)
    is in every unit's history. ``delta``: the δ to state the composition at (the policies' bound); None
    states each history at its runs' own δ."""
    import numpy as np

    count = matches.shape[1]
    if count == 0:
        return Worst(0.0, delta or 0.0, 0.0, 0.0, 0, 0)
    touched = matches.any(axis=1)
    patterns = np.unique(matches[touched].T, axis=0) if touched.any() else np.zeros((1, 0))
    kept = [c for c, t in zip(charges, touched.tolist(), strict=True) if t]
    best = (-1.0, 0.0, 0.0, 0.0)
    for pattern in patterns:
        eps, at = _pattern_epsilon(pattern.tolist(), kept, planned, planned_delta, delta, accountant)
        if eps > best[0]:
            spent = sum(m * c.epsilon for m, c in zip(pattern.tolist(), kept, strict=True) if c.settled)
            reserved = sum(m * c.epsilon for m, c in zip(pattern.tolist(), kept, strict=True) if not c.settled)
            best = (eps, at, spent, reserved)
    return Worst(epsilon=best[0], delta=best[1], spent=best[2], reserved=best[3],
                 units_touched=int(np.count_nonzero(matches.any(axis=0))), runs_touched=int(touched.sum()))


def largest_fitting_epsilon(matches: Any, charges: Sequence[Charge], delta: float, accountant: accounting.Accountant,
                            planned: Mechanism, cap: float) -> float:
    """The largest ε (at ``delta``) a run with ``planned``'s q and steps could have and still fit under
    ``cap`` with these units' history: found by raising σ; 0.0 when nothing fits."""
    def fits(sigma: float) -> bool:
        trial = Mechanism(sigma, planned.sample_rate, planned.steps)
        return worst_unit(matches, charges, delta, accountant, trial).epsilon <= cap

    lo, hi = planned.noise_multiplier, planned.noise_multiplier
    for _ in range(12):
        if fits(hi):
            break
        lo, hi = hi, hi * 2
    else:
        return 0.0
    for _ in range(12):  # σ to ~0.1% of the bracket
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return accounting.epsilon_pair(hi, planned.sample_rate, planned.steps, delta, accountant).enforced
