"""What a :class:`~auditor.integrations.transformers.PrivateTrainer` decides in its constructor, before the
Trainer exists: the gate, the arguments it refuses, the schedule, :func:`auditor.train.prepare.prepare`
(σ, q, steps, δ, C, the ledger's verdict) and the plan's model and data where the caller gave none.

How ``TrainingArguments`` map onto DP-SGD (the README says the same):

* one **logical step** is one optimizer step; its batch is Poisson-sampled: each unit independently with
  probability q = 1 / ⌈n / B⌉, where B = ``per_device_train_batch_size × gradient_accumulation_steps`` is the
  *expected* logical batch. Its size is random (that is the point: the accountant assumes it), so
  ``gradient_accumulation_steps`` does not fix how many micro-batches a step takes: the sampled units are
  cut into physical batches of at most ``per_device_train_batch_size``, their clipped gradients summed, and
  one noisy update made.
* steps = ``max_steps`` when set, else ``num_train_epochs × ⌈n / B⌉`` (an epoch is ⌈n / B⌉ steps: each unit
  is expected once); ``learning_rate``, the optimizer and the scheduler are the Trainer's.
* ε, δ, the clipping norm C, the accountant and the unit come from the plan and the policies, never from
  the arguments; ``max_grad_norm`` (the Trainer's clipping of the *summed* gradient) is not used.

The plan's ``training`` block is what ``auditor train`` runs; here the schedule comes from the arguments and
``training.json`` records the one that ran (the plan's own digest still names the plan the gate read).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import TrainingInputError

if TYPE_CHECKING:
    from auditor.findings import GateResult
    from auditor.plan import PlanDocument
    from auditor.scan.model import ScanResult
    from auditor.train.encoded import Encoded
    from auditor.train.prepare import Prepared
    from auditor.train.tasks.base import Loaded


@dataclass
class Setup:
    """Everything the constructor decided; ``train()`` adds only what needs the model attached."""

    doc: PlanDocument          # the plan with its training block set to the arguments' schedule
    gate: GateResult
    prep: Prepared
    device: str
    out_dir: Path
    ledger_dir: Path | None
    loaded: Loaded            # the model and tokenizer that train (the caller's or the plan's)
    own_model: bool
    own_data: bool
    encoded: Encoded | None   # the plan's training records, encoded as auditor train does (own_data: None)
    progress: bool


def refuse_arguments(args: Any) -> None:
    """Arguments under which DP-SGD as accounted cannot run, refused in one line each before anything."""
    def no(field: str, why: str) -> TrainingInputError:
        return TrainingInputError(f"PrivateTrainer: args.{field}: {why}")

    if getattr(args, "fp16", False):
        raise no("fp16", "fp16 scales the loss (GradScaler), which per-example clipping cannot see; use bf16 "
                         "(on CUDA the forward runs under bf16 autocast; clipping and noise stay fp32)")
    if int(getattr(args, "world_size", 1)) > 1 or int(getattr(args, "n_gpu", 1)) > 1:
        raise no("world_size", "multi-process or DataParallel training is not supported here (each process "
                               "would sample and add noise on its own); train on one device")
    if getattr(args, "torch_compile", False):
        raise no("torch_compile", "a compiled model hides the layers the per-example clipping hooks into")
    if getattr(args, "packing", False) or getattr(args, "padding_free", False):
        raise no("packing", "packed or padding-free rows hold several records, so one row is not one privacy "
                            "unit; set packing=False and padding_free=False")
    reports = getattr(args, "report_to", None) or []
    if os.environ.get("WANDB_WATCH", "false").lower() in ("gradients", "all") and "wandb" in reports:
        raise TrainingInputError("PrivateTrainer: WANDB_WATCH: W&B would log gradient histograms taken in the "
                                 "backward pass, before clipping and noise (a statistic of the private batch); "
                                 "unset it or set it to false or parameters")
    if args.device.type not in ("cpu", "cuda"):
        raise no("device", f"{args.device.type} is not supported (cpu or cuda)")
    epochs = float(args.num_train_epochs)
    if int(args.max_steps) <= 0 and (epochs < 1 or epochs != math.floor(epochs)):
        raise no("num_train_epochs", f"{epochs:g} is not a whole number of epochs; give an integer, or max_steps")


def effective_plan(doc: PlanDocument, args: Any, device: str) -> PlanDocument:
    """The plan with its schedule taken from the arguments (batch, physical batch, epochs, learning rate,
    device); privacy, data and model stay the plan's. Its digest stays the original plan's."""
    physical = int(args.per_device_train_batch_size)
    spec = doc.plan.training.model_copy(update={
        "batch_size": physical * int(args.gradient_accumulation_steps), "physical_batch_size": physical,
        "epochs": max(1, int(args.num_train_epochs)), "learning_rate": float(args.learning_rate),
        "device": device})
    return dataclasses.replace(doc, plan=doc.plan.model_copy(update={"training": spec}))


def setup(plan: str | Path | PlanDocument, scan: str | Path | ScanResult | None, args: Any, *, model: Any,
          train_dataset: Any, processing_class: Any, policies: Sequence[str], waivers: str | Path | None,
          fail_on: str, ledger_dir: str | Path | None, progress: bool) -> Setup:
    """Gate, refuse what cannot be accounted, prepare, and load the plan's model where none was given."""
    from auditor.api import gate_for_training
    from auditor.train.outputs import output_folder
    from auditor.train.prepare import prepare

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # personal data: no hub look-ups, no telemetry pings
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    doc, scan_result, gate = gate_for_training(plan, scan, policies=policies, waivers=waivers, fail_on=fail_on,
                                               progress=progress)
    refuse_arguments(args)
    device = args.device.type
    doc = effective_plan(doc, args, device)
    own_data = train_dataset is not None
    if own_data and doc.plan.privacy.unit == "user":
        raise TrainingInputError(f"{doc.source}: privacy.unit: user needs the plan's own dataset, grouped into "
                                 "people by auditor; drop train_dataset, or train with unit: record")
    out_dir = output_folder(Path(args.output_dir))
    ledger = Path(ledger_dir) if ledger_dir is not None else None
    rows = len(train_dataset) if own_data else None
    steps = int(args.max_steps) if int(args.max_steps) > 0 else None
    if doc.plan.audit is not None and doc.plan.audit.enabled:
        # said, not silently dropped: its canaries would change q, so this run's σ and q are those of the plan
        # without them, and no leakage audit backs a claim about this model
        import warnings

        warnings.warn(f"{doc.source}: audit: PrivateTrainer plants no canaries and runs no leakage audit; "
                      "training.json records canaries: 0 (auditor train or auditor audit run the audit)",
                      stacklevel=3)
    prep = prepare(doc, gate.privacy_requirements, ledger, None, None, scan_result.dataset.sha256, None,
                   rows=rows, steps=steps)
    if not prep.settings.dp:
        raise TrainingInputError(f"{doc.source}: privacy.mechanism is 'none' and no applicable policy requires DP: "
                                 "PrivateTrainer trains only with DP-SGD; use transformers.Trainer")
    if rows is not None and rows > prep.data.records:
        raise TrainingInputError(f"{doc.source}: train_dataset has {rows:,} rows, more than the {prep.data.records:,} "
                                 "records of the plan's dataset: it holds data the gate did not check (or "
                                 "splits records into several rows, each of which would be a unit)")
    loaded = _load(doc, prep, model, processing_class, device)
    encoded = None
    if not own_data:
        if loaded.tokenizer is None:
            raise TrainingInputError("PrivateTrainer: processing_class: give the tokenizer of your model, so the "
                                     "plan's records can be encoded (or give train_dataset)")
        encoded = _encode(doc, prep, loaded.tokenizer, prep.train_examples)
    return Setup(doc=doc, gate=gate, prep=prep, device=device, out_dir=out_dir, ledger_dir=ledger, loaded=loaded,
                 own_model=model is not None, own_data=own_data, encoded=encoded, progress=progress)


def _encode(doc: PlanDocument, prep: Prepared, tokenizer: Any, examples: list[Any]) -> Encoded:
    try:
        return prep.task.encode(tokenizer, examples, doc.plan.training.max_seq_len)
    except TrainingInputError as exc:  # the task names the field; the plan file is named here
        raise TrainingInputError(f"{doc.source}: {exc.message}") from None


def _load(doc: PlanDocument, prep: Prepared, model: Any, tokenizer: Any, device: str) -> Loaded:
    """The plan's model, loaded as ``auditor train`` loads it (offline, on its device before any LoRA
    wrapping, only the released parameters trainable), or the caller's model described for the evidence."""
    import torch

    from auditor.train.tasks.base import Loaded

    if model is None:
        from auditor.train.model import resolve_model_path

        torch.manual_seed(prep.seed)  # public: a new head's or adapter's initial weights only
        loaded = prep.task.load(doc, resolve_model_path(doc), device)
        return loaded if tokenizer is None else dataclasses.replace(loaded, tokenizer=tokenizer)
    params = list(model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    if trainable == 0:
        raise TrainingInputError("PrivateTrainer: model: no parameter requires a gradient; nothing would train "
                                 "while ε is spent")
    return Loaded(tokenizer=tokenizer, model=model, lora=_lora_info(model),
                  trainable=f"the caller's model: {trainable:,} of {sum(p.numel() for p in params):,} "
                            "parameters trainable")


def _lora_info(model: Any) -> Any:
    """What a peft LoRA model's adapters are, for the evidence; None for any other model."""
    from auditor.train.evidence import LoraInfo

    configs = getattr(model, "peft_config", None)
    config = configs.get("default") if isinstance(configs, dict) else None
    if config is None or getattr(config, "r", None) is None:
        return None
    targets = config.target_modules
    return LoraInfo(r=int(config.r), alpha=int(config.lora_alpha), dropout=float(config.lora_dropout),
                    target_modules=sorted(targets) if isinstance(targets, set | list) else [str(targets)],
                    adapted_modules=max(1, sum(1 for name, _ in model.named_modules() if name.endswith(".lora_A"))),
                    merged=False)
