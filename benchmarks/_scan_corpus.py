"""A labelled synthetic corpus for the scan benchmarks: support tickets in English and Chinese.

Values come from Faker in several locales (en_US, en_GB, de_DE, fr_FR, zh_CN); the sentence templates here
are deliberately different from the ones in ``examples/make_dataset.py`` (which the recognizers were
developed against), so accuracy is measured on wording the detectors have not seen. About half the records
hold no personal data at all: they measure false positives. Free-text slots (order numbers, amounts,
versions, error codes) vary so that texts rarely repeat and de-duplication cannot flatter the speed numbers.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faker import Faker

EN_PII = (
    "Customer {PERSON} ({EMAIL_ADDRESS}) reports that the invoice total for order {ORDER} is wrong.",
    "Please update the contact number for {PERSON} to {PHONE_NUMBER} before the next renewal.",
    "Refund the {AMOUNT} dollars to card {CREDIT_CARD}, the cardholder is {PERSON}.",
    "The tax form lists SSN {US_SSN}; the name should read {PERSON}.",
    "Login attempts from {IP_ADDRESS} were blocked for the account {EMAIL_ADDRESS}.",
    "New delivery address: {ADDRESS}. Recipient: {PERSON}.",
    "{PERSON} here, my phone {PHONE_NUMBER} stopped receiving the verification codes.",
    "Could someone call {PERSON} back at {PHONE_NUMBER} about order {ORDER}?",
    "We shipped order {ORDER} to {ADDRESS} but the courier says the recipient is unknown.",
    "The customer wrote from {EMAIL_ADDRESS} asking why {AMOUNT} dollars were charged.",
    "Chargeback on card {CREDIT_CARD} from {IP_ADDRESS}, flagged for review.",
    "Account holder {PERSON}, SSN {US_SSN}, asks to close the account.",
)
ZH_PII = (
    "客户{PERSON}反映发票金额有误，联系电话{PHONE_NUMBER}。",
    "请将退款退回银行卡{CREDIT_CARD}，持卡人{PERSON}。",
    "实名认证失败，身份证号{CN_RESIDENT_ID}，请核实。",
    "新的收货地址是{ADDRESS}，收件人{PERSON}，电话{PHONE_NUMBER}。",
    "账号{EMAIL_ADDRESS}在{IP_ADDRESS}异地登录，请帮忙冻结。",
    "本人{PERSON}，身份证{CN_RESIDENT_ID}，手机{PHONE_NUMBER}，申请注销账户。",
    "订单{ORDER}的发票请寄到{ADDRESS}。",
    "用户{PERSON}的邮箱{EMAIL_ADDRESS}收不到验证码。",
)
EN_CLEAN = (
    "The export to CSV fails with error code {N} after {D} seconds.",
    "Order {ORDER} was charged {AMOUNT} dollars twice, please refund one of the payments.",
    "The mobile app shows a blank screen on version {VER} after the update.",
    "My package with {D} items has been stuck in transit for {D} days.",
    "I would like to upgrade to the annual plan and pay by bank transfer for order {ORDER}.",
    "The password reset link expired before I could use it, please send another one.",
    "Is there a discount when ordering {D} licenses at once?",
    "Delivery was scheduled for Monday but nothing arrived, tracking code {ORDER}.",
    "Sync between the desktop client {VER} and the web app loses edits made offline.",
    "The receipt for order {ORDER} shows the wrong currency, it should be {AMOUNT} euros.",
)
ZH_CLEAN = (
    "订单{ORDER}重复扣款{AMOUNT}元，请退回一笔。",
    "导出报表时提示错误代码{N}。",
    "包裹在运输途中已经{D}天没有更新了。",
    "升级到{VER}版本后应用一直闪退。",
    "我想把月付改成年付，可以吗？订单号{ORDER}。",
    "网页版和客户端{VER}的数据不同步。",
)
NAME_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR")
GOLD = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IP_ADDRESS", "CN_RESIDENT_ID",
        "ADDRESS")


@dataclass
class Labelled:
    text: str
    lang: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "lang": self.lang, "spans": self.spans}


class _Values:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in (*NAME_LOCALES, "zh_CN")}
        for i, fake in enumerate(self.fakers.values()):
            fake.seed_instance(seed + i)

    def value(self, slot: str, lang: str) -> str:
        rng = self.rng
        zh = self.fakers["zh_CN"]
        fake = zh if lang == "zh" else self.fakers[rng.choice(NAME_LOCALES)]
        us = self.fakers["en_US"]
        if slot == "PERSON":
            return str(fake.name())
        if slot == "EMAIL_ADDRESS":
            return str(fake.email())
        if slot == "PHONE_NUMBER":
            if lang == "zh":
                return str(zh.phone_number())
            return re.sub(r"x\d+$", "", str(us.phone_number()))
        if slot == "CREDIT_CARD":
            return str(us.credit_card_number())
        if slot == "US_SSN":
            return str(us.ssn())
        if slot == "IP_ADDRESS":
            return str(us.ipv4_public())
        if slot == "CN_RESIDENT_ID":
            return str(zh.ssn())
        if slot == "ADDRESS":
            if lang == "zh":
                return f"{zh.province()}{zh.city()}{zh.district()}区{zh.street_name()}{rng.randint(1, 300)}号"
            loc = rng.choice(("en_US", "de_DE", "fr_FR"))
            return str(self.fakers[loc].address()).replace("\n", ", ")
        if slot == "ORDER":
            return rng.choice(("A-", "#", "SO", "")) + str(rng.randint(10000, 9999999))
        if slot == "AMOUNT":
            return f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}"
        if slot == "VER":
            return f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        if slot == "N":
            return str(rng.randint(100, 9999))
        if slot == "D":
            return str(rng.randint(2, 30))
        raise KeyError(slot)


def _fill(template: str, lang: str, values: _Values) -> Labelled:
    out = Labelled(text="", lang=lang)
    parts: list[str] = []
    position = 0
    for match in re.finditer(r"\{(\w+)\}", template):
        literal = template[position:match.start()]
        parts.append(literal)
        start = sum(len(p) for p in parts)
        value = values.value(match.group(1), lang)
        parts.append(value)
        if match.group(1) in GOLD:
            out.spans.append((match.group(1), start, start + len(value)))
        position = match.end()
    parts.append(template[position:])
    out.text = "".join(parts)
    return out


def make_corpus(n: int, seed: int = 7, pii_share: float = 0.5, zh_share: float = 0.3) -> list[Labelled]:
    values = _Values(seed)
    rng = random.Random(seed + 1000)
    out: list[Labelled] = []
    for _ in range(n):
        lang = "zh" if rng.random() < zh_share else "en"
        pii = rng.random() < pii_share
        pool = (ZH_PII if pii else ZH_CLEAN) if lang == "zh" else (EN_PII if pii else EN_CLEAN)
        out.append(_fill(rng.choice(pool), lang, values))
    return out


def write_corpus(corpus: list[Labelled], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i, item in enumerate(corpus):
            handle.write(json.dumps({"id": i, "text": item.text, "lang": item.lang}, ensure_ascii=False) + "\n")
    return path
