"""The task plug point: what one kind of fine-tune needs, and nothing the DP mechanism needs.

A task loads its model and tokenizer, turns a dataset row into an example, encodes examples to token ids,
gives each example's loss (the quantity whose gradient is clipped), evaluates the held-out split and saves
what it trained. Sampling, clipping, noise, accounting, the ledger and the evidence are the same for every
task and live outside this package, so a new task can change none of them.

The one duty a task has towards the guarantee: :meth:`Task.losses` must return one loss per example that
depends on that example alone (no mean over the batch's tokens, no batch statistics). The loop averages
them over the batch, which is the ``loss_reduction="mean"`` every clipping mode assumes; the probe checks
before any ε is spent that batched losses equal losses computed one example at a time.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from auditor.plan import PlanDocument
    from auditor.train.data import Example
    from auditor.train.encoded import Batch, Encoded
    from auditor.train.evidence import EvalMetrics, LoraInfo
    from auditor.train.model import ModelSource

Chat = tuple[tuple[str, str], ...]  # (role, content) per turn


@dataclass
class Loaded:
    """A task's model ready for the mechanism: only the parameters to release have ``requires_grad``."""

    tokenizer: Any
    model: Any
    trainable: str  # e.g. "all", "top 2 of 6 encoder layers + head", "LoRA r=8 on q_proj, v_proj (60 modules)"
    lora: LoraInfo | None = None


@dataclass(frozen=True)
class Saved:
    """What :meth:`Task.save` wrote into the model folder: the weights file and its digest."""

    weights_file: str
    weights_sha256: str
    merged_sha256: str | None = None


class Task(ABC):
    """One kind of fine-tune. Implementations are small and stateless; :func:`auditor.train.tasks.for_plan`
    picks one by ``model.task``."""

    name: ClassVar[str]
    #: clipping modes that clip this task's trainable layers exactly, in the order tried
    clipping_modes: ClassVar[tuple[str, ...]] = ("bookkeeping", "ghost", "hooks")
    #: whether the trained model writes text (then the leakage audit samples it and ranks canary secrets)
    generative: ClassVar[bool] = False

    @abstractmethod
    def record(self, doc: PlanDocument, number: int, row: dict[str, Any]) -> tuple[str, int, Chat | None]:
        """One row as (text, label, chat). ``text`` is every string the example trains on (the ledger and
        the split hash it), so it must hold nothing the scan did not read; errors name the line and field,
        never a value."""

    @abstractmethod
    def load(self, doc: PlanDocument, source: ModelSource, device: str) -> Loaded:
        """Tokenizer and model, offline, on ``device``, with only the released parameters trainable."""

    @abstractmethod
    def encode(self, tokenizer: Any, examples: list[Example], max_len: int) -> Encoded:
        """Token ids (and labels or per-token targets) for each example, in order."""

    @abstractmethod
    def losses(self, model: Any, batch: Batch, device: str) -> Any:
        """Each example's loss, shape (B,), fp32, each a function of its own example only."""

    @abstractmethod
    def synthetic(self, model: Any, max_len: int, size: int) -> Encoded:
        """A probe batch of random non-special ids (seeded: not part of the mechanism, no data in it)."""

    @abstractmethod
    def evaluate(self, loaded: Loaded, examples: list[Example], max_len: int, physical: int,
                 device: str) -> EvalMetrics:
        """Aggregates over the held-out split (outside the DP guarantee: see ``EvalMetrics.note``)."""

    @abstractmethod
    def save(self, loaded: Loaded, folder: Path, doc: PlanDocument) -> Saved:
        """Write what was trained into ``folder`` (a fresh temporary folder the caller swaps in). Nothing in
        it may name a local path: the folder is signed and published."""

    # --- what the leakage audit (auditor.leakage) needs; canaries are built here, in the data's own format

    @abstractmethod
    def canary_secret(self, digits: list[int]) -> str:
        """A canary's secret from uniformly random decimal digits (``canary_digits`` of them): random words
        for a classifier, an identifier-shaped number for a causal LM."""

    #: how many random digits one canary secret takes
    canary_digits: ClassVar[int] = 9

    @abstractmethod
    def canary(self, secret: str, label: int, chat: bool) -> Example:
        """One canary record holding ``secret``, shaped like the training data (``chat``: a chat list)."""

    def canary_shape(self, chat: bool) -> str:
        """What a canary looks like, fit to publish: the template with the secret's digits as ``#``."""
        import re

        text = self.canary(self.canary_secret([0] * self.canary_digits), 0, chat).text
        return re.sub(r"\d", "#", text.replace("\n", " / "))

    @contextlib.contextmanager
    def reference(self, loaded: Loaded) -> Iterator[Any]:
        """The model before fine-tuning, when it can be had without a second copy (a LoRA model with its
        adapters switched off); None otherwise. Membership scores are calibrated against it."""
        yield None

    def generate(self, loaded: Loaded, count: int, chat: bool, max_new_tokens: int, seed: int, device: str,
                 base: bool = False) -> tuple[list[str], int]:
        """``count`` sampled continuations of generic prompts (no data value in them; ``chat``: as the
        user turn of a conversation), only the generated text, and how many distinct prompts were used;
        ``base``: from the model before fine-tuning, with the same prompts and the same randomness."""
        raise NotImplementedError(f"{self.name} does not generate text")
