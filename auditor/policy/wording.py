"""The sentences a reader gets: a rule's ``met`` / ``not_applicable`` and a policy's applies texts, rendered.

Same placeholders as ``explain`` (``{{ plan.x }}``, ``{{ facts.x }}``, nothing else interpreted), but written
for a lawyer rather than an engineer: yes/no for booleans, 2,400 for counts, lists as "a, b" ("none" when
empty), and "(no scan)" for a scan fact that is absent because no scan was given, so one sentence reads true
with and without a scan. Facts hold counts and plan values only, never a value read from the dataset.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.facts import SCAN_FACTS
from auditor.policy.celx import is_missing, lookup

_PLACEHOLDER = re.compile(r"\{\{\s*((?:plan|facts)(?:\.[A-Za-z_]\w*)+)\s*\}\}")


def render_sentence(template: str, context: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        path = match.group(1)
        value = lookup(context, path)
        if is_missing(value) or value == "":
            parts = path.split(".")
            scan_fact = parts[0] == "facts" and parts[1] in SCAN_FACTS
            return "(no scan)" if scan_fact and lookup(context, "facts.scan_available") is False else "(not set)"
        return _prose(value)

    return _PLACEHOLDER.sub(fill, template).strip()


def _prose(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_prose(v) for v in value) or "none"
    return str(value)
