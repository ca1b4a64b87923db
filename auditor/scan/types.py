"""Values passed between the scan's tiers, its worker processes and the aggregator.

A :class:`Span` carries the masked shape of the value (never the value itself), so nothing that leaves a
worker process can leak the raw text into scan.json, findings.jsonl or a log line.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    entity: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    score: float
    recognizer: str
    masked: str = Field(description="Entity type and shape, never the value")


class TextResult(BaseModel):
    """Detections for one distinct text, plus its language guess (``en`` or ``zh``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lang: str
    spans: tuple[Span, ...] = ()


class SpanFinding(BaseModel):
    """One line of findings.jsonl: where a span is, never what it says."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    record: int
    line: int
    field: str
    entity: str
    start: int
    end: int
    score: float
