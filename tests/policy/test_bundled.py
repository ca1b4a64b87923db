"""The bundled policies: they load, their cases pass with full coverage, and they cite the law."""

from __future__ import annotations

import re
import typing
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import BaseModel

from auditor.facts import SCAN_FACTS, Facts
from auditor.facts_legal import AREAS, EXPORT_AREAS
from auditor.leakage.facts import LeakageFacts
from auditor.plan import TrainingPlan
from auditor.policy.load import bundled_ids, resolve_policies
from auditor.policy.model import Policy
from auditor.policy.testing import run_tests
from auditor.scan.model import CATEGORIES

MINIMUM_RULES = {"gdpr": 8, "pipl": 8, "ccpa": 5, "hipaa": 5, "eu_ai_act": 5, "uk_gdpr": 8, "us_states": 5,
                 "lgpd": 5, "dpdp": 5, "canada": 5, "korea_pipa": 8, "japan_appi": 8}
#: Project standards rather than laws: no jurisdiction, no privacy blocks, decided after training.
PROJECT = {"dp_audit": 2}


def test_every_bundled_jurisdiction_ships() -> None:
    assert set(bundled_ids()) == set(MINIMUM_RULES) | set(PROJECT)


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
    assert len(report.results) >= 2 * sum((MINIMUM_RULES | PROJECT).values())


def _every_rule(policy: Policy) -> list[typing.Any]:
    return [r.spec for r in policy.rules] + [b.spec for b in policy.privacy]


ALL = resolve_policies(["bundled"])
RULES = [(p.id, spec) for p in ALL for spec in _every_rule(p)]


def test_every_bundled_rule_concludes_in_words() -> None:
    assert len(RULES) >= 79 + 25 + 66   # 79 before legal correctness v2; +25 in the first five; +66 in five new
    for policy_id, spec in RULES:
        assert spec.met, f"{policy_id}/{spec.id} has no met sentence"
        assert (spec.not_applicable is not None) == (spec.when is not None), \
            f"{policy_id}/{spec.id}: not_applicable must be given exactly when the rule has a when"


def test_every_bundled_policy_says_when_it_applies_and_what_it_does_not_cover() -> None:
    assert {p.id for p in ALL} == set(MINIMUM_RULES) | set(PROJECT)
    for policy in ALL:
        assert policy.spec.applies_text and policy.spec.applies_text.startswith("Applies: "), policy.id
        assert policy.spec.not_applies_text and policy.spec.not_applies_text.startswith("Does not apply: ")
        assert len(policy.spec.not_covered) >= (3 if policy.id in MINIMUM_RULES else 2)
        assert all(item.strip() for item in policy.spec.not_covered)
        assert policy.spec.description, policy.id   # kept beside the list
        assert (policy.spec.url or "").startswith("https://"), policy.id


# Where no official page per article exists, the link goes to the official text and the reason is written here:
# the NPC publishes the PIPL as one page without article anchors (its English translation is served over plain
# http only, so the https Chinese text is linked), and the CPPA publishes its regulations (Cal. Code Regs.
# tit. 11, §7000 ff.) on one page; so do the CAC for each of its measures, Oregon for each ORS chapter, Colorado
# for its session law, Illinois for each Act, MeitY for the DPDP Act and Rules (one page for both), the
# Diario Oficial for an ANPD resolution, the National Law Information Center for the English translation of
# Korea's PIPA (a page per Act, none per article), and the PPC for its English translation of Japan's APPI (one
# PDF).
WHOLE_TEXT = {
    "https://www.npc.gov.cn/npc/c2/c30834/202108/t20210820_313088.html": "PIPL: one NPC page, no article anchors",
    "https://cppa.ca.gov/regulations/": "CPPA regulations: one page, no per-section URL",
    "https://www.cac.gov.cn/2023-07/13/c_1690898327029107.htm": "Generative AI Interim Measures: one CAC page",
    "https://www.cac.gov.cn/2023-02/24/c_1678884830036813.htm": "Standard Contract Measures: one CAC page",
    "https://www.oregonlegislature.gov/bills_laws/ors/ors646A.html": "ORS chapter 646A: one page per chapter",
    "https://leg.colorado.gov/sites/default/files/2021a_190_signed.pdf": "Colorado Privacy Act: the signed act",
    "https://www.ilga.gov/legislation/ilcs/ilcs3.asp?ActID=3004&ChapterID=57": "740 ILCS 14: one page per Act",
    "https://www.meity.gov.in/data-protection-framework": "DPDP Act 2023 and Rules 2025: MeitY's publication page",
    "https://www.in.gov.br/en/web/dou/-/resolucao-cd/anpd-n-19-de-23-de-agosto-de-2024-580095396":
        "ANPD Resolution 19/2024: one Diario Oficial page",
    "https://www.law.go.kr/LSW/eng/engLsSc.do?menuId=2&query=PERSONAL%20INFORMATION%20PROTECTION%20ACT":
        "Korea PIPA: the English translation on law.go.kr, no address per article",
    "https://www.ppc.go.jp/files/pdf/APPI_english.pdf": "Japan APPI: the PPC's English translation, one PDF",
}
#: A project standard cites the work it rests on: the paper whose theorem the rule applies, the EDPB opinion.
PROJECT_SOURCES = {
    "https://arxiv.org/abs/2305.08846": "Steinke, Nasr, Jagielski (2023): the one-run ε lower bound",
    "https://www.edpb.europa.eu/our-work-tools/our-documents/opinion-board-art-64/"
    "opinion-282024-certain-data-protection-aspects_en": "EDPB Opinion 28/2024 on AI models",
}
EUR_LEX = re.compile(r"^https://eur-lex\.europa\.eu/eli/reg/(2016/679|2024/1689)/oj#(art_\d+|rct_\d+|anx_[IVX]+)$")
ECFR = re.compile(r"^https://www\.ecfr\.gov/current/title-45/section-1[6][04]\.\d+$")
#: Official sites that give each article or section its own address or anchor.
PER_ARTICLE = [
    re.compile(r"^https://www\.legislation\.gov\.uk/(eur/2016/679/article/\d+[A-Z]?|ukpga/2018/12/(section/\d+[A-Z]?"
               r"|schedule/\d+)|ukpga/2025/18/section/\d+)$"),
    re.compile(r"^https://www\.planalto\.gov\.br/ccivil_03/_ato2015-2018/2018/lei/l13709\.htm#art\d+$"),
    re.compile(r"^https://laws-lois\.justice\.gc\.ca/eng/acts/P-8\.6/section-\d+(\.\d+)?\.html$"),
    re.compile(r"^https://www\.legisquebec\.gouv\.qc\.ca/en/document/cs/P-39\.1#se:\d+(_\d+)?$"),
    re.compile(r"^https://law\.lis\.virginia\.gov/vacode/title59\.1/chapter53/section59\.1-\d+/$"),
    re.compile(r"^https://www\.cga\.ct\.gov/current/pub/chap_743jj\.htm#sec_42-\d+$"),
    re.compile(r"^https://statutes\.capitol\.texas\.gov/Docs/BC/htm/BC\.541\.htm#541\.\d+$"),
    re.compile(r"^https://app\.leg\.wa\.gov/RCW/default\.aspx\?cite=19\.373\.\d+$"),
]


def _article_specific(url: str) -> bool:
    parts = urlsplit(url)
    if parts.netloc == "leginfo.legislature.ca.gov":
        query = parse_qs(parts.query)
        return parts.path.endswith("codes_displaySection.xhtml") and query.get("lawCode") == ["CIV"] \
            and bool(query.get("sectionNum"))
    return bool(EUR_LEX.match(url) or ECFR.match(url) or any(p.match(url) for p in PER_ARTICLE)) \
        or url in WHOLE_TEXT or url in PROJECT_SOURCES


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
        if rest[0] == "leakage":
            return len(rest) == 2 and rest[1] in LeakageFacts.model_fields
        if rest[0] == "people_in":
            return len(rest) == 2 and rest[1] in AREAS
        if rest[0] in ("exports", "export_labels"):
            return len(rest) == 2 and rest[1] in EXPORT_AREAS
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


def test_the_readme_rule_index_lists_every_bundled_rule_and_policy() -> None:
    path = resolve_policies(["gdpr"])[0].source.parent / "README.md"
    readme = path.read_text(encoding="utf-8")
    index = readme[readme.index("## Rule index"):]
    missing = [spec.id for _, spec in RULES if f"`{spec.id}`" not in index]
    assert not missing, f"{path}: the rule index lacks {missing}"
    for policy in ALL:
        assert f"### {policy.id} — " in index and f"| `{policy.id}` |" in readme, policy.id
