"""The task plug point (see :mod:`auditor.train.tasks.base`): ``model.task`` picks one implementation.

The table is explicit -- no registry filled by import side effects -- and the implementations import
their heavy libraries inside their methods.
"""

from __future__ import annotations

from auditor.train.tasks.base import Chat, Loaded, Saved, Task
from auditor.train.tasks.causal_lm import CausalLM
from auditor.train.tasks.classification import SequenceClassification

TASKS: dict[str, type[Task]] = {"sequence-classification": SequenceClassification, "causal-lm": CausalLM}

__all__ = ["TASKS", "CausalLM", "Chat", "Loaded", "Saved", "SequenceClassification", "Task",
           "for_task"]


def for_task(name: str) -> Task:
    return TASKS[name]()
