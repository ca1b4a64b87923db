"""The small display-ready rows every report section is made of, and how values are worded in them."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Row(_Frozen):
    label: str
    value: str
    note: str = ""
    status: Literal["ok", "warn", "bad", ""] = ""


class LawRow(_Frozen):
    law: str
    applies: str
    basis: str
    details: list[Row]


class EntityRow(_Frozen):
    name: str
    count: int
    records: int
    fields: str
    examples: list[str]


class CategoryRow(_Frozen):
    name: str
    label: str = ""
    records: int
    count: int
    entities: str


class RiskRow(_Frozen):
    risk: str
    source: str
    severity: str
    mitigation: str


class MappingRow(_Frozen):
    section: str
    anchor: str
    gdpr: str
    ai_act: str


def yn(value: bool | None) -> str:
    return "not recorded" if value is None else ("yes" if value else "no")


def ref(value: str | None) -> str:
    """A recorded reference or choice; an enum value (``legitimate_interests``) in words."""
    if not value:
        return "not recorded"
    return value.replace("_", " ") if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", value) else value


def composed(value: float | None) -> str:
    """A ledger's composed ε; None is a history no finite ε bounds at the stated δ."""
    return num(value) if value is not None else "unbounded"


def num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if "." in f"{value:.{digits}f}" else f"{value}"
