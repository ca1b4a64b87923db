"""The bundled policies: they load, their cases pass with full coverage, and they cite the law."""

from __future__ import annotations

import re
import typing
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import BaseModel

from auditor.facts import SCAN_FACTS, Facts
from auditor.plan import TrainingPlan
from auditor.policy.load import bundled_ids, resolve_policies
from auditor.policy.model import Policy
from auditor.policy.testing import run_tests
from auditor.scan.model import CATEGORIES

MINIMUM_RULES = {"gdpr": 8, "pipl": 8, "ccpa": 5, "hipaa": 5, "eu_ai_act": 5}


def test_all_five_jurisdictions_ship() -> None:
    assert set(bundled_ids()) == set(MINIMUM_RULES)


@pytest.mark.parametrize("policy_id", sorted(MINIMUM_RULES))
def test_rule_counts_citations_and_privacy_blocks(policy_id: str) -> None:
    (policy,) = resolve_policies([policy_id])
    assert len(policy.rules) >= MINIMUM_RULES[policy_id]
    assert policy.privacy, f"{policy_id} states no DP requirement"
    prefix = policy_id.split("_")[0].upper()
    for rule in policy.rules:
        assert rule.spec.id.startswith(prefix), rule.spec.id
        assert rule.spec.citation.url.startswith("https://")
        assert any(ch.isdigit() for ch in rule.spec.citation.ref), f"{rule.spec.id} cites no article"
        assert rule.spec.remediation, f"{rule.spec.id} has no remediation"


def test_bundled_cases_pass_with_a_pass_and_a_fail_case_per_rule() -> None:
    report = run_tests()
    assert not report.failed, [f"{r.case.rule}: {r.problem}" for r in report.failed]
    assert not report.uncovered, report.uncovered
    assert len(report.results) >= 2 * sum(MINIMUM_RULES.values())


def _every_rule(policy: Policy) -> list[typing.Any]:
    return [r.spec for r in policy.rules] + [b.spec for b in policy.privacy]


ALL = resolve_policies(["bundled"])
RULES = [(p.id, spec) for p in ALL for spec in _every_rule(p)]


def test_every_bundled_rule_concludes_in_words() -> None:
    assert len(RULES) >= 79   # 75 before the four scan-confirmed de-identification rules
    for policy_id, spec in RULES:
        assert spec.met, f"{policy_id}/{spec.id} has no met sentence"
        assert (spec.not_applicable is not None) == (spec.when is not None), \
            f"{policy_id}/{spec.id}: not_applicable must be given exactly when the rule has a when"


def test_every_bundled_policy_says_when_it_applies_and_what_it_does_not_cover() -> None:
    assert {p.id for p in ALL} == set(MINIMUM_RULES)
    for policy in ALL:
        assert policy.spec.applies_text and policy.spec.applies_text.startswith("Applies: "), policy.id
        assert policy.spec.not_applies_text and policy.spec.not_applies_text.startswith("Does not apply: ")
        assert len(policy.spec.not_covered) >= 3 and all(item.strip() for item in policy.spec.not_covered)
        assert policy.spec.description, policy.id   # kept beside the list
        assert (policy.spec.url or "").startswith("https://"), policy.id


# Where no official page per article exists, the link goes to the official text and the reason is written here:
# the NPC publishes the PIPL as one page without article anchors (its English translation is served over plain
# http only, so the https Chinese text is linked), and the CPPA publishes its regulations (Cal. Code Regs.
# tit. 11, §7000 ff.) on one page.
WHOLE_TEXT = {
    "https://www.npc.gov.cn/npc/c2/c30834/202108/t20210820_313088.html": "PIPL: one NPC page, no article anchors",
    "https://cppa.ca.gov/regulations/": "CPPA regulations: one page, no per-section URL",
}
EUR_LEX = re.compile(r"^https://eur-lex\.europa\.eu/eli/reg/(2016/679|2024/1689)/oj#(art_\d+|rct_\d+|anx_[IVX]+)$")
ECFR = re.compile(r"^https://www\.ecfr\.gov/current/title-45/section-1[6][04]\.\d+$")


def _article_specific(url: str) -> bool:
    parts = urlsplit(url)
    if parts.netloc == "leginfo.legislature.ca.gov":
        query = parse_qs(parts.query)
        return parts.path.endswith("codes_displaySection.xhtml") and query.get("lawCode") == ["CIV"] \
            and bool(query.get("sectionNum"))
    return bool(EUR_LEX.match(url) or ECFR.match(url)) or url in WHOLE_TEXT


def test_every_citation_links_the_article_over_https() -> None:
    for policy_id, spec in RULES:
        url = spec.citation.url
        assert url.startswith("https://"), f"{policy_id}/{spec.id}: {url}"
        assert _article_specific(url), f"{policy_id}/{spec.id} links {url}, not the cited article"


def test_eur_lex_anchors_match_the_article_cited_in_the_rule_id() -> None:
    for policy_id, spec in RULES:
        anchor = urlsplit(spec.citation.url).fragment
        number = re.match(r"^(?:GDPR|EU-AI-ACT)-(\d+)-", spec.id)
        if anchor.startswith("art_") and number:
            assert anchor == f"art_{number.group(1)}", f"{policy_id}/{spec.id} links #{anchor}"


_PLACEHOLDER = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")


def _plan_path_exists(parts: list[str]) -> bool:
    model: typing.Any = TrainingPlan
    for part in parts:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return False
        args = [a for a in typing.get_args(fields[part].annotation) or (fields[part].annotation,)
                if isinstance(a, type) and issubclass(a, BaseModel)]
        model = args[0] if args else None
    return True


def _resolves(path: str) -> bool:
    head, *rest = path.split(".")
    if head == "plan":
        return _plan_path_exists(rest)
    if head == "facts" and rest:
        if rest[0] == "redaction":  # the block of redaction evidence facts (facts.redaction.verified)
            from auditor.facts import RedactionFacts

            return len(rest) == 2 and rest[1] in RedactionFacts.model_fields
        if rest[0] == "categories":
            return len(rest) == 2 and rest[1] in CATEGORIES
        return len(rest) == 1 and (rest[0] in Facts.model_fields or rest[0] in SCAN_FACTS)
    return False


def test_every_placeholder_names_a_plan_field_or_a_fact() -> None:
    """A typo would render as "(not set)" in front of a regulator; facts are counts and plan values, never
    a value read from the dataset, so a placeholder that resolves here cannot leak dataset content."""
    for policy in ALL:
        texts = [policy.spec.applies_text or "", policy.spec.not_applies_text or ""]
        texts += [t or "" for spec in _every_rule(policy)
                  for t in (getattr(spec, "explain", None), spec.met, spec.not_applicable)]
        for text in texts:
            for path in _PLACEHOLDER.findall(text):
                assert _resolves(path), f"{policy.id}: {{{{ {path} }}}} is neither a plan field nor a fact"
