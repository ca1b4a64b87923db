"""The per-law facts derived from the plan: head-counts per area, the youngest age, and each transfer judged
against the destination's adequacy (auditor/facts_legal.py, auditor/adequacy.py)."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.adequacy import BY_AREA, EU_ADEQUACY, UK_ADEQUACY
from auditor.facts import build_facts
from auditor.facts_legal import exports, people_in, youngest_age
from auditor.plan import TrainingPlan


def plan(**sections: Any) -> TrainingPlan:
    return TrainingPlan.model_validate({"version": 1, "name": "facts", "dataset": {"path": "d.jsonl"}, **sections})


def test_head_counts_are_per_area_with_the_total_as_an_upper_bound() -> None:
    p = plan(data_subjects={"regions": ["DE", "FR", "CN", "US-CA"], "count": 10000,
                            "per_region": {"DE": 3000, "FR": 1000, "CN": 500}})
    assert people_in(p) == {"eea": 4000, "cn": 500, "us": 10000, "california": 10000}
    assert people_in(plan(data_subjects={"regions": ["EU"]})) == {}


@pytest.mark.parametrize(("subjects", "youngest"), [
    ({"age_bands": ["16-17", "18+"], "minors": True}, 16),   # bands win over the shorthand
    ({"age_bands": ["8-12"]}, 8),
    ({"minors": True}, 0),
    ({"minors": False}, 16),   # the shorthand's meaning: nobody under 16 (14 for the PIPL)
    ({}, None),
])
def test_the_youngest_age_comes_from_bands_then_the_minors_shorthand(subjects: dict[str, Any],
                                                                     youngest: int | None) -> None:
    assert youngest_age(plan(data_subjects={"regions": ["EU"], **subjects})) == youngest


def test_storage_and_compute_are_implied_flows_unless_a_declared_flow_covers_them() -> None:
    p = plan(data_subjects={"regions": ["EU", "CN"]},
             transfers={"storage_region": "EU", "compute_region": "US", "mechanism": ["scc", "cac_standard_contract"],
                        "flows": [{"origin": "EU", "destination": "US", "kind": "compute", "mechanism": "bcr"},
                                  {"origin": "EU", "destination": "IN", "kind": "remote_access", "occasional": True}]})
    found = exports(p)
    eea = {(t["destination"], t["kind"]): t for t in found["eea"]}
    assert set(eea) == {("US", "compute"), ("IN", "remote_access")}     # storage in the EU is no transfer
    assert eea[("US", "compute")]["mechanisms"] == ["bcr"]               # the declared flow, not the plan-wide list
    assert eea[("IN", "remote_access")]["occasional"] is True
    assert {(t["destination"], t["kind"]) for t in found["cn"]} == {("EU", "storage"), ("US", "compute")}
    assert all(t["mechanisms"] == ["scc", "cac_standard_contract"] for t in found["cn"])
    assert found["uk"] == [] and found["brazil"] == []


def test_storage_and_compute_are_never_occasional() -> None:
    p = plan(data_subjects={"regions": ["EU"]},
             transfers={"flows": [{"origin": "EU", "destination": "US", "kind": "storage", "occasional": True}]})
    assert exports(p)["eea"][0]["occasional"] is False


@pytest.mark.parametrize(("destination", "certified", "adequate"), [
    ("CH", False, True), ("JP", False, True), ("UK", False, True), ("CA-QC", False, True),
    ("US", False, False), ("US", True, True), ("US-CA", True, True), ("CN", False, False), ("IN", False, False),
])
def test_adequacy_depends_on_the_destination_and_for_the_us_on_certification(destination: str, certified: bool,
                                                                          adequate: bool) -> None:
    p = plan(data_subjects={"regions": ["EU"]},
             transfers={"compute_region": destination, "importer_dpf_certified": certified})
    assert exports(p)["eea"][0]["adequate"] is adequate


def test_the_adequacy_lists_are_dated_and_sourced() -> None:
    for listed in BY_AREA.values():
        assert listed.source.startswith("https://") and len(listed.as_of) == 10
    assert "CN" not in EU_ADEQUACY.destinations and EU_ADEQUACY.certified_only == {"US"}
    # an EEA state is adequate for the UK; for the EU it is no destination at all (never a transfer)
    assert UK_ADEQUACY.covers("DE", certified=False) and not EU_ADEQUACY.covers("DE", certified=False)


def test_remote_access_makes_an_export_fact_true_and_names_it_in_words() -> None:
    p = plan(data_subjects={"regions": ["EU"]}, transfers={
        "storage_region": "EU", "compute_region": "EU",
        "flows": [{"origin": "EU", "destination": "US", "kind": "remote_access", "mechanism": "scc"}]})
    facts = build_facts(p, None)
    assert facts.eea_export is True
    assert facts.export_labels["eea"] == ["accessed from US on scc (systematic; adequate only for an importer "
                                          "certified under the Data Privacy Framework, and none is recorded)"]
    assert "youngest_age" not in facts.cel_view()   # unknown: absent, so has() means "known"


def test_korea_and_japan_are_areas_with_their_own_adequacy_lists() -> None:
    """PIPA Art. 28-8 and APPI Art. 28 judge transfers out of Korea and Japan: Japan's PPC designates the EU and
    EEA member states and the UK; no PIPC recognition is listed for Korea, so no destination is adequate."""
    p = plan(data_subjects={"regions": ["KR", "JP"], "per_region": {"KR": 300, "JP": 700}},
             transfers={"storage_region": "DE", "compute_region": "US"})
    facts = build_facts(p, None)
    assert facts.kr_subjects and facts.jp_subjects and facts.people_in["korea"] == 300
    assert facts.people_in["japan"] == 700
    korea = {t["destination"]: t["adequate"] for t in facts.exports["korea"]}
    japan = {t["destination"]: t["adequate"] for t in facts.exports["japan"]}
    assert korea == {"DE": False, "US": False} and japan == {"DE": True, "US": False}
    assert "PPC Notice No. 1 of 2019" in facts.export_labels["japan"][0]
    assert "no adequacy decision in the PIPA Art. 28-8(1)(5) list" in facts.export_labels["korea"][0]
    assert BY_AREA["japan"].covers("UK", certified=False) and BY_AREA["japan"].covers("NO", certified=False)
    assert not BY_AREA["japan"].covers("CH", certified=False) and BY_AREA["korea"].destinations == {}
    assert exports(plan(data_subjects={"regions": ["EU"]}, transfers={"compute_region": "US"}))["japan"] == []
