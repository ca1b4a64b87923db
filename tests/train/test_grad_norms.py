"""Ground truth for the guarantee: per-sample gradient norms and the clipped sum, against a loop over
single examples. Dropout is off so the batched and one-at-a-time forward passes are the same function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.train.conftest import make_tiny_model

B = 12


def _setup(tmp_path: Path, trainable_layers: int | None) -> tuple[Any, Any, list[Any]]:
    import torch
    from transformers import AutoModelForSequenceClassification

    from auditor.train.encoded import Encoded
    from auditor.train.tasks.classification import freeze_lower_layers

    path = make_tiny_model(tmp_path / "m", hidden_dropout=0.0)
    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(path)
    freeze_lower_layers(model, trainable_layers)
    model.train()
    gen = torch.Generator().manual_seed(5)
    ids = [torch.randint(5, 60, (int(torch.randint(3, 10, (1,), generator=gen)),), generator=gen).tolist()
           for _ in range(B)]
    data = Encoded(ids=ids, labels=[i % 4 for i in range(B)], pad_id=0)
    params = [p for p in model.parameters() if p.requires_grad]
    return model, data, params


def _truth(model: Any, data: Any, params: list[Any]) -> list[list[Any]]:
    import torch

    from auditor.train.tasks.classification import forward

    batch = data.batch(list(range(B)), "cpu")
    grads = []
    for i in range(B):
        one = type(batch)(*(t[i: i + 1] for t in (batch.input_ids, batch.attention_mask, batch.token_type_ids,
                                                 batch.position_ids, batch.labels)))
        model.zero_grad()
        torch.nn.functional.cross_entropy(forward(model, one, "cpu"), one.labels).backward()
        grads.append([p.grad.detach().clone() for p in params])
    model.zero_grad()
    return grads


@pytest.mark.parametrize(("mode", "layers"), [("ghost", None), ("hooks", None), ("ghost", 1),
                                              ("bookkeeping", None), ("bookkeeping", 1)])
def test_per_sample_norms_and_clipped_sum_match_one_example_at_a_time(tmp_path: Path, mode: str,
                                                                      layers: int | None) -> None:
    import torch

    from auditor.privacy.randomness import MechanismRandom
    from auditor.train.finetune import make_private
    from auditor.train.tasks.classification import SequenceClassification

    model, data, params = _setup(tmp_path, layers)
    truth = _truth(model, data, params)
    norms = torch.stack([torch.sqrt(sum((g ** 2).sum() for g in gs)) for gs in truth])  # type: ignore[misc]
    clip = float(norms.median())  # some examples clipped, some not
    optimizer = torch.optim.SGD(params, lr=0.0)
    dp = make_private(model, optimizer, train_size=B, batch_size=B, sigma=0.0, clip=clip, mode=mode,
                      accountant="rdp", source=MechanismRandom())
    # Two physical batches in one logical batch, as in training.
    for k, part in enumerate((list(range(0, 5)), list(range(5, B)))):
        batch = data.batch(part, "cpu")
        with dp.capture():
            loss = dp.reduce(SequenceClassification().losses(model, batch, "cpu"))
            loss.backward()
        if mode in ("ghost", "bookkeeping"):
            got = dp.hooks.per_sample_gradient_norms
        else:
            got = torch.stack([p.grad_sample.reshape(len(part), -1).norm(dim=1) for p in params]).norm(dim=0)
        torch.testing.assert_close(got, norms[part], rtol=1e-4, atol=1e-6)
        if k == 0:
            dp.optimizer.signal_skip_step(do_skip=True)
            dp.optimizer.step()
            dp.optimizer.zero_grad()
    dp.optimizer.pre_step()  # clip, accumulate, add (zero) noise, scale: p.grad is what SGD would apply
    factors = torch.clamp(clip / (norms + 1e-6), max=1.0)
    assert (factors < 1).any() and (factors == 1).any()
    for j, p in enumerate(params):
        expected = sum(factors[i] * truth[i][j] for i in range(B)) / B
        torch.testing.assert_close(p.grad, expected, rtol=1e-4, atol=1e-7)
