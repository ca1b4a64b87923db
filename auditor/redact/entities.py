"""Which entity types a redaction replaces: every direct identifier by default, plus the special categories
the plan's policies read when a plan is given, or exactly what ``--entities`` names.

The lists come from the scan's own data (``scan/data/categories.yaml`` and the lexicons), so a type the scan
learns to detect is redacted without a change here, and a name the scan does not know is refused rather
than silently matching nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from auditor.errors import InputError
from auditor.plan import TrainingPlan
from auditor.scan.categories import category_map
from auditor.scan.lexicon import CATEGORY_ENTITY
from auditor.scan.model import CATEGORIES

Selection = Literal["default", "plan", "option"]
#: Categories too broad to select special-category terms by: every entity counts as personal data.
_TOO_BROAD = frozenset({"personal_data", "direct_identifier", "hipaa_identifier"})


def known_entities() -> list[str]:
    return sorted(category_map().entities)


def in_category(category: str) -> list[str]:
    """Entity types that count towards ``category`` (after ``implies``); ``phi`` is health with an identifier."""
    mapping = category_map()
    if category == "phi":
        category = "health"
    return sorted(e for e in mapping.entities if category in mapping.categories_of(e))


def direct_identifiers() -> list[str]:
    return in_category("direct_identifier")


def special_category_terms() -> list[str]:
    """The types the lexicon tier reports: health, religion, ... and signs of minors."""
    return sorted(set(CATEGORY_ENTITY.values()))


def parse_entities(option: str) -> list[str]:
    """``--entities PERSON,EMAIL_ADDRESS,health``: entity types, or legal categories standing for theirs."""
    known = set(known_entities())
    chosen: list[str] = []
    for item in (part.strip() for part in option.split(",")):
        if not item:
            continue
        if item.upper() in known:
            names = [item.upper()]
        elif item.lower() in CATEGORIES:
            names = in_category(item.lower())
        else:
            raise InputError(f"--entities: unknown entity type or category '{item}' (entity types: "
                             f"{', '.join(sorted(known))}; or a category: {', '.join(CATEGORIES)})")
        chosen.extend(n for n in names if n not in chosen)
    if not chosen:
        raise InputError("--entities: name at least one entity type (e.g. PERSON,EMAIL_ADDRESS)")
    return chosen


def plan_categories(plan: TrainingPlan) -> set[str]:
    """Legal categories read by the rules of every bundled policy that could apply to this plan.

    Applicability is judged against a dataset holding every category (the strictest reading), since the
    redaction runs before the scan that would tell: a policy that applies only to health data is counted.
    """
    from auditor.facts import ScanFacts, build_facts
    from auditor.policy.engine import Evaluator
    from auditor.policy.load import resolve_policies

    policies = resolve_policies(())
    worst = ScanFacts(records=1, records_with_personal_data=1, categories=dict.fromkeys(CATEGORIES, 1))
    refs = Evaluator(plan, build_facts(plan, worst)).evaluate(policies).policies
    applying = {ref.id for ref in refs if ref.applies}
    found: set[str] = set()
    for policy in policies:
        if policy.id not in applying:
            continue
        for rule in policy.rules:
            for expr in (rule.when, rule.require):
                for path in expr.paths if expr is not None else ():
                    parts = path.split(".")
                    if parts[:2] == ["facts", "categories"] and len(parts) > 2:
                        found.add(parts[2])
    return found - _TOO_BROAD


def plan_entities(plan: TrainingPlan) -> list[str]:
    """Special-category terms the plan's policies care about (health, religion, minors, ...)."""
    categories = plan_categories(plan)
    terms = set(special_category_terms())
    return sorted({e for c in categories for e in in_category(c)} & terms)


def select_entities(option: str | None, plan: TrainingPlan | None) -> tuple[list[str], Selection]:
    if option is not None:
        return parse_entities(option), "option"
    chosen = direct_identifiers()
    if plan is None:
        return chosen, "default"
    return _merged(chosen, plan_entities(plan)), "plan"


def _merged(first: Iterable[str], second: Iterable[str]) -> list[str]:
    out = list(first)
    out.extend(e for e in second if e not in out)
    return out
