"""The published JSON Schemas of what auditor writes, generated from the pydantic models that write it.

The ``*.schema.json`` files next to this module ship in the wheel, so a pipeline can validate
``check --format json``, ``scan.json``, ``evidence.json``, ``training.json``, ``leakage.json`` and
``OUT.redaction.json`` (and an editor can complete a plan) without importing auditor. They are generated,
never edited: ``python -m auditor.schemas`` rewrites them, and a test fails when a model changed and they
were not regenerated.
"""

from __future__ import annotations

import importlib
import json
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel

#: schema name -> (module, model, mode): outputs are described as serialized, the plan as accepted
SCHEMAS: dict[str, tuple[str, str, Literal["serialization", "validation"]]] = {
    "check": ("auditor.findings", "CheckReport", "serialization"),
    "scan": ("auditor.scan.model", "ScanResult", "serialization"),
    "evidence": ("auditor.report.evidence", "EvidenceBundle", "serialization"),
    "training": ("auditor.train.evidence", "TrainingEvidence", "serialization"),
    "leakage": ("auditor.leakage.model", "LeakageReport", "serialization"),
    "redaction": ("auditor.redact.model", "RedactionEvidence", "serialization"),
    "plan": ("auditor.plan", "TrainingPlan", "validation"),
}
DESCRIPTIONS = {
    "check": "auditor check --format json (and an audit's check.json)",
    "scan": "scan.json from auditor scan",
    "evidence": "evidence.json, the bundle a report is rendered and signed from",
    "training": "training.json from auditor train",
    "leakage": "leakage.json, the leakage audit of a trained model",
    "redaction": "OUT.redaction.json from auditor redact",
    "plan": "a training plan (plan.yaml), as auditor accepts it",
}


def file_name(name: str) -> str:
    return f"{name}.schema.json"


def generate(name: str) -> dict[str, Any]:
    """The schema of ``name`` as the models define it now."""
    module, attr, mode = SCHEMAS[name]
    model: type[BaseModel] = getattr(importlib.import_module(module), attr)
    schema = model.model_json_schema(mode=mode)
    schema.pop("title", None)  # the model's class name; the title says what the file is
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"urn:auditor:schema:{name}",
            "title": DESCRIPTIONS[name], **schema}


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def shipped(name: str) -> str:
    """The schema file shipped with this installation, as text."""
    if name not in SCHEMAS:
        raise KeyError(name)
    return resources.files(__name__).joinpath(file_name(name)).read_text(encoding="utf-8")
