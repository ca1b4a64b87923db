"""The mechanism's randomness: secret and fresh per run, resumable from its state, and the right distributions."""

from __future__ import annotations

import pytest

from auditor.privacy.randomness import MechanismRandom


def test_every_run_gets_a_fresh_secret_and_a_state_replays_exactly() -> None:
    a, b = MechanismRandom(), MechanismRandom()
    assert a.state()["key"] != b.state()["key"]
    state = a.state()
    first = a.uniform(1000)
    assert not bool((first == b.uniform(1000)).all())
    replay = MechanismRandom.from_state(state)
    assert bool((replay.uniform(1000) == first).all())
    # each draw is its own stream: the next draw differs from the first one
    assert not bool((a.uniform(1000) == first).all())
    assert a.derived_key("split") != a.derived_key("other") != b.derived_key("split")


def test_gaussian_draws_are_standard_normal_with_full_tails() -> None:
    from scipy import stats

    z = MechanismRandom().normal(200_001, 1.0)
    assert z.dtype.is_floating_point and str(z.dtype) == "torch.float64" and len(z) == 200_001
    result = stats.kstest(z.numpy(), "norm")
    assert result.pvalue > 1e-4  # fails on a wrong scale, shift or a truncated sampler
    assert float(z.std()) == pytest.approx(1.0, abs=0.01) and abs(float(z.mean())) < 0.01
    scaled = MechanismRandom().normal(100_000, 3.0)
    assert float(scaled.std()) == pytest.approx(3.0, rel=0.02)


def test_bernoulli_and_choices_have_the_rates_they_promise() -> None:
    source = MechanismRandom()
    counts = [len(source.bernoulli(10_000, 0.1)) for _ in range(20)]
    assert sum(counts) / 20 == pytest.approx(1000, rel=0.03)
    picks = source.choices([3] * 30_000)
    assert set(picks) == {0, 1, 2}
    assert all(abs(picks.count(k) - 10_000) < 500 for k in range(3))


class _Zero(MechanismRandom):
    def normal(self, n: int, std: float) -> object:
        import torch

        return torch.zeros(n, dtype=torch.float64)


def _step(source: MechanismRandom, sigma: float = 2.0) -> tuple[object, object, object]:
    import torch
    from torch import nn

    from auditor.train import finetune

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    params = list(model.parameters())
    dp = finetune.make_private(model, torch.optim.SGD(params, lr=1.0), train_size=40, batch_size=10,
                               sigma=sigma, clip=0.5, mode="hooks", accountant="rdp", source=source)
    assert dp.optimizer.generator is None
    before = [p.detach().clone() for p in params]
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    rng = torch.get_rng_state()
    dp.reduce(nn.functional.cross_entropy(model(x), y, reduction="none")).backward()
    dp.optimizer.step()
    assert bool((torch.get_rng_state() == rng).all()), "the DP step drew from torch's global generator"
    moved = [(p.detach() - b) for p, b in zip(params, before, strict=True)]
    return moved, (x, y), before


def test_noise_comes_from_the_source_and_the_rest_is_the_clipped_sum() -> None:
    """With a zero-noise source the update is exactly -Σ clip(∇ℓ_i)/B (per-example autograd as ground
    truth); with a real source it differs by noise of std σC/B; torch's generator is never drawn from."""
    import torch
    from torch import nn

    moved, (x, y), before = _step(_Zero())
    reference = nn.Sequential(nn.Linear(4, 3))
    with torch.no_grad():
        for p, b in zip(reference.parameters(), before, strict=True):
            p.copy_(b)
    total = [torch.zeros_like(p) for p in reference.parameters()]
    for i in range(10):
        reference.zero_grad()
        nn.functional.cross_entropy(reference(x[i:i + 1]), y[i:i + 1]).backward()
        grads = [p.grad for p in reference.parameters()]
        norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
        factor = min(1.0, 0.5 / (float(norm) + 1e-6))
        total = [t + factor * g for t, g in zip(total, grads, strict=True)]
    for m, t in zip(moved, total, strict=True):
        assert torch.allclose(m, -t / 10, atol=1e-6)
    noisy, _, _ = _step(MechanismRandom(), sigma=2.0)
    diff = torch.cat([(n - m).flatten() for n, m in zip(noisy, moved, strict=True)])
    assert float(diff.std()) == pytest.approx(2.0 * 0.5 / 10, rel=0.6)  # 15 coordinates: a loose check
    assert float(diff.abs().max()) > 1e-3
