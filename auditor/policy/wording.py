"""The sentences a reader gets: a rule's ``met`` / ``not_applicable`` and a policy's applies texts, rendered.

Same placeholders as ``explain`` (``{{ plan.x }}``, ``{{ facts.x }}``, nothing else interpreted), but written
for a lawyer rather than an engineer: yes/no for booleans, 2,400 for counts, lists as "a, b" ("none" when
empty), and "(no scan)" for a scan fact that is absent because no scan was given, so one sentence reads true
with and without a scan. Facts hold counts and plan values only, never a value read from the dataset.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from auditor.facts import SCAN_FACTS
from auditor.policy.celx import is_missing, lookup

_PLACEHOLDER = re.compile(r"\{\{\s*((?:plan|facts)(?:\.[A-Za-z_]\w*)+)\s*\}\}")


def _fill(template: str, context: dict[str, Any], word: Callable[[str, Any], str]) -> str:
    """Replace each placeholder with ``word(path, value)``; nothing else in the template is interpreted."""
    return _PLACEHOLDER.sub(lambda m: word(m.group(1), lookup(context, m.group(1))), template).strip()


def render_explain(template: str, context: dict[str, Any]) -> str:
    """A rule's ``explain`` as the gate's ``message`` (schema v1): values as they are, ``(not set)`` if absent."""
    return _fill(template, context, lambda _, value: "(not set)" if is_missing(value) else str(value))


def render_sentence(template: str, context: dict[str, Any]) -> str:
    def word(path: str, value: Any) -> str:
        if is_missing(value) or value == "":
            parts = path.split(".")
            scan_fact = parts[0] == "facts" and parts[1] in SCAN_FACTS
            return "(no scan)" if scan_fact and lookup(context, "facts.scan_available") is False else "(not set)"
        return _prose(value)

    return _fill(template, context, word)


def _prose(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_prose(v) for v in value) or "none"
    return str(value)
