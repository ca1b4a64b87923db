"""ε ground truth: our numbers against dp-accounting's PLD computed directly, and Opacus' accountants."""

from __future__ import annotations

import math

import pytest

from auditor.privacy import accounting


def _direct_pld(sigma: float, q: float, steps: int, delta: float) -> float:
    import dp_accounting
    from dp_accounting import pld

    acc = pld.PLDAccountant(value_discretization_interval=1e-4)
    acc.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps))
    return float(acc.get_epsilon(delta))


@pytest.mark.parametrize(("sigma", "q", "steps", "delta"), [(1.0, 0.1, 10, 1e-3), (0.8, 0.0948, 11, 1 / 2700)])
def test_pld_matches_dp_accounting_and_opacus(sigma: float, q: float, steps: int, delta: float) -> None:
    ours = accounting.epsilon_pld(sigma, q, steps, delta)
    truth = _direct_pld(sigma, q, steps, delta)
    # Coarser discretisation is pessimistic: never below the fine-grained value, and within 0.1%.
    assert truth <= ours + 1e-9
    assert ours == pytest.approx(truth, rel=1e-3)
    prv = accounting.epsilon_opacus(sigma, q, steps, delta, "prv")
    assert prv == pytest.approx(truth, rel=0.02)  # two independent accountants agree
    rdp = accounting.epsilon_opacus(sigma, q, steps, delta, "rdp")
    assert rdp > truth  # RDP conversion is a looser upper bound


def test_known_value_single_gaussian_step() -> None:
    # q = 1, one step: the Gaussian mechanism; analytic δ(ε) (Balle & Wang 2018) at the reported ε ≈ δ.
    sigma, delta = 2.0, 1e-5
    eps = accounting.epsilon_pld(sigma, 1.0, 1, delta)
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    analytic_delta = phi(1 / (2 * sigma) - eps * sigma) - math.exp(eps) * phi(-1 / (2 * sigma) - eps * sigma)
    assert analytic_delta == pytest.approx(delta, rel=0.02)


def test_calibrated_noise_keeps_both_accountants_within_target_and_is_tight() -> None:
    q, steps, delta = accounting.sample_rate_for(1000, 100), 20, 1e-3
    assert q == pytest.approx(0.1)
    sigma = accounting.calibrate_noise(2.0, delta, q, steps, "rdp")
    pair = accounting.epsilon_pair(sigma, q, steps, delta, "rdp")
    assert pair.enforced <= 2.0
    assert pair.enforced == max(pair.opacus, pair.pld)
    looser = accounting.epsilon_pair(sigma * 0.95, q, steps, delta, "rdp")
    assert looser.enforced > 2.0  # not over-noised by more than a few percent


def test_too_few_units_is_refused_with_a_reason() -> None:
    from auditor.errors import TrainingInputError

    with pytest.raises(TrainingInputError, match=r"too few privacy units|cannot reach"):
        accounting.calibrate_noise(0.01, 1e-2, 1.0, 50, "rdp", source="plan.yaml")


def test_steps_within_cap_is_the_last_step_not_exceeding() -> None:
    sigma, q, delta = 1.0, 0.1, 1e-3
    k = accounting.steps_within(1.5, sigma, q, delta, "rdp", 200)
    assert accounting.epsilon_pair(sigma, q, k, delta, "rdp").enforced <= 1.5
    assert accounting.epsilon_pair(sigma, q, k + 1, delta, "rdp").enforced > 1.5
