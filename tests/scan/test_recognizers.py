"""Identifier tier: validators, CJK-safe boundaries, and the false positives Presidio is known for."""

from __future__ import annotations

import datetime as dt
import functools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.scan.identifiers import IdentifierTier, hyperscan_pattern, reach, resolve_overlaps
from auditor.scan.recognizers import (
    RULES,
    cn_resident_id_ok,
    credit_card_ok,
    luhn_ok,
    only_digits,
    uk_nhs_ok,
    us_ssn_ok,
)
from auditor.scan.types import Span

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_cn_id(region: str, born: dt.date, seq: int) -> str:
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


@pytest.fixture(scope="module")
def tier() -> IdentifierTier:
    return IdentifierTier()


def entities(tier: IdentifierTier, text: str) -> list[tuple[str, str]]:
    return [(s.entity, text[s.start:s.end]) for s in tier.find(text)]


def test_cn_resident_id_checksum_and_date() -> None:
    assert cn_resident_id_ok("11010519491231002X")
    assert cn_resident_id_ok("11010519491231002x".upper())
    assert not cn_resident_id_ok("110105194912310021")       # wrong check digit
    assert not cn_resident_id_ok("110105194902300027")       # 30 February
    assert not cn_resident_id_ok(make_cn_id("110105", dt.date(1890, 1, 1), 1))  # before 1900
    assert cn_resident_id_ok(make_cn_id("999999", dt.date(1990, 5, 17), 42))    # unknown region still valid


@settings(max_examples=150, deadline=None)
@given(region=st.integers(100000, 999999), born=st.dates(dt.date(1900, 1, 1), dt.date(2024, 12, 31)),
       seq=st.integers(0, 999), before=st.sampled_from(["身份证号", "身份证：", "ID ", "证件号码是", ""]),
       after=st.sampled_from(["。", "，谢谢", " thanks", ""]))
def test_every_valid_cn_id_is_found_in_any_context(tier: IdentifierTier, region: int, born: dt.date, seq: int,
                                                     before: str, after: str) -> None:
    value = make_cn_id(str(region), born, seq)
    assert ("CN_RESIDENT_ID", value) in entities(tier, f"{before}{value}{after}")


def test_identifiers_next_to_chinese_characters(tier: IdentifierTier) -> None:
    found = entities(tier, "我的手机号是13912345678，邮箱是wanda@example.com，银行卡号4539148803436467。")
    assert ("PHONE_NUMBER", "13912345678") in found
    assert ("EMAIL_ADDRESS", "wanda@example.com") in found
    assert ("CREDIT_CARD", "4539148803436467") in found


def test_us_phone_is_not_uk_nhs(tier: IdentifierTier) -> None:
    # About 6% of US numbers pass the NHS mod-11 check by chance; without an NHS cue they are phones only.
    lucky = [f"{n:010d}" for n in range(2_128_493_300, 2_128_493_400) if uk_nhs_ok(f"{n:010d}", "")]
    assert lucky
    for number in lucky:
        formatted = f"({number[:3]}) {number[3:6]}-{number[6:]}"
        assert entities(tier, f"Call me on {formatted} tomorrow.") == [("PHONE_NUMBER", formatted)]


def test_nhs_needs_its_cue(tier: IdentifierTier) -> None:
    number = next(f"{n:010d}" for n in range(4_000_000_000, 4_000_001_000) if uk_nhs_ok(f"{n:010d}", ""))
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    assert ("UK_NHS", spaced) in entities(tier, f"My NHS number is {spaced}.")


def test_ssn_is_not_a_phone(tier: IdentifierTier) -> None:
    assert entities(tier, "SSN 536-22-8745 please") == [("US_SSN", "536-22-8745")]
    assert not us_ssn_ok("000-12-3456", "") and not us_ssn_ok("666-12-3456", "") and not us_ssn_ok("923-45-6789", "")
    assert entities(tier, "order 536228745 shipped") == []          # bare 9 digits need an SSN cue
    assert entities(tier, "my ssn: 536228745") == [("US_SSN", "536228745")]


def test_luhn_and_card_prefixes() -> None:
    assert luhn_ok("4539148803436467") and not luhn_ok("4539148803436468")
    assert credit_card_ok("3714 496353 98431", "")           # Amex 15 digits
    assert not credit_card_ok("9999999999999995", "")        # Luhn-valid, no card issuer prefix
    assert credit_card_ok("501811925202", "") and credit_card_ok("0604 7358 7354", "")   # Maestro, 12 digits
    assert credit_card_ok("579566053669", "")                # Maestro in the 57 range, 12 digits
    assert luhn_ok("623456789014") and not credit_card_ok("623456789014", "")   # 12 digits, no Maestro IIN


def test_a_number_after_plus_is_a_phone_not_a_card(tier: IdentifierTier) -> None:
    assert entities(tier, "call +57 300 123 4562 now") == [("PHONE_NUMBER", "+57 300 123 4562")]
    assert entities(tier, "card 5795 6605 3669 ok") == [("CREDIT_CARD", "5795 6605 3669")]


def test_email_ip_iban_url(tier: IdentifierTier) -> None:
    found = entities(tier, "Mail jo@mail.example.co.uk from 81.2.69.160, IBAN DE89 3704 0044 0532 0130 00, "
                           "see https://example.org/u/42. Version 1.2.3.4 is not an IP.")
    assert ("EMAIL_ADDRESS", "jo@mail.example.co.uk") in found
    assert ("IP_ADDRESS", "81.2.69.160") in found
    assert ("IBAN_CODE", "DE89 3704 0044 0532 0130 00") in found
    assert ("URL", "https://example.org/u/42") in found
    assert ("IP_ADDRESS", "1.2.3.4") not in found
    assert entities(tier, "write to x@y.notarealtld") == []


def test_addresses_and_chinese_names(tier: IdentifierTier) -> None:
    assert ("STREET_ADDRESS", "1600 Amphitheatre Parkway") in entities(tier, "Ship to 1600 Amphitheatre Parkway")
    address = "北京市朝阳区建国路88号3栋1201室"
    assert ("STREET_ADDRESS", address) in entities(tier, f"地址：{address}。")
    assert ("PERSON", "王伟") in entities(tier, "您好，我叫王伟，谢谢")
    assert entities(tier, "我是基督徒") == []


@pytest.mark.parametrize(("text", "address"), [
    ("Lieferung an {} bitte.", "Brudergasse 8-4, 88170 Pfaffenhofen an der Ilm"),
    ("Ship to {} today", "Stolzegasse 8/9, 14428 Bad Kreuznach"),
    ("Ship to {}.", "Berliner Straße 12-14, 10115 Berlin"),
    ("Nouvelle adresse : {}.", "rue de Lacroix, 54724 Weber-sur-Mer"),
    ("au {} merci", "12, avenue Claudine Lacombe, 91473 Saint Rémy-la-Forêt"),
    ("Send to {}.", "PSC 7248, Box 7394, APO AP 66824"),
    ("We shipped to {} last week.", "USS Oak Hill, FPO AE 09547"),
    ("{}", "Unit 7013 Box 1825, DPO AA 60690"),
])
def test_street_addresses_in_their_written_forms(tier: IdentifierTier, text: str, address: str) -> None:
    # German house-number ranges and fractions and towns with their qualifier, French streets without a
    # number (then only with postcode and town), and US military addresses (USPS Publication 28)
    assert entities(tier, text.format(address)) == [("STREET_ADDRESS", address)]


@pytest.mark.parametrize("text", ["Auf Platz 2 der Rangliste.", "Der Ring 3 ist frei.", "Ring 3 times please.",
                                  "Take the place of honour, 12 guests.", "a rue de Rivoli fan", "APO AP 66824"])
def test_street_words_without_an_address_are_not_addresses(tier: IdentifierTier, text: str) -> None:
    assert entities(tier, text) == []


def test_hyperscan_prefilter_agrees_with_plain_regexes() -> None:
    texts = ["Call +1 206 972 1157 or 13912345678", "身份证11010519491231002X", "nothing here", "a@b.example.com",
             "10.0.0.1 and 2001:db8::1", "loopback ::1 at 12:30:45", "Hauptstraße 5, 10115 Berlin",
             "12 rue de Rivoli, 75001 Paris"]
    fast, plain = IdentifierTier(), IdentifierTier(use_hyperscan=False)
    assert fast.find_many(texts) == [plain.find(t) for t in texts]


def test_caseless_rules_match_the_letters_re_equates_with_ascii() -> None:
    # re.IGNORECASE matches İ for i (Hyperscan's Unicode case folding does not): "İmpasse" is an address
    fast, plain = _tiers()
    text = "au 3 İMPASSE Verte"
    assert [s.entity for s in plain.find(text)] == ["STREET_ADDRESS"]
    assert fast.find(text) == plain.find(text)


def test_only_digits_drops_separators_and_anything_else() -> None:
    assert only_digits("+1 (212) 849-3344") == "12128493344"
    assert only_digits("4539 1488/0343.6467") == "4539148803436467"
    assert only_digits("12a3_4") == "1234"  # not a rule separator: the slow path
    assert only_digits("--") == ""


def test_rules_have_unique_names() -> None:
    assert len({r.name for r in RULES}) == len(RULES)


_FRAGMENTS = st.sampled_from([
    "4539 1488 0343 6467", "11010519491231002X", "536-22-8745", "(212) 849-3344", "+44 20 7946 0958",
    "001-535-316-4388",
    "13912345678", "+86 139 1234 5678", "a.b@example.co.uk", "81.2.69.160", "::1", "2001:db8::7", "12:30",
    "DE89 3704 0044 0532 0130 00", "www.example.org/x", "48.8566, 2.3522", "12 Oak Street", "Hauptstraße 5",
    "3 rue de Rivoli", "Via Roma 4", "北京市朝阳区建国路88号", "我叫王伟", "NHS 943 476 5919", "ssn 536228745",
    " ", ", ", "。", "-", ".", ":", "x", "Order", "#123456", "v1.2.3.4", "邮箱", "0", "99", "@",
    # non-ASCII where Hyperscan's ASCII \w, \s, \b and case folding differ from Python's
    "Äußere Straße 5", "ÖSTERREICHER Weg 12", "姓名：\u3000", "王伟", "12 RUE DE L'ÉGLISE", "12 allÉe Verte",
    "é", "\u00a0", "\u3000", "SSN", "Social Security", "社会安全号", "ＮＨＳ", "１２", "١٢٣",
    # letters re.IGNORECASE equates with ASCII ones (Hyperscan folds ASCII only)
    "httpſ://x.org", "ſocial ſecurity", "\u212a", "İ", "ı", "3 İMPASSE Verte", "ß", "ẞ",
    # names after a cue and the newer address forms (rules whose prefilter is only the head of the pattern)
    "Customer ", "call ", "Recipient: ", "Mrs ", "Dana Shaw here, ", "Regards,\n", "Dear ", "Sinéad O'Connor",
    "Kwame Mensah", "Li", " de la ", "客户", "欧阳娜娜", "女士", "反映", "Brudergasse 8-4", ", 88170 ",
    "Pfaffenhofen an der Ilm", "rue de Lacroix", "Weber-sur-Mer", "PSC 7248, Box 7394, APO AP 66824",
])


@functools.cache
def _tiers() -> tuple[IdentifierTier, IdentifierTier]:
    return IdentifierTier(), IdentifierTier(use_hyperscan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, min_size=1, max_size=12))
def test_prefilter_never_hides_a_match(parts: list[str]) -> None:
    fast, plain = _tiers()
    text = "".join(parts)
    assert fast.find(text) == plain.find(text)


_LONG = st.sampled_from([
    "x " * 60, "订单已发货，" * 20, "a" * 64 + "@" + "b" * 50 + ".example.com", "https://example.org/" + "p" * 300,
    "12 Oak Street, Apt 4, Springfield, IL 62704", "Hauptstraße 5, 10115 Berlin",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, _LONG), min_size=8, max_size=40))
def test_prefilter_windows_in_long_texts_never_hide_a_match(parts: list[str]) -> None:
    # texts over WINDOW_MIN_TEXT run each rule only around Hyperscan's match ends: a window must hold any
    # whole match, however long (a 64-character local part and a 50-character domain, a 300-character URL)
    fast, plain = _tiers()
    text = "".join(parts)
    assert fast.find(text) == plain.find(text)


def test_reach_is_the_longest_match_plus_a_consumed_look_ahead() -> None:
    assert reach(r"(?<![0-9])\d{3}-\d{2}-\d{4}(?![0-9])") == 12
    assert reach(r"\+?\d{1,3}") == 5
    assert reach(r"[a-z]+@x") is None  # unbounded: the rule runs from the start of the text
    assert reach(r"\d{500}") is None


def test_a_long_email_in_a_long_text_is_found() -> None:
    fast, plain = _tiers()
    text = "x " * 300 + "write to " + "a" * 64 + "@" + "b" * 50 + ".example.com please"
    assert [s.entity for s in plain.find(text)] == ["EMAIL_ADDRESS"]
    assert fast.find(text) == plain.find(text)


def test_hyperscan_patterns_widen_what_hyperscan_cannot_express() -> None:
    # look-behind and \b dropped, back-reference spelt out, trailing look-ahead consumed, \w/\s/\d widened
    assert hyperscan_pattern(r"(?<![0-9A-Za-z])\bab") == "ab"
    assert hyperscan_pattern(r"x([- .])y\1z") == "x([- .])y(?:[- .])z"
    assert hyperscan_pattern(r"ab(?![0-9A-Za-z])") == "ab(?:[^0-9A-Za-z]|$)"
    assert hyperscan_pattern(r"ab(?![0-9]|\.\d)") == "ab"                     # not a plain class: dropped
    assert hyperscan_pattern(r"a\w\s[\w']") == r"a[\w\x{80}-\x{10FFFF}][\s\x{80}-\x{10FFFF}][\w\x{80}-\x{10FFFF}']"
    assert hyperscan_pattern(r"[^\s<]") == r"[^\s<]"                          # negated: already wider
    assert hyperscan_pattern(r"\d") == r"[0-9\x{ff10}-\x{ff19}]"
    assert hyperscan_pattern(r"[\u4e00-\u9fff]") == r"[\x{4e00}-\x{9fff}]"
    assert hyperscan_pattern("allée [A-ZÉ-]", caseless=True) == r"all[\x{80}-\x{10FFFF}]e [\x{80}-\x{10FFFF}A-ZÉ-]"
    assert hyperscan_pattern("[A-ZÉ]") == "[A-ZÉ]"                             # case-sensitive: exact in UTF-8
    # caseless: uncased letters (CJK) stay literal; i, s and k also take what re.IGNORECASE equates with them
    assert hyperscan_pattern("社会安全号", caseless=True) == "社会安全号"
    assert hyperscan_pattern("https", caseless=True) == r"http[s\x{17f}]"
    assert hyperscan_pattern("[A-Z][0-9]", caseless=True) == r"[\x{130}\x{131}\x{17f}\x{212a}A-Z][0-9]"
    assert hyperscan_pattern("[A-Z]") == "[A-Z]"


def test_every_rule_has_a_hyperscan_pattern_that_matches_at_least_what_python_does() -> None:
    pytest.importorskip("hyperscan")
    import hyperscan

    samples = ["Äußere Straße 5", "12 RUE DE L'ÉGLISE", "姓名：\u3000王伟", "536-22-8745", "81.2.69.160", "a.b@x.co.uk",
               "Customer Kwame Mensah", "Recipient: Sinéad O'Connor", "Dr. Fatima Al Zahra", "客户欧阳娜娜反映",
               "rue de Lacroix, 54724 Weber-sur-Mer", "Brudergasse 8-4, 88170 Pfaffenhofen an der Ilm"]
    for rule in RULES:
        caseless = bool(rule.flags & re.IGNORECASE)
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=[hyperscan_pattern(rule.prefilter or rule.pattern, caseless).encode()],
                   flags=[hyperscan.HS_FLAG_UTF8 | (hyperscan.HS_FLAG_CASELESS if caseless else 0)])
        for text in samples:
            hits: list[int] = []
            db.scan(text.encode(), match_event_handler=lambda *args, hits=hits: hits.append(1))
            assert bool(hits) or not rule.compiled.search(text), (rule.name, text)


def test_a_text_that_is_not_valid_utf8_runs_every_rule() -> None:
    fast, plain = _tiers()
    texts = ["call (212) 849-3344 \ud800 now", "Hauptstraße 5 \udcff", "plain 536-22-8745"]
    assert fast.find_many(texts) == [plain.find(t) for t in texts]
    assert fast.find_many(texts)[0] and fast.find_many(texts)[1]


def test_cues_and_unusual_digits_count_in_every_text_of_a_batch() -> None:
    # The context words and the "other digits" class are per text: a batch with several texts that need
    # them must run the rule in each (a once-per-scan Hyperscan flag would stop at the first).
    fast, plain = _tiers()
    texts = ["filler", "NHS 943 476 5919", "ssn 536228745", "nothing", "NHS 943 476 5919 again",
             "SSN: 536228745", "536228745١ and ssn 536228745", "536228745١"]
    found = fast.find_many(texts)
    assert found == [plain.find(t) for t in texts]
    assert [bool(spans) for spans in found] == [False, True, True, False, True, True, True, True]


def test_identifiers_typed_in_full_width_are_found_at_their_offsets(tier: IdentifierTier) -> None:
    # the rules' ASCII literals (the 1 of a CN mobile, the ( and - of a US number, @) also match full-width
    texts = {"手机：１３８１２３４５６７８。": ("PHONE_NUMBER", "１３８１２３４５６７８"),
             "电话（４１５） ５５５－０１３２": ("PHONE_NUMBER", "（４１５） ５５５－０１３２"),
             "SSN ５３６－２２－８７４５": ("US_SSN", "５３６－２２－８７４５"),
             "邮箱ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ": ("EMAIL_ADDRESS", "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ")}
    fast, plain = _tiers()
    for text, expected in texts.items():
        assert entities(tier, text) == [expected]
        assert fast.find(text) == plain.find(text)


def test_full_width_digits_are_validated_as_digits(tier: IdentifierTier) -> None:
    # Chinese input methods in full-width mode type U+FF10-FF19 (and Ｘ); validators see them as 0-9 and X.
    def wide(text: str) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c == "X" else c for c in text)

    ids = [make_cn_id("110105", dt.date(1985, 6, 1), seq) for seq in range(40)]
    with_x = next(i for i in ids if i.endswith("X"))
    for cn_id in (ids[0], with_x):
        assert ("CN_RESIDENT_ID", wide(cn_id)) in entities(tier, f"身份证号：{wide(cn_id)}。")
    assert entities(tier, f"身份证号：{wide(ids[0][:-1] + str((int(ids[0][-1]) + 1) % 10))}") == []  # bad check
    fast, plain = _tiers()
    text = f"身份证{wide(with_x)} 电话{wide('13912345678')} 卡号{wide('4539148803436467')}"
    assert fast.find(text) == plain.find(text)


def _overlaps_reference(spans: list[Span]) -> list[Span]:
    """The rule spelt out: best first (score, length, start), keep what overlaps nothing kept."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start, s.recognizer)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


_SPANS = st.builds(lambda start, length, score, name: Span("E", start, start + length, score, name),
                   st.integers(0, 60), st.integers(1, 15), st.sampled_from([0.6, 0.75, 0.9, 1.0]),
                   st.sampled_from(["a", "b", "c"]))


@settings(max_examples=400, deadline=None)
@given(st.lists(_SPANS, max_size=25))
def test_resolve_overlaps_keeps_the_best_of_each_overlapping_group(spans: list[Span]) -> None:
    assert resolve_overlaps(spans) == _overlaps_reference(spans)


def test_many_spans_in_one_text_keep_the_best(tier: IdentifierTier) -> None:
    # e-mails and overlapping weaker spans in one long record (a quadratic check made a 7 MB one hang)
    text = "word jane.doe@example.com " * 5000
    spans = tier.find(text)
    assert len(spans) == 5000 and {s.entity for s in spans} == {"EMAIL_ADDRESS"}
    weaker = [Span("URL", s.start + 2, s.end + 3, 0.6, "url") for s in spans]
    assert resolve_overlaps(spans + weaker) == spans
