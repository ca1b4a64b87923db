"""The DP mechanism's randomness: a fresh secret key per run, a cryptographic stream, nothing replayable.

Everything the guarantee rests on -- which units each Poisson batch samples, which of a person's records a
step uses, which side of the train/eval split a unit falls on, and the Gaussian noise -- is drawn here, and
nothing else draws it. ``training.seed`` is public (it is in the evidence) and seeds only what is not part
of the mechanism: a new head's initial weights and dropout.

Why not torch's generator: it is a Mersenne Twister. Someone who knows every other record can compute the
clipped-gradient sum without the target and so read the noise off a released update; 624 outputs recover
the generator's state and with it the noise on every other coordinate, which decides membership exactly.
Opacus' answer, ``secure_mode``, needs ``torchcsprng``, which is not installable with current PyTorch.

So: a 256-bit key from ``os.urandom`` per run, expanded with ChaCha20 (OpenSSL, through ``cryptography``);
each draw is its own ChaCha20 stream (nonce = draw number), so the state is the key plus a counter, which
is all a checkpoint needs to resume the same run. Gaussian noise is Box-Muller in float64 from 53-bit
uniforms, rounded to the parameters' precision and then added: drawn ~2^29 times finer than a float32 step,
the rounded noise takes every float32 value near it with the Gaussian mass of its rounding interval, so it
has none of the gaps of a same-precision sampler that the floating-point attacks (Mironov 2012; Jin et al.
2021) read. It is not Opacus' sum-of-four-Gaussians
draw: that costs four times the noise, and its purpose (masking the sampler's gaps) is served by drawing
in double precision. Box-Muller from 53-bit uniforms reaches 8.57σ; the mass beyond is below 1e-17 per
coordinate, far under the δ the policies allow.
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any

KEY_BYTES = 32

#: How the evidence describes the generator (the report quotes it).
GENERATOR = ("ChaCha20 (OpenSSL via the cryptography package) keyed with 256 bits from os.urandom, fresh for "
             "every run and never written to any output")
GAUSSIAN = ("Box-Muller in float64 (53-bit radius, 32-bit angle), rounded to the parameters' precision, then "
            "added to the sum of clipped gradients")
SECURE_MODE = ("Opacus secure_mode is off: it needs torchcsprng, which is unavailable for current PyTorch; the "
               "same protection (a cryptographic generator, no floating-point gaps) comes from this generator")


_ZEROS = memoryview(b"")


def _zeros(nbytes: int) -> memoryview:
    """A zero buffer to encrypt into keystream, kept between steps (one step's noise is tens of MB)."""
    global _ZEROS
    if len(_ZEROS) < nbytes:
        _ZEROS = memoryview(bytes(nbytes))
    return _ZEROS[:nbytes]


def fresh_key() -> bytes:
    """256 bits from the OS CSPRNG: the only source of a run's mechanism secret."""
    return os.urandom(KEY_BYTES)


class MechanismRandom:
    """A keyed ChaCha20 source; ``state()`` is secret (it replays every draw) and goes only into checkpoints."""

    def __init__(self, key: bytes | None = None, draws: int = 0) -> None:
        self._key = key if key is not None else fresh_key()
        if len(self._key) != KEY_BYTES:
            raise ValueError("mechanism key must be 32 bytes")
        self._draws = draws

    def state(self) -> dict[str, Any]:
        return {"key": self._key.hex(), "draws": self._draws}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MechanismRandom:
        return cls(bytes.fromhex(str(state["key"])), int(state["draws"]))

    def skip(self, draws: int = 1) -> None:
        """Pass over draws another copy of this source makes (rank 0's noise, on the other ranks of a
        distributed run): every copy stays at the same place in the stream, and none of them re-uses one."""
        self._draws += draws

    def derived_key(self, purpose: str) -> bytes:
        """A key for one purpose (e.g. the split), independent of the streams and of other purposes."""
        return hashlib.blake2b(purpose.encode(), key=self._key, digest_size=32).digest()

    def _stream(self, nbytes: int) -> bytearray:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

        nonce = (0).to_bytes(4, "little") + self._draws.to_bytes(12, "little")
        self._draws += 1
        encryptor = Cipher(algorithms.ChaCha20(self._key, nonce), mode=None).encryptor()
        out = bytearray(nbytes)
        encryptor.update_into(_zeros(nbytes), out)  # the keystream, written in place (no copy)
        return out

    @staticmethod
    def _unit(words: Any) -> Any:
        """int64 words -> float64 uniforms in (0, 1]: the top 53 bits, k -> (k + 1)·2^-53."""
        import torch

        return (words >> 11).to(torch.float64).add_(2.0 ** 52 + 1).mul_(2.0 ** -53)

    def uniform(self, n: int) -> Any:
        """``n`` float64 uniforms in (0, 1], 53 random bits each."""
        import torch

        if n <= 0:
            return torch.empty(0, dtype=torch.float64)
        return self._unit(torch.frombuffer(self._stream(8 * n), dtype=torch.int64))

    def bernoulli(self, n: int, p: float) -> list[int]:
        """Indices ``i < n`` each kept independently with probability ``p`` (one Poisson-sampled batch)."""
        import torch

        # u in (0, 1]: P(u <= p) = p up to 2^-53
        return [int(i) for i in torch.nonzero(self.uniform(n) <= p).flatten().tolist()]

    def choices(self, sizes: list[int]) -> list[int]:
        """One uniform index below each size (which of a person's records a step uses)."""
        if not sizes:
            return []
        u = self.uniform(len(sizes)).tolist()
        return [min(size - 1, int(x * size)) if x < 1.0 else size - 1 for x, size in zip(u, sizes, strict=True)]

    def normal(self, n: int, std: float) -> Any:
        """``n`` float64 N(0, std²) draws: Box-Muller, both outputs of each pair used; the radius from 53-bit
        uniforms (its tail reaches 8.57σ), the angle from 32 bits (2π·2^-32 steps)."""
        import torch

        if n <= 0:
            return torch.empty(0, dtype=torch.float64)
        pairs = (n + 1) // 2
        raw = self._stream(12 * pairs)
        radius = self._unit(torch.frombuffer(raw, dtype=torch.int64, count=pairs))
        radius = radius.log_().mul_(-2.0).sqrt_().mul_(std)
        angle = torch.frombuffer(raw, dtype=torch.int32, count=pairs, offset=8 * pairs).to(torch.float64)
        angle.mul_(2.0 * math.pi / 2 ** 32)  # int32 in [-2^31, 2^31): the angle in [-π, π)
        out = torch.empty(2 * pairs, dtype=torch.float64)
        torch.mul(radius, torch.cos(angle), out=out[:pairs])
        torch.mul(radius, angle.sin_(), out=out[pairs:])
        return out[:n]

    def normal_like(self, shapes: list[Any], std: float) -> list[Any]:
        """One float64 N(0, std²) tensor per shape, all from a single draw (one stream per step)."""
        sizes = [math.prod(shape) for shape in shapes]
        flat = self.normal(sum(sizes), std)
        return [part.view(shape) for part, shape in zip(flat.split(sizes), shapes, strict=True)]


def install_noise(optimizer: Any, source: MechanismRandom, *, adds_noise: bool = True) -> None:
    """Make an Opacus DP optimizer draw its Gaussian noise from ``source`` instead of torch's generator.

    Opacus' ``add_noise`` (the same in ``DPOptimizer`` and ``DPOptimizerFastGradientClipping``) is replaced
    on the instance: one draw for all parameters, drawn in float64, and the bookkeeping flags Opacus checks
    kept as they are. Everything else (scaling by the expected batch size, the accountant hook) is Opacus'.
    ``adds_noise=False`` is a distributed run's rank other than 0 (Opacus' own distributed optimizers add
    noise on rank 0 only): its clipped sum passes through unnoised, and the draw rank 0 makes is skipped.
    """
    from opacus.optimizers.optimizer import _check_processed_flag, _mark_as_processed

    def pass_through() -> None:
        source.skip()
        for p in optimizer.params:
            _check_processed_flag(p.summed_grad)
            p.grad = p.summed_grad.view_as(p)
            _mark_as_processed(p.summed_grad)

    def add_noise() -> None:
        params = list(optimizer.params)
        std = optimizer.noise_multiplier * optimizer.max_grad_norm
        for p, noise in zip(params, source.normal_like([p.summed_grad.shape for p in params], std), strict=True):
            _check_processed_flag(p.summed_grad)
            summed = p.summed_grad
            p.grad = summed.add_(noise.to(summed.device, summed.dtype)).view_as(p)
            _mark_as_processed(p.summed_grad)

    optimizer.add_noise = add_noise if adds_noise else pass_through
    optimizer.generator = None  # nothing may fall back to torch's generator for the mechanism
