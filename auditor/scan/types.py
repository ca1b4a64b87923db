"""Values passed between the scan's tiers, its worker processes and the aggregator.

:class:`Span` and :class:`TextResult` are typed, immutable ``NamedTuple`` values rather than pydantic models
on purpose: a scan creates one per detection and pickles them between processes, and a pydantic
``model_construct`` costs about ten times a tuple on that hot path (measured with ``benchmarks/scan.py``).
They carry offsets only -- never the text -- so nothing leaving a worker can leak a value; the aggregator
masks the few examples it keeps from the record it already holds.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict


class Span(NamedTuple):
    entity: str
    start: int
    end: int
    score: float
    recognizer: str


class TextResult(NamedTuple):
    """Detections for one distinct text, plus its language guess (``en`` or ``zh``)."""

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
