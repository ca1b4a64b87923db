"""Book-keeping clipping against ground truth: autograd one example at a time, on layers and call patterns the
BERT test does not reach (a layer called twice, repeated ids with a padding row, 2-D inputs, both norm paths),
and the refusals that send training to the fallback."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from auditor.privacy.randomness import MechanismRandom  # noqa: E402
from auditor.train.bookkeeping import BookkeepingHooks, Unsupported, check_supported  # noqa: E402
from auditor.train.tasks import SequenceClassification  # noqa: E402


class Toy(nn.Module):  # type: ignore[misc]
    """Embedding (padding row) → LayerNorm → a wide and a narrow Linear (ghost and direct norm paths) →
    the same Linear twice → mean over positions → a 2-D Linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(12, 6, padding_idx=0)
        self.norm = nn.LayerNorm(6)
        self.wide = nn.Linear(6, 40)      # T·(6+40) > 6·40 for T=8: per-example gradient path
        self.narrow = nn.Linear(40, 30)   # T·(40+30) ≤ 40·30: ghost-norm path
        self.shared = nn.Linear(30, 30, bias=False)
        self.head = nn.Linear(30, 3)

    def forward(self, ids: Any) -> Any:
        h = self.narrow(torch.tanh(self.wide(self.norm(self.emb(ids)))))
        h = self.shared(torch.relu(self.shared(h)))
        return self.head(h.mean(1))


def _truth(model: Any, ids: Any, labels: Any) -> tuple[Any, list[Any]]:
    params = list(model.parameters())
    grads = []
    for i in range(len(ids)):
        model.zero_grad()
        nn.functional.cross_entropy(model(ids[i: i + 1]), labels[i: i + 1]).backward()
        grads.append([p.grad.detach().clone() for p in params])
    model.zero_grad()
    norms = torch.stack([torch.sqrt(sum((g ** 2).sum() for g in gs)) for gs in grads])
    return norms, grads


def test_norms_and_clipped_sum_match_autograd_per_example() -> None:
    torch.manual_seed(3)
    model = Toy()
    ids = torch.randint(1, 5, (7, 8))  # few distinct ids: many positions share an embedding row
    ids[:, 6:] = 0                      # padding, whose row PyTorch never updates
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    norms, grads = _truth(model, ids, labels)
    clip = float(norms.median())
    hooks = BookkeepingHooks(model, max_grad_norm=clip, loss_reduction="mean")
    with hooks.capture():
        nn.functional.cross_entropy(model(ids), labels).backward()
    torch.testing.assert_close(hooks.per_sample_gradient_norms, norms, rtol=1e-4, atol=1e-6)
    factors = torch.clamp(clip / (norms + 1e-6), max=1.0)
    assert (factors < 1).any() and (factors == 1).any()
    for j, p in enumerate(model.parameters()):
        assert p.requires_grad  # restored after the batch, so the optimizer sees every parameter
        expected = sum(factors[i] * grads[i][j] for i in range(len(ids)))
        torch.testing.assert_close(p.grad, expected, rtol=1e-4, atol=1e-6)
    assert float(model.emb.weight.grad[0].abs().sum()) == 0.0
    hooks.cleanup()
    model.zero_grad()
    nn.functional.cross_entropy(model(ids), labels).backward()  # hooks gone: plain autograd again
    assert model.wide.weight.grad is not None


def test_sum_reduction_and_frozen_layers() -> None:
    torch.manual_seed(4)
    model = Toy()
    for p in (*model.emb.parameters(), *model.norm.parameters(), model.wide.bias, model.narrow.weight):
        p.requires_grad_(False)
    ids = torch.randint(1, 12, (5, 8))
    labels = torch.tensor([0, 1, 2, 1, 0])
    trainable = [p for p in model.parameters() if p.requires_grad]
    grads = []
    for i in range(5):
        model.zero_grad()
        nn.functional.cross_entropy(model(ids[i: i + 1]), labels[i: i + 1]).backward()
        grads.append([p.grad.detach().clone() for p in trainable])
    norms = torch.stack([torch.sqrt(sum((g ** 2).sum() for g in gs)) for gs in grads])
    hooks = BookkeepingHooks(model, max_grad_norm=1e9, loss_reduction="sum")
    assert model.emb not in [layer.module for layer in hooks.layers]
    with hooks.capture():
        nn.functional.cross_entropy(model(ids), labels, reduction="sum").backward()
    torch.testing.assert_close(hooks.per_sample_gradient_norms, norms, rtol=1e-4, atol=1e-6)
    for j, p in enumerate(trainable):
        torch.testing.assert_close(p.grad, sum(g[j] for g in grads), rtol=1e-4, atol=1e-6)
    assert model.wide.bias.grad is None and model.emb.weight.grad is None


def test_layers_without_a_formula_and_shared_parameters_are_refused() -> None:
    conv = nn.Sequential(nn.Conv1d(2, 2, 3), nn.Flatten(), nn.Linear(2, 2))
    with pytest.raises(Unsupported, match=r"'0' \(Conv1d\)"):
        check_supported(conv)
    conv[0].requires_grad_(False)  # frozen, it needs no formula
    assert [name for name, _, _ in check_supported(conv)] == ["2"]

    tied = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5, bias=False))
    tied[1].weight = tied[0].weight
    with pytest.raises(Unsupported, match="shared"):
        check_supported(tied)


def test_a_layer_that_did_not_run_gets_a_zero_gradient_not_a_stale_one() -> None:
    class Branch(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 2)
            self.b = nn.Linear(3, 2)

        def forward(self, x: Any, use_b: bool) -> Any:
            return (self.b if use_b else self.a)(x)

    model = Branch()
    hooks = BookkeepingHooks(model, max_grad_norm=1.0, loss_reduction="sum")
    x = torch.randn(4, 3)
    with hooks.capture():
        model(x, use_b=True).sum().backward()
    assert float(model.b.weight.grad.abs().sum()) > 0
    with hooks.capture():
        model(x, use_b=False).sum().backward()
    assert float(model.b.weight.grad.abs().sum()) == 0.0 and float(model.a.weight.grad.abs().sum()) > 0


def test_training_falls_back_to_ghost_clipping_and_records_why() -> None:
    from auditor.train.attach import attach_dp as _attach_dp

    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.Flatten(), nn.Linear(3, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    dp, mode, reason = _attach_dp(model, optimizer, "bookkeeping", SequenceClassification(), train_size=20,
                                  batch_size=5, sigma=1.0, clip=1.0, accountant="rdp", source=MechanismRandom())
    assert mode == "ghost" and dp.mode == "ghost"
    assert reason is not None and "'0' (Conv1d)" in reason and reason.endswith("used ghost")
    dp.hooks.cleanup()
    model = nn.Sequential(nn.Linear(3, 2))
    dp, mode, reason = _attach_dp(model, torch.optim.SGD(model.parameters(), lr=0.1), "bookkeeping",
                                  SequenceClassification(),
                                  train_size=20, batch_size=5, sigma=1.0, clip=1.0, accountant="rdp",
                                  source=MechanismRandom())
    assert (mode, reason) == ("bookkeeping", None)
    dp.hooks.cleanup()
