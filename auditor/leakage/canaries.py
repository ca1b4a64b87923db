"""Canaries: synthetic records with random secrets, each put into the training data by a secret fair coin.

Steinke, Nasr and Jagielski's one-run audit needs exactly this: m canaries, each included independently
with probability 1/2, the coins unknown to anyone who sees the model. Here every draw -- the secrets, the
labels, the coins, the tie-breaking order and the control split -- comes from a ChaCha20 stream keyed by
the run's mechanism key (:class:`~auditor.privacy.randomness.MechanismRandom`, purpose ``canaries``): fresh
per run, never written anywhere but the 0600 checkpoint a killed run keeps for ``--resume`` (which then
replants the same canaries). Nothing about a canary leaves the run except the audit's aggregates.

Every canary is a privacy unit of its own in the accountant's n, included or not: q = 1/⌈(n + m)/B⌉ is then
the same whichever coins came up, so neither q, nor the step count, nor any released number says how many
canaries went in; an excluded canary is a unit that is simply never sampled -- the neighbouring dataset the
DP guarantee is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.privacy.ledger import UnitIdentity
from auditor.privacy.randomness import MechanismRandom

if TYPE_CHECKING:
    from auditor.train.data import Example
    from auditor.train.tasks.base import Task

PURPOSE = "canaries"


@dataclass(frozen=True)
class Canaries:
    """The run's canaries; ``included[i]`` is canary i's coin (secret until the audit has scored them)."""

    examples: tuple[Example, ...]
    included: tuple[bool, ...]
    tie_keys: tuple[float, ...]       # a secret random order, used only to break score ties
    control_half: tuple[bool, ...]    # a secret split of the canaries for the negative control
    shape: str
    chat: bool

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def trained(self) -> list[Example]:
        return [e for e, inside in zip(self.examples, self.included, strict=True) if inside]

    def identities(self) -> list[UnitIdentity]:
        """Each canary as the ledger sees a unit: a person of its own (so a ledger keyed on people stays
        keyed on people) and a fresh random text, neither of which can match another run's."""
        return [UnitIdentity(user=f"\x00canary\x00{e.text}", texts=(e.text,)) for e in self.examples]


def _digits(source: MechanismRandom, count: int) -> list[int]:
    return [min(9, int(u * 10)) for u in source.uniform(count).tolist()]


def plant(task: Task, count: int, key: bytes, *, chat: bool, labels: int) -> Canaries:
    """``count`` canaries in the training data's shape (``chat``: chat lists), from ``key`` alone."""
    source = MechanismRandom(key)
    examples = []
    for _ in range(count):
        secret = task.canary_secret(_digits(source, task.canary_digits))
        label = source.choices([labels])[0] if labels > 1 else 0
        examples.append(task.canary(secret, label, chat))
    coins = [u <= 0.5 for u in source.uniform(count).tolist()]
    ties = source.uniform(count).tolist()
    halves = [u <= 0.5 for u in source.uniform(count).tolist()]
    return Canaries(examples=tuple(examples), included=tuple(coins), tie_keys=tuple(ties),
                    control_half=tuple(halves), shape=task.canary_shape(chat), chat=chat)


def candidates(task: Task, count: int, key: bytes, *, chat: bool) -> list[Example]:
    """Random secrets of the canaries' shape, never trained on: what a canary's loss is ranked against."""
    source = MechanismRandom(key)
    return [task.canary(task.canary_secret(_digits(source, task.canary_digits)), 0, chat) for _ in range(count)]

