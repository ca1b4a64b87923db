"""Formatters for the gate's result: one interface, one small class per format.

A formatter turns a :class:`GateResult` into text and knows nothing about how it was computed (Conftest's
parse -> evaluate -> output split). Add a format by adding a class to :data:`FORMATTERS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from auditor.findings import GateResult


@dataclass(frozen=True)
class RenderContext:
    """What a formatter may need besides the result: where the plan is (SARIF locations), colour, width."""

    plan_path: str = "plan.yaml"
    plan_lines: dict[str, int] | None = None
    color: bool = False
    width: int = 120


class Formatter(ABC):
    name: str
    suffix: str

    @abstractmethod
    def render(self, result: GateResult, ctx: RenderContext) -> str: ...


def _formatters() -> dict[str, Formatter]:
    from auditor.output.junit import JUnitFormatter
    from auditor.output.markdown import MarkdownFormatter
    from auditor.output.sarif import SarifFormatter
    from auditor.output.simple import JsonFormatter
    from auditor.output.table import TableFormatter

    return {f.name: f for f in (TableFormatter(), JsonFormatter(), SarifFormatter(), JUnitFormatter(),
                                MarkdownFormatter())}


FORMATS = ("table", "json", "sarif", "junit", "markdown")


def render_check(result: GateResult, fmt: str, ctx: RenderContext | None = None) -> str:
    """Render ``result`` as ``fmt`` (one of :data:`FORMATS`)."""
    return _formatters()[fmt].render(result, ctx or RenderContext())
