"""The probe that runs before any ε is reserved: sound models pass in every clipping mode, models whose batched
forward mixes examples are refused outright, a layer a mode gets wrong fails that mode (as ProbeFailed, never
another exception), and the probe leaves model, optimizer, DP handles and accountant as it found them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from auditor.privacy.randomness import MechanismRandom  # noqa: E402
from auditor.train.finetune import make_private  # noqa: E402
from auditor.train.probe import ProbeFailed, check_independence, check_norms  # noqa: E402
from auditor.train.tasks import SequenceClassification  # noqa: E402
from tests.train.conftest import make_tiny_model  # noqa: E402

MODES = ("bookkeeping", "ghost", "hooks")
CLS = SequenceClassification()
MAX_LEN = 12  # ≠ the probe's 5 examples, so a layer that reads positions as the batch gets the wrong shape


class HfLike(nn.Module):  # type: ignore[misc]
    """Embedding → Linear (applied as ``body`` says) → masked mean over positions → head; takes what
    the classification task passes and returns ``.logits``, like a Hugging Face classifier."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self.body = body
        self.config = SimpleNamespace(vocab_size=30, max_position_embeddings=34, pad_token_id=0, num_labels=3)
        self.emb = nn.Embedding(30, 8, padding_idx=0)
        self.inner = nn.Linear(8, 8)
        if body.startswith("batchnorm"):
            self.norm = nn.BatchNorm1d(8, affine=body == "batchnorm")
        self.head = nn.Linear(8, 3)

    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None,
                position_ids: Any = None) -> Any:
        h = self.emb(input_ids)
        if self.body == "seq_first":  # Longformer-style: (T, B, H) inside, which hooks read as batch-first
            h = self.inner(h.transpose(0, 1)).transpose(0, 1)
        elif self.body == "twice":    # one Linear called twice: ghost clipping cannot, the others can
            h = self.inner(torch.tanh(self.inner(h)))
        else:
            h = self.inner(h)
        if self.body.startswith("batchnorm"):  # batch statistics over (B, T) in training mode
            h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (torch.tanh(h) * mask).sum(1) / mask.sum(1)
        if self.body == "batch_mean":
            pooled = pooled - pooled.mean(0, keepdim=True)
        return SimpleNamespace(logits=self.head(pooled))


@pytest.fixture(scope="module")
def dropout_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dropout 0.5: BERT's attention dropout follows the attention module's ``training``, not its Dropout
    child's, so switching off only ``nn.Dropout`` modules would leave a random forward here."""
    return make_tiny_model(tmp_path_factory.mktemp("probe-bert"), hidden_dropout=0.5)


def _bert(path: Path) -> Any:
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_pretrained(path).train()


def _attach(model: Any, mode: str, source: MechanismRandom | None = None) -> Any:
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    return make_private(model, optimizer, train_size=50, batch_size=5, sigma=1.0, clip=1.0, mode=mode,
                        accountant="rdp", source=source or MechanismRandom())


def _opacus_leftovers(model: Any) -> list[str]:
    """What a half-run Opacus pass leaves: per-module activations, per-parameter norms and samples."""
    found = [f"{n}.activations" for n, m in model.named_modules() if hasattr(m, "activations")]
    found += [f"{n}.max_batch_len" for n, m in model.named_modules() if hasattr(m, "max_batch_len")]
    for name, p in model.named_parameters():
        found += [f"{name}.{a}" for a in ("_norm_sample", "_current_grad_sample") if hasattr(p, a)]
        found += [f"{name}.grad_sample"] if getattr(p, "grad_sample", None) is not None else []
        found += [f"{name}._forward_counter"] if getattr(p, "_forward_counter", 0) != 0 else []
    return found


def _hook_count(model: Any) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(m._backward_pre_hooks) for m in model.modules())


def test_the_synthetic_batch_respects_the_model_limits() -> None:
    config = SimpleNamespace(vocab_size=40, max_position_embeddings=10, pad_token_id=1, bos_token_id=0,
                             eos_token_id=2, unk_token_id=3, num_labels=3)
    data = CLS.synthetic(SimpleNamespace(config=config), 64, 5)
    lengths = [len(ids) for ids in data.ids]
    assert max(lengths) == 8 and min(lengths) < 8          # max_position_embeddings - 2, and padding
    assert all(4 <= t < 40 for ids in data.ids for t in ids)  # no special id
    assert data.pad_id == 1 and all(0 <= y < 3 for y in data.labels)
    assert CLS.synthetic(SimpleNamespace(config=config), 64, 5) == data  # fixed: not part of the mechanism


@pytest.mark.parametrize("mode", MODES)
def test_a_sound_model_with_dropout_passes_in_every_mode(dropout_bert: Path, mode: str) -> None:
    model = _bert(dropout_bert)
    reference = check_independence(model, CLS, "cpu", max_len=MAX_LEN)
    assert bool((reference.norms > 0).all())
    dp = _attach(model, mode)
    check_norms(model, CLS, dp, reference, "cpu")
    dp.hooks.cleanup()


@pytest.mark.parametrize("body", ["batch_mean", "batchnorm", "batchnorm_no_affine"])
def test_a_model_whose_batched_forward_mixes_examples_is_refused_outright(body: str) -> None:
    model = HfLike(body).train()
    with pytest.raises(ProbeFailed, match="mixes examples") as failed:
        check_independence(model, CLS, "cpu", max_len=MAX_LEN)
    assert failed.value.fatal
    assert all(m.training for m in model.modules())  # modes restored


def test_a_forward_that_stays_random_is_refused_not_mistaken_for_mixing() -> None:
    class Noisy(HfLike):
        def forward(self, *args: Any, **kwargs: Any) -> Any:
            out = super().forward(*args, **kwargs)
            return SimpleNamespace(logits=out.logits + 1e-2 * torch.randn_like(out.logits))

    with pytest.raises(ProbeFailed, match="random even with dropout off") as failed:
        check_independence(Noisy("plain"), CLS, "cpu", max_len=MAX_LEN)
    assert failed.value.fatal


@pytest.mark.parametrize("max_len", [MAX_LEN, 5])  # 5 positions for 5 examples: no shape error, wrong values
@pytest.mark.parametrize("mode", MODES)
def test_a_seq_first_layer_fails_every_mode_as_a_probe_failure(mode: str, max_len: int) -> None:
    model = HfLike("seq_first").train()
    reference = check_independence(model, CLS, "cpu", max_len=max_len)  # per token: no mixing
    dp = _attach(model, mode)
    with pytest.raises(ProbeFailed) as failed:
        check_norms(model, CLS, dp, reference, "cpu")
    assert not failed.value.fatal and mode in failed.value.reason
    assert _opacus_leftovers(model) == []
    dp.hooks.cleanup()


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_after_a_failed_mode_and_cleanup_the_next_mode_starts_clean_and_passes() -> None:
    """The fallback chain as ``attach_dp`` runs it: ghost refuses a Linear called twice half-way through its
    forward; after cleanup no hook or Opacus attribute is left, and the hooks mode passes and trains."""
    model = HfLike("twice").train()
    hooks_before = _hook_count(model)
    reference = check_independence(model, CLS, "cpu", max_len=MAX_LEN)
    dp = _attach(model, "ghost")
    with pytest.raises(ProbeFailed, match=r"ghost clipping fails on the probe batch \(NotImplementedError\)"):
        check_norms(model, CLS, dp, reference, "cpu")
    dp.hooks.cleanup()
    assert _hook_count(model) == hooks_before and _opacus_leftovers(model) == []
    assert not any(hasattr(p, "grad_sample") for p in model.parameters())
    dp = _attach(model, "hooks")
    check_norms(model, CLS, dp, reference, "cpu")
    batch = reference.data.batch([0, 1, 2], "cpu")
    dp.reduce(CLS.losses(model, batch, "cpu")).backward()
    dp.optimizer.step()
    assert [steps for _, _, steps in dp.engine.accountant.history] == [1]
    dp.hooks.cleanup()


@pytest.mark.parametrize("mode", MODES)
def test_the_probe_leaves_weights_grads_optimizer_and_accountant_as_it_found_them(dropout_bert: Path,
                                                                                 mode: str) -> None:
    model = _bert(dropout_bert)
    source = MechanismRandom()
    reference = check_independence(model, CLS, "cpu", max_len=MAX_LEN)
    dp = _attach(model, mode, source)
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: torch.full_like(p, 0.25) for n, p in model.named_parameters()}
    for n, p in model.named_parameters():
        p.grad = grads[n].clone()
    history, mechanism, rng = list(dp.engine.accountant.history), source.state(), torch.get_rng_state()
    modes = [m.training for m in model.modules()]

    check_norms(model, CLS, dp, reference, "cpu")

    for n, p in model.named_parameters():
        assert torch.equal(p.detach(), weights[n]), n  # bitwise
        assert torch.equal(p.grad, grads[n]), n
        assert p.requires_grad
    assert dp.engine.accountant.history == history == []  # no step recorded
    assert source.state() == mechanism  # no noise drawn
    assert torch.equal(torch.get_rng_state(), rng) and [m.training for m in model.modules()] == modes
    assert dp.optimizer._step_skip_queue == [] and not dp.optimizer._is_last_step_skipped
    assert all(getattr(p, "summed_grad", None) is None for p in dp.optimizer.params)
    assert _opacus_leftovers(model) == []
    if mode == "ghost":
        with pytest.raises(AttributeError):  # Opacus' property: no norms until the next batch's backward
            _ = dp.hooks.per_sample_gradient_norms
    if mode == "bookkeeping":
        assert dp.hooks.per_sample_gradient_norms is None
        assert all(not layer.calls and not layer.per_example for layer in dp.hooks.layers)
    dp.hooks.cleanup()


def test_check_norms_refuses_a_reference_taken_with_other_trainable_parameters() -> None:
    model = HfLike("plain").train()
    reference = check_independence(model, CLS, "cpu", max_len=MAX_LEN)
    model.emb.weight.requires_grad_(False)
    dp = _attach(model, "hooks")
    with pytest.raises(ValueError, match="trainable parameters changed"):
        check_norms(model, CLS, dp, reference, "cpu")
    dp.hooks.cleanup()


class _MixesOnlyInBigBatches(HfLike):
    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None,
                position_ids: Any = None) -> Any:
        out = super().forward(input_ids, attention_mask, token_type_ids, position_ids)
        if input_ids.shape[0] > 8:
            out.logits = out.logits - out.logits.mean(0, keepdim=True)
        return out


def test_the_probe_batch_follows_the_physical_batch() -> None:
    model = _MixesOnlyInBigBatches("plain").train()
    check_independence(model, CLS, "cpu", max_len=MAX_LEN)  # a handful of examples: not seen
    with pytest.raises(ProbeFailed, match="mixes examples"):
        check_independence(model, CLS, "cpu", max_len=MAX_LEN, size=16)
