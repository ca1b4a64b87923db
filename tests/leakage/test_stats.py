"""The leakage audit's statistics against independent computations: brute force, scipy, closed forms."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from scipy.stats import binomtest

from auditor.leakage import stats


def _brute_auc(pos: list[float], neg: list[float]) -> float:
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_auc_is_the_pairwise_win_rate_with_ties_halved(seed: int) -> None:
    rng = random.Random(seed)
    pos = [rng.choice([0.0, 0.5, 1.0, 1.5]) + rng.random() * (seed % 2) for _ in range(37)]
    neg = [rng.choice([0.0, 0.5, 1.0]) for _ in range(23)]
    assert stats.auc(pos, neg) == pytest.approx(_brute_auc(pos, neg))
    assert stats.auc([], neg) is None


def test_roc_runs_from_the_origin_to_the_corner_and_is_monotone() -> None:
    rng = random.Random(1)
    pos, neg = [rng.gauss(1, 1) for _ in range(500)], [rng.gauss(0, 1) for _ in range(500)]
    curve = stats.roc(pos, neg, points=50)
    assert curve[0] == (0.0, 0.0) and curve[-1] == (1.0, 1.0) and len(curve) <= 52
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(curve))
    # the area under the (full) curve is the AUC
    full = stats.roc(pos, neg, points=10_000)
    area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(full))
    assert area == pytest.approx(stats.auc(pos, neg), abs=1e-9)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (1, 100), (47, 200), (0, 1)])
def test_clopper_pearson_is_scipys_exact_interval(k: int, n: int) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = stats.clopper_pearson(k, n)
    assert (lo, hi) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_tpr_at_fpr_allows_exactly_the_stated_false_positives() -> None:
    negatives = [float(i) for i in range(100)]        # 0 .. 99
    positives = [50.5, 95.5, 98.5, 99.5, 120.0]
    # 1% of 100 negatives: one false positive allowed -> threshold at the second highest (98): above it count
    assert stats.tpr_at_fpr(positives, negatives, 0.01) == (3, 5)
    # 10%: ten allowed -> threshold 89
    assert stats.tpr_at_fpr(positives, negatives, 0.1) == (4, 5)
    # 0.1% of 100 is below one: none allowed -> above the highest negative only
    assert stats.tpr_at_fpr(positives, negatives, 0.001) == (2, 5)


def _binom_sf(v: int, r: int, q: float) -> float:
    """P[Binomial(r, q) >= v] by summing exact terms (no scipy)."""
    return sum(math.comb(r, i) * q**i * (1 - q) ** (r - i) for i in range(v, r + 1))


def _p_value(m: int, r: int, v: int, eps: float, delta: float) -> float:
    """Steinke et al. (2023) Appendix D, written out independently with exact integer binomials."""
    q = 1 / (1 + math.exp(-eps))
    pmf = [math.comb(r, i) * q**i * (1 - q) ** (r - i) for i in range(r + 1)]
    alpha = max((sum(pmf[v - i:v]) / i for i in range(1, v + 1)), default=0.0)
    return min(1.0, _binom_sf(v, r, q) + alpha * delta * 2 * m)


@pytest.mark.parametrize(("m", "r", "v", "eps", "delta"), [
    (200, 100, 60, 0.5, 0.0), (200, 100, 80, 1.0, 1e-5), (1000, 100, 95, 2.0, 1e-5), (100, 50, 25, 0.0, 1e-3),
    (1000, 1000, 700, 0.7, 1e-6)])
def test_p_value_matches_an_independent_implementation(m: int, r: int, v: int, eps: float, delta: float) -> None:
    assert stats.one_run_p_value(m, r, v, eps, delta) == pytest.approx(_p_value(m, r, v, eps, delta), rel=1e-9,
                                                                        abs=1e-15)


@pytest.mark.parametrize(("r", "expected"), [(100, 3.49), (1000, 5.81)])
def test_the_ceiling_for_r_guesses_is_the_all_correct_bound(r: int, expected: float) -> None:
    """All r guesses right at 95%: p^r = 0.05 solves p = e^ε/(1+e^ε), the issue's 'about 3.5' and '5.8'."""
    p = 0.05 ** (1 / r)
    closed = math.log(p / (1 - p))
    assert stats.epsilon_lower_bound(r, r, r, delta=0.0) == pytest.approx(closed, abs=1e-6)
    assert closed == pytest.approx(expected, abs=0.01)
    # a δ > 0 can only lower what the same guesses prove
    assert stats.epsilon_lower_bound(2 * r, r, r, delta=1e-5) <= closed + 1e-9


@pytest.mark.parametrize(("m", "r", "v", "delta"), [(200, 100, 70, 1e-5), (1000, 500, 400, 1e-6), (200, 100, 90, 0)])
def test_the_lower_bound_sits_where_the_p_value_crosses_five_percent(m: int, r: int, v: int, delta: float) -> None:
    eps = stats.epsilon_lower_bound(m, r, v, delta)
    assert eps > 0
    assert _p_value(m, r, v, eps - 1e-4, delta) < 0.05 <= _p_value(m, r, v, eps + 1e-4, delta)


def test_chance_guessing_proves_nothing() -> None:
    assert stats.epsilon_lower_bound(200, 100, 50, 1e-5) == 0.0
    assert stats.epsilon_lower_bound(200, 100, 58, 1e-5) == 0.0   # inside what randomness gives (p > 5%)
    assert stats.epsilon_lower_bound(200, 0, 0, 1e-5) == 0.0


def test_guesses_take_the_extremes_and_break_ties_by_the_secret_order() -> None:
    scores = [0.9, 0.1, 0.5, 0.5, 0.8, 0.2, 0.5, 0.5]
    included = [True, False, True, False, True, False, False, True]
    # k = 2: "in" for 0.9 and 0.8 (both right), "out" for 0.1 and 0.2 (both right)
    assert stats.guesses(scores, included, 2) == (4, 4)
    # k = 3: the third pick on each side comes from the four 0.5 ties (2 and 7 in, 3 and 6 out), lowest tie
    # key guessed "out", highest guessed "in"
    assert stats.guesses(scores, included, 3, tie_order=[0, 0, 0.1, 0.9, 0, 0, 0.2, 0.8]) == (6, 4)  # both wrong
    assert stats.guesses(scores, included, 3, tie_order=[0, 0, 0.9, 0.1, 0, 0, 0.8, 0.2]) == (6, 6)  # both right
    assert stats.guesses(scores, included, 3, tie_order=[0, 0, 0.2, 0.1, 0, 0, 0.9, 0.8]) == (6, 5)  # one each


def test_exposure_is_bits_above_a_random_rank() -> None:
    candidates = [float(i) for i in range(1, 1024)]           # 1023 candidates
    assert stats.exposure(0.5, candidates) == pytest.approx(10.0)     # lower loss than all: log2(1024)
    assert stats.exposure(1023.5, candidates) == pytest.approx(0.0)   # last of 1024
    assert stats.exposure(511.5, candidates) == pytest.approx(1.0)    # rank 512 of 1024
    rng = random.Random(2)
    ranks = [stats.exposure(rng.random() * 1024, candidates) for _ in range(4000)]
    assert 1.2 < sum(ranks) / len(ranks) < 1.7   # a uniformly random rank: 1/ln 2 ≈ 1.44 bits on average
