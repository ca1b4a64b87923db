"""Random plan, policy and waiver documents: only one-line AuditorErrors may come out, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.errors import AuditorError
from auditor.plan import load_plan
from auditor.policy.load import load_policy
from auditor.policy.waivers import load_waivers

PLAN_KEYS = ["version", "name", "purpose", "data_subjects", "legal", "assessments", "dataset", "transfers",
             "measures", "model", "training", "privacy", "regions", "gdpr", "path", "mechanism", "epsilon"]
POLICY_KEYS = ["id", "title", "version", "applies_when", "rules", "privacy", "require", "when", "severity",
               "citation", "ref", "url", "explain", "max_epsilon", "max_delta"]
CEL_BITS = ["facts.records > 0", "has(plan.x)", "&&", "(", ")", "'EU' in facts.regions", "1/n", "!", "[", "."]


def documents(keys: list[str]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                        st.text(max_size=20), st.sampled_from([*CEL_BITS, "critical", "high", "https://x", "1/n"]))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(keys), inner, max_size=6)), max_leaves=25)


def plan_like() -> st.SearchStrategy[Any]:
    base = {"version": 1, "name": "x", "dataset": {"path": "d.jsonl"}}
    return st.one_of(documents(PLAN_KEYS),
                     st.dictionaries(st.sampled_from(PLAN_KEYS), documents(PLAN_KEYS), max_size=6)
                     .map(lambda extra: {**base, **extra}))


def policy_like() -> st.SearchStrategy[Any]:
    rule = st.fixed_dictionaries({"id": st.sampled_from(["X-1", "bad id", "X-2"]), "title": st.text(max_size=5),
                                  "citation": st.fixed_dictionaries({"ref": st.just("Art. 1"),
                                                                     "url": st.sampled_from(["https://x", "ftp://"])}),
                                  "severity": st.sampled_from(["high", "nope"]),
                                  "require": st.lists(st.sampled_from(CEL_BITS), min_size=1, max_size=4).map(" ".join)})
    structured = st.fixed_dictionaries({"id": st.sampled_from(["p", "P!"]), "title": st.just("t"),
                                        "version": st.just("1"), "rules": st.lists(rule, max_size=3)})
    return st.one_of(documents(POLICY_KEYS), structured)


def raw_text() -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8")))


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(doc=plan_like())
def test_random_plans_raise_only_auditor_errors(tmp_path: Path, doc: Any) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(_dump(doc), encoding="utf-8")
    try:
        load_plan(path)
    except AuditorError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


@FUZZ
@given(doc=policy_like())
def test_random_policies_raise_only_auditor_errors(tmp_path: Path, doc: Any) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(_dump(doc), encoding="utf-8")
    try:
        load_policy(path)
    except AuditorError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


@FUZZ
@given(blob=raw_text())
def test_random_bytes_raise_only_auditor_errors(tmp_path: Path, blob: bytes) -> None:
    for loader in (load_plan, load_policy, load_waivers):
        path = tmp_path / "doc.yaml"
        path.write_bytes(blob)
        try:
            loader(path)
        except AuditorError as exc:
            assert "\n" not in str(exc)
