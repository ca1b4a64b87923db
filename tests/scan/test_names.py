"""Person names found by the wording around them (auditor/scan/names.py): the names in context, and the
ordinary words in a name's slot that must stay unflagged. The values are made up here, not taken from any
generator's list."""

from __future__ import annotations

import functools

import pytest

from auditor.scan.engine import Detector
from auditor.scan.identifiers import IdentifierTier
from auditor.scan.names import CN_COMMON_WORDS, CN_COMPOUND_SURNAMES, CN_SURNAMES, cn_name_ok


@functools.cache
def tiers() -> tuple[IdentifierTier, IdentifierTier]:
    return IdentifierTier(), IdentifierTier(use_hyperscan=False)


def persons(text: str) -> list[str]:
    """The PERSON values the identifier tier finds, after checking Hyperscan and plain ``re`` agree."""
    fast, plain = tiers()
    found = fast.find(text)
    assert found == plain.find(text)
    return [text[s.start:s.end] for s in found if s.entity == "PERSON"]


@pytest.mark.parametrize(("text", "name"), [
    ("联系人：欧阳明。", "欧阳明"),                        # a compound surname: the planted row the scan missed
    ("本人司马春燕，身份证丢失，申请补办。", "司马春燕"),
    ("客户诸葛亮反映发票抬头有误。", "诸葛亮"),
    ("请将款项退回，持卡人上官婉。", "上官婉"),
    ("收件人：聂晓，电话请看附件", "聂晓"),                    # a surname outside the 100 most common
    ("用户涂海波的订单一直未发货。", "涂海波"),
    ("收货人龚丽，地址不变。", "龚丽"),
    ("您好，我叫鞠文静，想问一下退款进度。", "鞠文静"),
    ("我是李想，昨天下的单。", "李想"),                      # 想 is a verb, and a given name
    ("本人张和平，申请注销账户。", "张和平"),
    ("客户王伟电话打不通。", "王伟"),                         # ended by a contact field, not punctuation
    ("请联系陈静确认地址。", "陈静"),
    ("尊敬的刘洋先生：", "刘洋"),
    ("客户王先生反映无法登录。", "王"),                       # a bare surname before an honorific
    ("王女士您好，订单已发货。", "王"),
    ("转告欧阳娜娜，发票已寄出。", "欧阳娜娜"),
])
def test_chinese_names_after_an_anchor(text: str, name: str) -> None:
    assert persons(text) == [name]


@pytest.mark.parametrize("text", [
    "客户经理说明天回电。", "用户权限不足，无法登录。", "本人申请，请尽快处理。", "我是江苏的，快递到不了。",
    "我是华为手机用户。", "客户满意度调查", "用户管理后台打不开", "本人同意以上条款。", "我是第一次买。",
    "客户端闪退了", "用户名已被占用。", "本人已收到退款。", "收件人地址有误", "联系人电话打不通", "持卡人须知",
    "用户于昨天提交了工单。", "我是广东人。", "我是顾客，", "用户付款的时候出错了。", "联系方式变了。",
    "联系商家，没人回。", "感谢支持！", "谢谢合作。", "各位女士先生", "这位先生说。", "客户家属来电。",
    "用户余额不足。", "会员等级是黄金。", "我是安装师傅，", "用户车辆信息", "我是学生，", "乘客须知：",
    "订单已发货，请注意查收。", "导出报表时提示错误代码。",
])
def test_chinese_words_in_a_name_slot_are_not_names(text: str) -> None:
    assert persons(text) == []


def test_the_surname_lists_are_what_their_comments_say() -> None:
    assert len(CN_SURNAMES) == len(set(CN_SURNAMES)) > 400
    assert all(len(s) == 2 for s in CN_COMPOUND_SURNAMES) and {"欧阳", "司马", "诸葛", "上官"} <= set(
        CN_COMPOUND_SURNAMES)
    assert set("王李张刘陈肖付闫覃") <= set(CN_SURNAMES)       # the ranking's top names, modern forms included
    assert not set("和有那从都后") & set(CN_SURNAMES)           # particles left out
    assert not cn_name_ok("经理", "") and not cn_name_ok("江苏", "") and cn_name_ok("王伟", "")
    assert all(len(word) >= 2 for word in CN_COMMON_WORDS)


@pytest.mark.parametrize(("text", "name"), [
    ("Customer Kwame Mensah (k.m@example.org) says the invoice is wrong.", "Kwame Mensah"),
    ("Recipient: Sinéad O'Connor.", "Sinéad O'Connor"),
    ("Attn: Li Wei", "Li Wei"),
    ("Cardholder name: Maria José da Silva", "Maria José da Silva"),
    ("My name is Anna.", "Anna"),
    ("Her name is Henrike Vogelsang-Brandt, not Vogel.", "Henrike Vogelsang-Brandt"),
    ("Refund the card, the cardholder is Tomasz Wiśniewski.", "Tomasz Wiśniewski"),
    ("Account holder Aurélie de la Fontaine asks to close the account.", "Aurélie de la Fontaine"),
    ("Please ring Mrs Okafor tomorrow.", "Mrs Okafor"),
    ("Could you ask Giulia De Luca to call back?", "Giulia De Luca"),
    ("Please call back Hamish McAllister about the order.", "Hamish McAllister"),
    ("The booking for Jean-Luc Picard was cancelled.", "Jean-Luc Picard"),
    ("Please update the phone number of Olusegun Adeyemi today.", "Olusegun Adeyemi"),
    ("Hi, this is Priya Raman from the Leeds office.", "Priya Raman"),
    ("Dana Shaw here, the parcel never came.", "Dana Shaw"),
    ("Dr. Fatima Al Zahra called twice.", "Dr. Fatima Al Zahra"),
    ("Forwarded by Prof. Dr. Ilse Brenner-Kuhn, MBA.", "Prof. Dr. Ilse Brenner-Kuhn, MBA."),
    ("Dear Ms Ito,\nyour card is on its way.", "Ms Ito"),
    ("Hi Dana!", "Dana"),
    ("Thanks for your help.\n\nKind regards,\nTomasz Kowalski\n", "Tomasz Kowalski"),
])
def test_latin_names_after_a_cue(text: str, name: str) -> None:
    assert persons(text) == [name]


@pytest.mark.parametrize("text", [
    "Please contact Customer Service about order 12345.", "Call Support Team on Monday.",
    "I am Very Upset about this.", "This is Microsoft Teams crashing again.", "Customer Success Manager will reply.",
    "From: Billing Department", "To: Support", "Thanks,\nThe Team", "Regards,\nSales", "File name: Q3 Report",
    "Product name: Super Widget", "The user name is admin.", "Please call back Tomorrow Morning.",
    "The password for Windows Server expired.", "Contact Apple Support for help.", "I'm Happy with the product.",
    "Email Marketing Campaigns are paused.", "Booking for Two Adults confirmed.", "Dear Customer,",
    "Dear Sir or Madam,", "Hi there,", "Hi All,", "Hello Support,", "Dear Valued Member,",
    "The export to CSV fails with error code 1234.", "Delivery was scheduled for Monday but nothing arrived.",
])
def test_capitalised_words_in_a_name_slot_are_not_names(text: str) -> None:
    assert persons(text) == []


def test_a_name_found_by_pattern_replaces_what_the_model_made_of_it() -> None:
    # the small English model tags such names ORG or LOCATION, or nothing; the cue decides
    detector = Detector()
    text = "Could someone call Henrike Vogelsang back at 212-849-3344? Recipient: Frau Corinna Henck."
    spans = detector.detect([text])[0].spans
    named = [(s.entity, text[s.start:s.end]) for s in spans if s.entity in ("PERSON", "LOCATION")]
    assert named == [("PERSON", "Henrike Vogelsang"), ("PERSON", "Frau Corinna Henck")]


def test_long_texts_agree_with_the_whole_text_run() -> None:
    # a rule's own prefilter is the head of its pattern: its reach bounds the windows in long texts
    parts = ["Customer Kwame Mensah wrote again.", "客户欧阳娜娜反映", "Recipient: Sinéad O'Connor.",
             "Dana Shaw here, hi.", "Please ring Mrs Okafor.", "x " * 40, "订单已发货，" * 10]
    fast, plain = tiers()
    for i in range(len(parts)):
        text = (" ".join(parts[i:] + parts[:i]) + " ") * 6
        assert len(text) > 512
        assert fast.find(text) == plain.find(text)
        assert len([s for s in fast.find(text) if s.entity == "PERSON"]) == 5 * 6
