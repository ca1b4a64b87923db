"""Hugging Face ``Trainer`` and TRL ``SFTTrainer`` under the policies' DP requirement.

::

    from auditor.integrations.transformers import PrivateTrainer

    trainer = PrivateTrainer(plan="plan.yaml", scan="scan.json", args=TrainingArguments("out"))
    trainer.train()      # raises auditor.GateFailed in the constructor if the gate refuses

Why a ``Trainer`` subclass and not a callback: a callback cannot reach the optimizer, the batches or the
backward pass (transformers #38181), and DP-SGD needs all three -- per-example clipping before the gradients
are summed, noise before the step, and Poisson-sampled batches instead of the shuffled fixed-size batches a
``DataLoader`` draws (accounting those as Poisson, as dp-transformers' ``OpacusDPTrainer`` does, overstates
the privacy). :class:`PrivateTrainingMixin` replaces ``train()`` with ``auditor train``'s mechanism
(:mod:`auditor.integrations.hf_loop`) and keeps the rest of the Trainer: its arguments, optimizer,
scheduler, callbacks, trackers (``report_to``), ``evaluate`` and ``save_model``. Put it first in the bases of
any ``Trainer`` subclass -- :class:`PrivateTrainer` is ``(PrivateTrainingMixin, Trainer)``, and TRL::

    class PrivateSFTTrainer(PrivateTrainingMixin, SFTTrainer): ...

What is logged: after every step, ε by both accountants (``epsilon``, ``epsilon_<accountant>``,
``epsilon_pld``), δ, the learning rate and the epoch -- through ``Trainer.log``, so every ``report_to``
tracker shows them. Nothing else: a ``Trainer`` logs the training loss by default, but a batch's loss is a
statistic of the private batch that the accountant does not pay for (and its gradient norm, token count,
throughput and batch size are too); a loss curve published next to "ε = 3" would make the claim false.
Every log, evaluation and prediction metric passes through :func:`public_logs` before a callback sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import Trainer
from transformers.trainer_callback import CallbackHandler
from transformers.trainer_utils import TrainOutput

from auditor.errors import TrainingInputError

if TYPE_CHECKING:
    from auditor.integrations.hf_setup import Setup
    from auditor.plan import PlanDocument
    from auditor.scan.model import ScanResult
    from auditor.train.evidence import TrainingEvidence

__all__ = ["PUBLIC_KEYS", "PrivateTrainer", "PrivateTrainingMixin", "public_logs"]

#: The only keys a private run hands to loggers and trackers (besides ``epsilon*``): public numbers.
PUBLIC_KEYS = frozenset({"delta", "learning_rate", "epoch"})


def public_logs(logs: dict[str, Any] | None) -> dict[str, Any]:
    """The keys of ``logs`` that say nothing about the private data: ε, δ, the learning rate, the epoch."""
    return {k: v for k, v in (logs or {}).items() if k in PUBLIC_KEYS or k.startswith("epsilon")}


class _PublicCallbacks(CallbackHandler):
    """The Trainer's callback handler, but every metric reaching a callback is filtered first: trackers
    log from ``on_log``, some from ``on_evaluate`` and ``on_predict`` too."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().on_log(args, state, control, public_logs(logs))

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any,  # type: ignore[override]
                    **kwargs: Any) -> Any:
        return super().on_evaluate(args, state, control, public_logs(metrics))

    def on_predict(self, args: Any, state: Any, control: Any, metrics: Any, **kwargs: Any) -> Any:
        return super().on_predict(args, state, control, public_logs(metrics))


class PrivateTrainingMixin:
    """Gate in the constructor, DP-SGD in ``train()``, only public numbers logged. Goes first in the bases.

    Keyword arguments besides the Trainer's own: ``plan`` (a path or a loaded plan; required), ``scan`` (a
    ``scan.json`` path or a :class:`ScanResult`; without it the plan's dataset is scanned now), ``policies``,
    ``waivers`` and ``fail_on`` as for ``auditor check``, ``ledger_dir`` (default: the user's ledger).

    ``model``, ``train_dataset``, ``eval_dataset``, ``data_collator`` and ``processing_class`` default to the
    plan's model and records, loaded and encoded exactly as ``auditor train`` does (the held-out split is
    the eval set). A caller's own ``train_dataset`` is used as given: each row is one privacy unit (record
    level; ``unit: user`` needs the plan's data), it may not have more rows than the plan's dataset has
    records, and packed rows are refused. The loss is the plan's task's per-example loss (cross-entropy; for
    a causal LM the mean over each example's target tokens, -100 excluded): ``compute_loss`` overrides (TRL's
    too) are not called, and ``compute_loss_func`` is refused. ``args`` is required: it gives ``output_dir``
    (where ``model/`` and ``training.json`` go) and the schedule (:mod:`auditor.integrations.hf_setup` says how).
    """

    auditor_setup: Setup
    auditor_evidence: TrainingEvidence | None

    def __init__(self, model: Any = None, args: Any = None, *, plan: str | Path | PlanDocument,
                 scan: str | Path | ScanResult | None = None, policies: Sequence[str] = (),
                 waivers: str | Path | None = None, fail_on: str = "high", ledger_dir: str | Path | None = None,
                 progress: bool = False, **kwargs: Any) -> None:
        from auditor.integrations.hf_data import EncodedCollator, EncodedRows
        from auditor.integrations.hf_setup import setup

        if args is None:
            raise TrainingInputError("PrivateTrainer: args: give TrainingArguments (output_dir and the schedule "
                                     "come from them)")
        if kwargs.get("compute_loss_func") is not None:
            raise TrainingInputError("PrivateTrainer: compute_loss_func: DP-SGD clips each example's own loss, which "
                                     "the plan's task computes (cross-entropy per example); a batch loss cannot be "
                                     "clipped per example")
        s = setup(plan, scan, args, model=model, train_dataset=kwargs.get("train_dataset"),
                  processing_class=kwargs.get("processing_class"), policies=policies, waivers=waivers,
                  fail_on=fail_on, ledger_dir=ledger_dir, progress=progress)
        if s.encoded is not None:  # the plan's records, as auditor train encodes them
            kwargs["train_dataset"] = EncodedRows(s.encoded)
            if kwargs.get("eval_dataset") is None and s.prep.data.eval_examples:
                from auditor.integrations.hf_setup import _encode

                kwargs["eval_dataset"] = EncodedRows(_encode(s.doc, s.prep, s.loaded.tokenizer,
                                                             s.prep.data.eval_examples))
            if kwargs.get("data_collator") is None:
                kwargs["data_collator"] = EncodedCollator(s.encoded.pad_id)
        if kwargs.get("processing_class") is None and s.loaded.tokenizer is not None:
            kwargs["processing_class"] = s.loaded.tokenizer
        super().__init__(model=s.loaded.model, args=args, **kwargs)  # type: ignore[call-arg]
        self.auditor_setup, self.auditor_evidence = s, None
        trainer: Any = self
        trainer.callback_handler.__class__ = _PublicCallbacks
        if s.own_data and len(trainer.train_dataset) != s.prep.train_units:
            raise TrainingInputError(f"PrivateTrainer: train_dataset: {len(trainer.train_dataset):,} rows after the "
                                     f"trainer prepared it, {s.prep.train_units:,} when q was set; rows must not "
                                     "be added or dropped (no packing, no filtering)")

    def train(self, resume_from_checkpoint: str | bool | None = None, trial: Any = None,
              ignore_keys_for_eval: list[str] | None = None, **kwargs: Any) -> TrainOutput:
        """DP-SGD under the plan's requirement; returns the Trainer's ``TrainOutput`` with no loss (NaN) and
        ε as its metric, and keeps the evidence in ``auditor_evidence``. Can be called once per trainer."""
        from auditor.integrations.hf_loop import run_private

        if resume_from_checkpoint:
            raise TrainingInputError("PrivateTrainer: resume_from_checkpoint: a private run cannot resume from a "
                                     "Trainer checkpoint (the mechanism's key and accounting are not in it); "
                                     "a new run is reserved and accounted on its own")
        if trial is not None:
            raise TrainingInputError("PrivateTrainer: trial: every hyperparameter-search trial trains on the data "
                                     "and spends ε; search on public or synthetic data")
        if self.auditor_evidence is not None:
            raise TrainingInputError("PrivateTrainer: train() already ran; make a new trainer for a new run")
        evidence = run_private(self, self.auditor_setup)
        self.auditor_evidence = evidence
        eps = evidence.epsilon if evidence.epsilon is not None else 0.0
        return TrainOutput(evidence.steps, float("nan"), {"epsilon": eps})

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Only :func:`public_logs` reach ``Trainer.log`` (and so the log history and the trackers)."""
        super().log(public_logs(logs), start_time)  # type: ignore[misc]


class PrivateTrainer(PrivateTrainingMixin, Trainer):
    """``transformers.Trainer`` with the gate in its constructor and DP-SGD in ``train()``
    (see :class:`PrivateTrainingMixin`)."""
