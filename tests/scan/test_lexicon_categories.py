"""Special-category lexicons and the entity -> legal category mapping."""

from __future__ import annotations

import pytest

from auditor.scan.categories import category_map, record_categories
from auditor.scan.lexicon import CATEGORY_ENTITY, LexiconTier, load_lexicons
from auditor.scan.model import CATEGORIES


@pytest.fixture(scope="module")
def lexicon() -> LexiconTier:
    return LexiconTier()


def hits(lexicon: LexiconTier, text: str) -> list[tuple[str, str]]:
    return [(s.entity, text[s.start:s.end]) for s in lexicon.find(text)]


def test_english_terms_need_word_boundaries(lexicon: LexiconTier) -> None:
    assert ("HEALTH", "Diabetes") in hits(lexicon, "Sorry, my Diabetes got worse.")
    assert hits(lexicon, "Gaylord Street and the Romanian office") == []
    assert ("SEX_LIFE", "gay") in hits(lexicon, "we are a gay couple")


def test_chinese_terms_are_substrings(lexicon: LexiconTier) -> None:
    found = hits(lexicon, "我是基督徒，也是工会会员，最近因为糖尿病住院。")
    assert {e for e, _ in found} >= {"RELIGION", "TRADE_UNION", "HEALTH"}


def test_ages_under_14_are_minors(lexicon: LexiconTier) -> None:
    assert ("MINOR", "12-year-old son") in hits(lexicon, "my 12-year-old son uses the account")
    assert ("MINOR", "女儿今年9岁") in hits(lexicon, "我女儿今年9岁")
    assert hits(lexicon, "my 15-year-old son and my laptop is 3 years old") == []
    assert ("MINOR", "三年级") in hits(lexicon, "孩子上小学三年级")


def test_lexicon_files_cover_known_categories_only() -> None:
    for name, lexicon in load_lexicons().items():
        assert set(lexicon) <= set(CATEGORY_ENTITY), name
        assert all(terms for terms in lexicon.values()), name


def test_category_mapping() -> None:
    assert record_categories(["CN_RESIDENT_ID"]) >= {"personal_data", "government_id", "pipl_sensitive",
                                                     "ccpa_spi", "direct_identifier", "hipaa_identifier"}
    assert "phi" in record_categories(["HEALTH", "PERSON"])
    assert "phi" not in record_categories(["HEALTH"])
    assert record_categories(["RELIGION"]) >= {"religion", "gdpr_special", "pipl_sensitive"}
    assert "pipl_sensitive" in record_categories(["MINOR"])
    mapped = {c for cats in category_map().entities.values() for c in cats}
    assert mapped <= set(CATEGORIES)
