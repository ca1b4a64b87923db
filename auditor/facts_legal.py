"""Facts the policies derive from the plan per law: whose people, how many, how young, and which transfers.

Kept apart from :mod:`auditor.facts` (which calls :func:`legal_facts` once) so the derivations a lawyer may want
to read -- which destinations count as a transfer, which tool covers which flow, how a count is chosen -- sit
in one place. Everything here reads the plan only; no value from the dataset.

Areas are the territories a law protects: ``eea``, ``uk``, ``cn`` (mainland China), ``brazil``, ``india``,
``quebec`` (for Quebec's s. 17, "outside Quebec" includes the rest of Canada), ``korea`` (PIPA Art. 28-8) and
``japan`` (APPI Art. 28), plus ``canada``, ``us`` and ``california`` for head-counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from auditor.adequacy import BY_AREA, EEA_CODES
from auditor.plan import TrainingPlan

#: Hong Kong, Macao and Taiwan are outside mainland China for the PIPL's export rules.
_NOT_MAINLAND = frozenset({"CN-HK", "CN-MO", "CN-TW"})


def _country(region: str) -> str:
    return region.split("-")[0]


AREAS: dict[str, Callable[[str], bool]] = {
    "eea": lambda r: _country(r) in EEA_CODES,
    "uk": lambda r: _country(r) in ("UK", "GB"),
    "cn": lambda r: _country(r) == "CN" and r not in _NOT_MAINLAND,
    "brazil": lambda r: _country(r) == "BR",
    "india": lambda r: _country(r) == "IN",
    "quebec": lambda r: r == "CA-QC",
    "korea": lambda r: _country(r) == "KR",
    "japan": lambda r: _country(r) == "JP",
    "canada": lambda r: _country(r) == "CA",
    "us": lambda r: _country(r) == "US",
    "california": lambda r: r == "US-CA",
}
#: Areas whose exports the policies judge (keys of ``facts.exports``, always present).
EXPORT_AREAS = ("eea", "uk", "cn", "brazil", "india", "quebec", "korea", "japan")


def people_in(plan: TrainingPlan) -> dict[str, int]:
    """Head-counts per area with people in it: the sum of ``data_subjects.per_region`` entries in the area, or,
    where the plan gives none for it, ``data_subjects.count`` as an upper bound. An area with people but no
    count at all is absent, so a rule can tell "unknown" from a number."""
    subjects = plan.data_subjects
    out: dict[str, int] = {}
    for area, inside in AREAS.items():
        if not any(inside(r) for r in subjects.regions):
            continue
        counted = [n for region, n in subjects.per_region.items() if inside(region)]
        if counted:
            out[area] = sum(counted)
        elif subjects.count is not None:
            out[area] = subjects.count
    return out


def youngest_age(plan: TrainingPlan) -> int | None:
    """The youngest age the plan admits: the lowest band in ``data_subjects.age_bands``; without bands the
    ``minors`` shorthand ("anyone under 14 / 16"): true -> 0 (any age), false -> 16; else unknown (``None``)."""
    subjects = plan.data_subjects
    if subjects.age_bands:
        return min(int(band.rstrip("+").split("-")[0]) for band in subjects.age_bands)
    if subjects.minors is None:
        return None
    return 0 if subjects.minors else 16


def _mechanisms(value: str | Sequence[str] | None) -> list[str]:
    listed = [value] if isinstance(value, str) else list(value or [])
    return [m for m in listed if m != "none"]


def exports(plan: TrainingPlan) -> dict[str, list[dict[str, Any]]]:
    """Every transfer out of each area, one map per flow: ``destination``, ``kind``, ``mechanisms``,
    ``adequate`` (the destination is on the area's adequacy list, the US only for a certified importer),
    ``certified`` and ``occasional``.

    Declared ``transfers.flows`` come first; storage and compute outside an area with people in it add an
    implied flow on the plan-wide ``transfers.mechanism`` unless a declared flow of that area already covers
    the same destination and kind. Storage and compute are never occasional. An unset region is no flow here
    (the location rules ask for it).
    """
    return {area: _area_exports(plan, area) for area in EXPORT_AREAS}


def _area_exports(plan: TrainingPlan, area: str) -> list[dict[str, Any]]:
    transfers = plan.transfers
    inside = AREAS[area]
    listed = BY_AREA.get(area)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    candidates: list[tuple[str, str, list[str], bool, bool]] = [
        (f.destination, f.kind, _mechanisms(f.mechanism), bool(f.importer_dpf_certified), f.occasional)
        for f in transfers.flows if inside(f.origin)]
    if any(inside(r) for r in plan.data_subjects.regions):
        candidates += [(region, kind, _mechanisms(transfers.mechanism), bool(transfers.importer_dpf_certified), False)
                       for kind, region in (("storage", transfers.storage_region),
                                            ("compute", transfers.compute_region)) if region]
    for destination, kind, mechanisms, certified, occasional in candidates:
        if inside(destination) or (destination, kind) in found:
            continue
        found[(destination, kind)] = {
            "destination": destination, "kind": kind, "mechanisms": mechanisms, "certified": certified,
            "adequate": listed is not None and listed.covers(destination, certified),
            "occasional": occasional and kind not in ("storage", "compute"),
        }
    return list(found.values())


_VERB = {"storage": "stored in", "compute": "trained in", "remote_access": "accessed from",
         "disclosure": "disclosed to"}


def export_labels(found: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Each transfer in words, for the rules' sentences: "trained in US on scc (no adequacy decision ...)".
    The notes sit in parentheses, so a list of transfers joined by commas still reads one transfer at a time."""
    out: dict[str, list[str]] = {}
    for area, transfers in found.items():
        listed = BY_AREA.get(area)
        labels = []
        for t in transfers:
            notes = []
            if t["kind"] in ("remote_access", "disclosure"):
                notes.append("occasional" if t["occasional"] else "systematic")
            if listed is not None:
                country = t["destination"].split("-")[0]
                if t["adequate"]:
                    decision = listed.destinations.get(country) or listed.destinations[t["destination"]]
                    notes.append(f"adequate: {decision}")
                elif country in listed.certified_only:
                    notes.append("adequate only for an importer certified under the Data Privacy Framework, and none "
                                 "is recorded")
                else:
                    notes.append(f"no adequacy decision in the {listed.law} list as of {listed.as_of}")
            tools = " + ".join(t["mechanisms"]) or "no tool recorded"
            labels.append(f"{_VERB[t['kind']]} {t['destination']} on {tools}"
                          + (f" ({'; '.join(notes)})" if notes else ""))
        out[area] = labels
    return out


def legal_facts(plan: TrainingPlan) -> dict[str, Any]:
    """The fields :class:`auditor.facts.Facts` takes from this module."""
    regions = plan.data_subjects.regions
    found = exports(plan)
    return {
        "br_subjects": any(AREAS["brazil"](r) for r in regions),
        "in_subjects": any(AREAS["india"](r) for r in regions),
        "canada_subjects": any(AREAS["canada"](r) for r in regions),
        "qc_subjects": any(AREAS["quebec"](r) for r in regions),
        "kr_subjects": any(AREAS["korea"](r) for r in regions),
        "jp_subjects": any(AREAS["japan"](r) for r in regions),
        "people_in": people_in(plan),
        "youngest_age": youngest_age(plan),
        "exports": found,
        "export_labels": export_labels(found),
        "unbound_processors": [p.name for p in plan.processors or [] if not (p.contract or "").strip()],
    }
