"""The base of every training-plan section, shared by :mod:`auditor.plan` and the modules it is split into.

It lives apart so that :mod:`auditor.plan_legal` and :mod:`auditor.plan_processing` can define sections without
importing :mod:`auditor.plan`, which imports them (the plan is one schema spread over three modules, each under
the house limit of about 400 lines).
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

from pydantic import BaseModel, ConfigDict, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: object) -> object:
        """A bare ``legal:`` (YAML null) with nothing under it means an empty section, not a type error.

        Users comment out every field of a section and leave its heading; sections whose fields all have
        defaults then read as ``{}``. A section with required fields (``dataset:``) still reports those.
        """
        if not isinstance(data, dict):
            return data
        empty = [name for name, info in cls.model_fields.items() if name in data and data[name] is None
                 and isinstance(info.annotation, type) and issubclass(info.annotation, Section)]
        return {**data, **{name: {} for name in empty}} if empty else data


def region_code(region: str) -> str:
    """Region codes compare upper-case and trimmed (``us-ca`` and ``US-CA`` are one place)."""
    return region.strip().upper()
