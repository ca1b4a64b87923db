"""Book-keeping per-sample clipping: one backward pass, no per-sample gradients kept, no second backward.

Opacus' ghost clipping runs backward twice (once for the per-sample norms, once for the clipped sum), and
its hooks mode materialises every per-sample gradient; on the bundled MiniLM both cost about half the
non-private throughput. Book-keeping (Bu, Wang, Zha, Karypis 2023, "Differentially private optimization on
large model at small cost") keeps what the *one* backward pass already produces -- each layer's input
activations ``A`` and output gradients ``G`` -- and from them

* computes every example's gradient norm exactly: for a linear layer ``||G_iᵀ A_i||² = <A_i A_iᵀ, G_i G_iᵀ>``
  (the "ghost norm", ``O(T²)`` per example), or from the per-example gradient when that is cheaper (mixed
  ghost clipping; short sequences favour the first, wide layers the second);
* then forms the clipped sum ``Σ_i c_i ∇ℓ_i = (c ⊙ G)ᵀ A`` as one matrix product -- the same work the
  non-private backward spends on weight gradients, which autograd is told to skip here by turning
  ``requires_grad`` off on the trainable parameters while a physical batch runs (gradients still flow
  through activations, because the hooked layers' outputs are made to require them).

What is released is unchanged: Opacus' optimizer (``DPOptimizerFastGradientClipping``) adds the noise,
scales, and its accountant hook records every step; this module only replaces how ``p.grad = Σ_i c_i ∇ℓ_i``
is computed. tests/train/test_bookkeeping.py and test_grad_norms.py check the norms and the clipped sum
against one-example-at-a-time autograd.

Supported layers: ``nn.Linear``, ``nn.LayerNorm``, ``nn.Embedding`` (all trainable layers of BERT-family
classifiers), each possibly called several times in one forward pass. Any other layer holding a trainable
parameter, or a parameter shared by two layers, raises :class:`Unsupported` before training starts, and the
caller falls back to Opacus' ghost clipping and records why.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class Unsupported(Exception):
    """The model has a trainable layer book-keeping cannot clip exactly; the message says which."""


@dataclass(eq=False)
class _Call:
    """One invocation of a hooked layer in the current physical batch."""

    inputs: Any
    grad: Any = None


@dataclass(eq=False)  # identity: membership tests must never compare tensors
class _Layer:
    module: Any
    kind: str
    trainable: tuple[str, ...] = ()  # its own parameters that are trained ("weight", "bias")
    calls: list[_Call] = field(default_factory=list)
    # LayerNorm: per-example gradients (B, d) of weight and bias, summed over calls as their G arrive, so
    # neither its input nor its output gradient is held until the end of the backward pass.
    per_example: dict[str, Any] = field(default_factory=dict)

    def clear(self) -> None:
        """Drop the book-kept tensors. The calls are emptied, not only unlisted: the backward graph (alive
        while the caller still holds its loss) keeps our hooks, and through them the calls, until the next
        batch's forward pass replaces it -- a whole batch of activations held for nothing."""
        for call in self.calls:
            call.inputs = call.grad = None
        self.calls.clear()
        self.per_example.clear()


def _kind(module: Any) -> str | None:
    from torch import nn

    # Exact types: a subclass may override forward, and then the formulas below would not be its gradient.
    if type(module) is nn.Linear:
        return "linear"
    if type(module) is nn.LayerNorm:
        return "layernorm"
    if type(module) is nn.Embedding:
        if module.max_norm is not None or module.scale_grad_by_freq or module.sparse:
            return None
        return "embedding"
    return None


def check_supported(model: Any) -> list[tuple[str, Any, str]]:
    """The hooked layers ``(name, module, kind)``; raises :class:`Unsupported` naming the first problem."""
    owners: dict[int, str] = {}
    layers: list[tuple[str, Any, str]] = []
    for name, module in model.named_modules(remove_duplicate=False):
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if not own:
            continue
        kind = _kind(module)
        if kind is None:
            raise Unsupported(f"layer '{name}' ({type(module).__name__}) has trainable parameters and no "
                              "book-keeping formula")
        for p in own:
            if id(p) in owners and owners[id(p)] != name:
                raise Unsupported(f"parameter shared by layers '{owners[id(p)]}' and '{name}'")
            owners[id(p)] = name
        if all(m is not module for _, m, _ in layers):
            layers.append((name, module, kind))
    if not layers:
        raise Unsupported("no trainable parameters")
    return layers


class BookkeepingHooks:
    """Forward hooks that book-keep activations and output gradients, and the clipping that uses them.

    Use one :meth:`capture` per physical batch around forward *and* backward; on leaving it, every trainable
    parameter's ``grad`` holds ``Σ_i c_i ∇ℓ_i`` with ``c_i = min(1, C / (||∇ℓ_i|| + 1e-6))`` (Opacus' factor),
    and :attr:`per_sample_gradient_norms` holds ``||∇ℓ_i||``.
    """

    def __init__(self, model: Any, max_grad_norm: float, loss_reduction: str = "mean") -> None:
        self.max_grad_norm = max_grad_norm
        self.loss_reduction = loss_reduction
        self.layers = [_Layer(module, kind, tuple(n for n, p in module.named_parameters(recurse=False)
                                                  if p.requires_grad))
                       for _, module, kind in check_supported(model)]
        self.params = [getattr(layer.module, n) for layer in self.layers for n in layer.trainable]
        self.per_sample_gradient_norms: Any = None
        self._active = False
        self._handles = [layer.module.register_forward_hook(self._hook(layer)) for layer in self.layers]

    def _hook(self, layer: _Layer) -> Any:
        import torch

        def hook(module: Any, inputs: tuple[Any, ...], output: Any) -> Any:
            if not self._active or not torch.is_grad_enabled():
                return None
            call = _Call(inputs=inputs[0].detach())
            layer.calls.append(call)
            if layer.kind == "layernorm":
                def keep(grad: Any) -> None:
                    _layernorm_per_example(layer, call.inputs, grad.detach())
                    call.inputs = None  # its per-example gradients are all this layer needs from now on
            else:
                def keep(grad: Any) -> None:
                    call.grad = grad.detach() if call.grad is None else call.grad + grad.detach()
            if not output.requires_grad:
                # Nothing below requires a gradient (frozen layers, integer ids, or our own requires_grad
                # switch): make this output a leaf so the backward pass reaches it.
                output = output.detach().requires_grad_()
                output.register_post_accumulate_grad_hook(_drop_grad)  # the hook below took what we need
            output.register_hook(keep)
            return output

        return hook

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """One physical batch: forward and backward inside, clipped gradients set on the way out."""
        for layer in self.layers:
            layer.clear()
        for p in self.params:
            p.requires_grad_(False)
        self._active = True
        try:
            yield
        finally:
            self._active = False
            for p in self.params:
                p.requires_grad_(True)
        try:
            self._clip()
        finally:
            for layer in self.layers:
                layer.clear()

    def cleanup(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    # -- the arithmetic -------------------------------------------------------------------------------------

    def _clip(self) -> None:
        """Norms from every layer, then each layer's clipped sum, releasing its book-kept tensors as it goes.

        Output gradients are kept as autograd gave them (for a mean loss, ``∇ℓ_i / B``); the factor ``B``
        is applied to the norms and the clipping factors instead of to a copy of every ``G``.
        """
        import torch

        reached = [layer for layer in self.layers if (layer.per_example if layer.kind == "layernorm" else
                                                      layer.calls)]
        if not reached:
            raise Unsupported("no hooked layer ran in this batch (was forward run inside capture()?)")
        first = (next(iter(reached[0].per_example.values())) if reached[0].kind == "layernorm"
                 else reached[0].calls[0].inputs)
        batch = first.shape[0]
        scale = float(batch) if self.loss_reduction == "mean" else 1.0
        squared = torch.zeros(batch, dtype=torch.float32, device=first.device)
        for layer in reached:
            if layer.kind == "layernorm":
                for psg in layer.per_example.values():
                    squared += psg.square().sum(1)
            else:
                squared += _NORMS[layer.kind](layer, *_stack(layer))
        norms = squared.sqrt() * scale
        factors = (self.max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        weights = factors * scale
        for layer in self.layers:
            if layer not in reached:  # did not reach the loss in this batch: a zero gradient, not a stale one
                for name in layer.trainable:
                    p = getattr(layer.module, name)
                    p.grad = torch.zeros_like(p)
            elif layer.kind == "layernorm":
                for name, psg in layer.per_example.items():
                    p = getattr(layer.module, name)
                    p.grad = (weights @ psg).reshape(p.shape).to(p.dtype)
            else:
                _CLIPPED[layer.kind](layer, *_stack(layer), weights)
            layer.clear()
        self.per_sample_gradient_norms = norms


def _stack(layer: _Layer) -> tuple[Any, Any]:
    """All calls of a layer as one sequence per example: ``A`` (B, T, ·) and ``G`` (B, T, ·), fp32.

    Several calls of one layer add their gradients, which is the same as one call on the calls' positions
    side by side -- so concatenating along the position axis keeps every formula exact.
    """
    import torch

    parts_a, parts_g = [], []
    for call in layer.calls:
        a = call.inputs
        batch = a.shape[0]
        if layer.kind == "embedding":
            a = a.reshape(batch, -1)
            width = layer.module.embedding_dim
        else:
            a = a.float().reshape(batch, -1, a.shape[-1])
            width = layer.module.out_features
        if call.grad is None:  # the output did not reach the loss
            g = torch.zeros((*a.shape[:2], width), dtype=torch.float32, device=a.device)
        else:
            g = call.grad.float().reshape(batch, -1, width)
        parts_a.append(a)
        parts_g.append(g)
    if len(parts_a) == 1:
        return parts_a[0], parts_g[0]
    return torch.cat(parts_a, dim=1), torch.cat(parts_g, dim=1)


def _layernorm_per_example(layer: _Layer, inputs: Any, grad: Any) -> None:
    """Per-example LayerNorm gradients from one call, added to the layer's running (B, d) sums."""
    import torch.nn.functional as F

    m = layer.module
    width = math.prod(m.normalized_shape)
    batch = inputs.shape[0]
    g = grad.float().reshape(batch, -1, width)
    parts = {}
    if "weight" in layer.trainable:
        normalised = F.layer_norm(inputs.float(), m.normalized_shape, None, None, m.eps).reshape(batch, -1, width)
        parts["weight"] = (g * normalised).sum(1)
    if "bias" in layer.trainable:
        parts["bias"] = g.sum(1)
    for name, psg in parts.items():
        layer.per_example[name] = psg if name not in layer.per_example else layer.per_example[name] + psg


def _drop_grad(leaf: Any) -> None:
    leaf.grad = None


def _linear_norms(layer: _Layer, a: Any, g: Any) -> Any:
    tokens, d_in, d_out = a.shape[1], a.shape[2], g.shape[2]
    squared = a.new_zeros(a.shape[0])
    if "weight" in layer.trainable:
        if tokens == 1:
            squared = a.square().sum((1, 2)) * g.square().sum((1, 2))
        elif tokens * (d_in + d_out) <= d_in * d_out:  # ghost norm: two B×T×T Gram matrices
            squared = (a @ a.transpose(1, 2) * (g @ g.transpose(1, 2))).sum((1, 2))
        else:  # the per-example gradient is the smaller object
            squared = (g.transpose(1, 2) @ a).square().sum((1, 2))
    if "bias" in layer.trainable:
        squared = squared + g.sum(1).square().sum(1)
    return squared


def _linear_clipped(layer: _Layer, a: Any, g: Any, factors: Any) -> None:
    module = layer.module
    weighted = g * factors[:, None, None]
    if "weight" in layer.trainable:
        grad = weighted.reshape(-1, g.shape[2]).T @ a.reshape(-1, a.shape[2])
        module.weight.grad = grad.to(module.weight.dtype)
    if "bias" in layer.trainable:
        module.bias.grad = weighted.sum((0, 1)).to(module.bias.dtype)


def _embedding_rows(module: Any, ids: Any, g: Any) -> Any:
    """Output gradients with the padding row's zeroed: PyTorch never updates ``padding_idx``."""
    if module.padding_idx is None:
        return g
    return g * (ids != module.padding_idx).unsqueeze(-1)


def _embedding_norms(layer: _Layer, ids: Any, g: Any) -> Any:
    g = _embedding_rows(layer.module, ids, g)
    if g.shape[1] == 1:
        return g.square().sum((1, 2))
    same = ids.unsqueeze(2) == ids.unsqueeze(1)  # positions that add into the same embedding row
    return ((g @ g.transpose(1, 2)) * same).sum((1, 2))


def _embedding_clipped(layer: _Layer, ids: Any, g: Any, factors: Any) -> None:
    import torch

    module = layer.module
    weighted = _embedding_rows(module, ids, g) * factors[:, None, None]
    grad = torch.zeros(module.weight.shape, dtype=torch.float32, device=weighted.device)
    grad.index_add_(0, ids.reshape(-1), weighted.reshape(-1, weighted.shape[2]))
    module.weight.grad = grad.to(module.weight.dtype)


_NORMS = {"linear": _linear_norms, "embedding": _embedding_norms}
_CLIPPED = {"linear": _linear_clipped, "embedding": _embedding_clipped}
