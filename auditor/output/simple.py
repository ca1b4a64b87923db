"""JSON output: ``auditor check --format json`` schema v1 from DESIGN.md."""

from __future__ import annotations

import json

from auditor.findings import GateResult
from auditor.output import Formatter, RenderContext


class JsonFormatter(Formatter):
    name = "json"
    suffix = ".json"

    def render(self, result: GateResult, ctx: RenderContext) -> str:
        return json.dumps(result.to_json_v1(), indent=2, ensure_ascii=False) + "\n"
