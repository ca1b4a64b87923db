"""The statistics of the leakage audit: ROC and AUC, TPR at a fixed FPR with exact intervals, the one-run
ε lower bound and its ceiling, and canary exposure.

Pure functions over scores (higher = "more likely a member"), so each can be checked against an independent
computation. Nothing here sees a record or a canary, only numbers.

The ε lower bound is Steinke, Nasr and Jagielski, "Privacy Auditing with One (1) Training Run" (NeurIPS
2023), Theorem 5.2 with the numerical procedure of their Appendix D: ``m`` canaries, each included with
probability 1/2 by an independent secret coin; the auditor guesses "in" for the ``k`` best-scored and "out"
for the ``k`` worst-scored canaries and abstains on the rest (``r = 2k`` guesses, ``v`` right). If the
training is (ε, δ)-DP with respect to each canary, ``v`` is at most a Binomial(r, e^ε/(1+e^ε)) plus a δ
term, so a ``v`` that would be improbable under that distribution proves the training is *not* (ε, δ)-DP.
How many guesses to make is fixed before any score is seen (a choice made after looking at the scores would
void the confidence level). With ``r`` guesses the bound can never exceed the ceiling where all ``r`` are
right -- about 3.5 for 100 guesses at 95% -- so it detects broken implementations; it certifies nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: FPRs at which the TPR is reported (the issue's 0.1%, 1% and 10%)
FPRS = (0.001, 0.01, 0.1)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(score of a random positive > score of a random negative), ties counted half (Mann-Whitney U)."""
    if not positives or not negatives:
        return None
    from scipy.stats import rankdata

    ranks = rankdata([*positives, *negatives])  # average ranks for ties
    n_pos, n_neg = len(positives), len(negatives)
    u = float(sum(ranks[:n_pos])) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def roc(positives: Sequence[float], negatives: Sequence[float], points: int = 200) -> list[tuple[float, float]]:
    """(FPR, TPR) at every distinct threshold, from (0, 0) to (1, 1), thinned to about ``points`` points
    (the corners and the steepest early part kept: the low-FPR end is what an attacker cares about)."""
    if not positives or not negatives:
        return []
    scored = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives], key=lambda x: -x[0])
    curve = [(0.0, 0.0)]
    tp = fp = 0
    for i, (score, label) in enumerate(scored):
        tp += label
        fp += 1 - label
        if i + 1 == len(scored) or scored[i + 1][0] != score:
            curve.append((fp / len(negatives), tp / len(positives)))
    if len(curve) <= points:
        return curve
    step = len(curve) / points
    kept = {0, len(curve) - 1, *(int(i * step) for i in range(points))}
    return [curve[i] for i in sorted(kept)]


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact two-sided binomial interval for k successes in n trials."""
    if n <= 0:
        return 0.0, 1.0
    from scipy.stats import beta

    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def tpr_at_fpr(positives: Sequence[float], negatives: Sequence[float], fpr: float) -> tuple[int, int]:
    """(true positives, positives) at the strictest threshold whose false-positive rate on ``negatives`` is
    at most ``fpr``: scores strictly above the (⌊fpr·N⌋+1)-th highest negative count as "member". With
    fewer than 1/fpr negatives that threshold is above every negative (no false positive allowed)."""
    allowed = math.floor(fpr * len(negatives) + 1e-9)
    ordered = sorted(negatives, reverse=True)
    if allowed >= len(ordered):
        return len(positives), len(positives)
    threshold = ordered[allowed]
    return sum(1 for s in positives if s > threshold), len(positives)


def one_run_p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """Steinke et al. (2023), Appendix D: the probability of at least ``v`` right out of ``r`` guesses on
    ``m`` canaries if the training were (ε, δ)-DP."""
    from scipy.stats import binom

    if not 0 <= v <= r <= m or epsilon < 0 or not 0 <= delta <= 1:
        raise ValueError("need 0 <= v <= r <= m, epsilon >= 0 and 0 <= delta <= 1")
    q = 1.0 / (1.0 + math.exp(-epsilon))  # the accuracy of ε-DP randomised response
    beta = float(binom.sf(v - 1, r, q))  # P[Binomial(r, q) >= v]
    alpha, mass = 0.0, 0.0
    if delta > 0:
        for i in range(1, v + 1):
            mass += float(binom.pmf(v - i, r, q))  # P[v - i <= Binomial(r, q) < v]
            alpha = max(alpha, mass / i)
    return min(1.0, beta + alpha * delta * 2 * m)


def epsilon_lower_bound(m: int, r: int, v: int, delta: float, confidence: float = 0.95) -> float:
    """The largest ε the observed guesses reject at ``confidence``: the training is not (ε, δ)-DP for any
    smaller ε, except with probability 1 - confidence. 0 when nothing is rejected."""
    p = 1.0 - confidence
    if r == 0 or one_run_p_value(m, r, v, 0.0, delta) >= p:
        return 0.0
    lo, hi = 0.0, 1.0
    while one_run_p_value(m, r, v, hi, delta) < p:
        lo, hi = hi, hi * 2
        if hi > 200:
            return lo
    for _ in range(60):
        mid = (lo + hi) / 2
        if one_run_p_value(m, r, v, mid, delta) < p:
            lo = mid
        else:
            hi = mid
    return lo


def guesses(scores: Sequence[float], included: Sequence[bool], k: int,
            tie_order: Sequence[float] | None = None) -> tuple[int, int]:
    """(r, v): guess "in" for the ``k`` highest scores and "out" for the ``k`` lowest (ties broken by
    ``tie_order``, a secret random key per canary, never by position). ``k`` is fixed before scoring."""
    if len(scores) != len(included):
        raise ValueError("one score per canary")
    k = min(k, len(scores) // 2)
    keys = tie_order if tie_order is not None else [0.0] * len(scores)
    order = sorted(range(len(scores)), key=lambda i: (scores[i], keys[i]))
    low, high = order[:k], order[len(order) - k:]
    right = sum(1 for i in high if included[i]) + sum(1 for i in low if not included[i])
    return 2 * k, right


def exposure(canary_loss: float, candidate_losses: Sequence[float]) -> float:
    """Carlini et al. (2019), "The Secret Sharer": log2(C+1) − log2(rank) of the canary's loss among ``C``
    random candidates of the same format (rank 1 = lower loss than every candidate). Uniformly random
    ranks give about 1 bit on average; the most a sample of C can show is log2(C+1)."""
    below = sum(1 for c in candidate_losses if c < canary_loss)
    ties = sum(1 for c in candidate_losses if c == canary_loss)
    rank = 1 + below + ties / 2
    return math.log2(len(candidate_losses) + 1) - math.log2(rank)


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
