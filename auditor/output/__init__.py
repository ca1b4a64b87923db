"""Formatters for the gate's result: one interface, one small class per format.

A formatter turns a :class:`GateResult` into text and knows nothing about how it was computed (Conftest's
parse -> evaluate -> output split). Add a format by adding a class to :data:`FORMATTERS`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditor.findings import GateResult

if TYPE_CHECKING:
    from auditor.output.location import PlanLocation


@dataclass(frozen=True)
class SarifOptions:
    """What a SARIF log holds besides failures and errors.

    Code scanning opens an alert for every result whatever its ``kind``, and ignores ``suppressions``: by
    default the log holds only what needs fixing (as Checkov's and Conftest's do).
    """

    all_results: bool = False  # every evaluated rule: passed (kind pass), not applicable, waived
    waived: bool = False  # waived findings as level note with suppressions
    category: str | None = None  # automationDetails.id; default derived from the plan's path


@dataclass(frozen=True)
class RenderContext:
    """What a formatter may need besides the result: where the plan is (SARIF locations), colour, width."""

    plan_path: str = "plan.yaml"  # as typed, for people
    plan_lines: dict[str, int] | None = None
    color: bool = False
    width: int = 120
    plan_location: PlanLocation | None = None  # repository-relative, for code scanning (default: plan_path)
    scan_sampled: bool = False  # dataset facts are upper bounds from a sample scan
    sarif: SarifOptions = field(default_factory=SarifOptions)


class Formatter(ABC):
    name: str
    suffix: str

    @abstractmethod
    def render(self, result: GateResult, ctx: RenderContext) -> str: ...


#: format name -> (module, class). Imported on use: the gate pays only for the format it prints.
_FORMATTERS: dict[str, tuple[str, str]] = {
    "table": ("auditor.output.table", "TableFormatter"),
    "json": ("auditor.output.simple", "JsonFormatter"),
    "sarif": ("auditor.output.sarif", "SarifFormatter"),
    "junit": ("auditor.output.junit", "JUnitFormatter"),
    "markdown": ("auditor.output.markdown", "MarkdownFormatter"),
}
FORMATS = tuple(_FORMATTERS)


def get_formatter(fmt: str) -> Formatter:
    module, cls = _FORMATTERS[fmt]
    formatter: Formatter = getattr(importlib.import_module(module), cls)()
    return formatter


def render_check(result: GateResult, fmt: str, ctx: RenderContext | None = None) -> str:
    """Render ``result`` as ``fmt`` (one of :data:`FORMATS`)."""
    return get_formatter(fmt).render(result, ctx or RenderContext())
