"""Entity types to legal categories, read from ``data/categories.yaml`` (data, not code, so counsel can review it).

The mapping decides what the policies see: ``facts.categories.gdpr_special`` is the number of records with
any entity whose categories (after ``implies``) include ``gdpr_special``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from auditor.errors import InternalError
from auditor.scan.model import CATEGORIES


class CategoryMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    entities: dict[str, list[str]]
    implies: dict[str, list[str]]

    @field_validator("entities", "implies")
    @classmethod
    def _known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, cats in value.items():
            unknown = [c for c in cats if c not in CATEGORIES]
            if unknown:
                raise ValueError(f"{key}: unknown categories {unknown}")
        return value

    def categories_of(self, entity: str) -> frozenset[str]:
        """All categories an entity type counts towards; an unmapped type is still personal data."""
        cached = _CLOSURES.get(entity)
        if cached is None:
            found = {"personal_data", *self.entities.get(entity, [])}
            todo = list(found)
            while todo:
                for implied in self.implies.get(todo.pop(), []):
                    if implied not in found:
                        found.add(implied)
                        todo.append(implied)
            cached = _CLOSURES[entity] = frozenset(found)
        return cached


_CLOSURES: dict[str, frozenset[str]] = {}


@lru_cache(maxsize=1)
def category_map() -> CategoryMap:
    text = resources.files("auditor.scan").joinpath("data/categories.yaml").read_text(encoding="utf-8")
    try:
        return CategoryMap.model_validate(yaml.safe_load(text))
    except ValueError as exc:
        raise InternalError(f"auditor/scan/data/categories.yaml is invalid: {exc}") from None


def record_categories(entities: Iterable[str]) -> set[str]:
    """Categories one record falls into, given the entity types found in it (``phi`` included)."""
    mapping = category_map()
    found: set[str] = set()
    for entity in entities:
        found |= mapping.categories_of(entity)
    if "health" in found and "hipaa_identifier" in found:
        found.add("phi")
    return found
