"""Known values planted in small test datasets, so tests can grep every output for them."""

from __future__ import annotations

import json
from pathlib import Path

# Synthetic values; each passes the validator for its type.
CN_ID = "11010519491231002X"          # the GB 11643 example, check digit X
CN_ID_2 = "310115198506120034"
CARD = "4539 1488 0343 6467"          # Visa test-style number, Luhn-valid
SSN = "536-22-8745"
EMAIL = "wanda.quist77@example.com"
US_PHONE = "(415) 372-9061"
CN_MOBILE = "13912345678"
IP = "203.118.42.17"
NAME = "Margaret Thatcherly"
ZH_NAME = "欧阳明"
PLANTED = (CN_ID, CN_ID_2, CARD, SSN, EMAIL, US_PHONE, CN_MOBILE, IP, NAME, ZH_NAME,
           CARD.replace(" ", ""), "wanda.quist77", "3729061", "12345678")

ROWS: list[dict[str, object]] = [
    {"id": 1, "user": "u1", "text": f"Hello, my name is {NAME} and my email is {EMAIL}. Call me on {US_PHONE}."},
    {"id": 2, "user": "u2", "text": f"我的身份证号是{CN_ID}，手机号{CN_MOBILE}，谢谢。"},
    {"id": 3, "user": "u1", "text": f"I paid with card {CARD} from IP {IP}, my SSN is {SSN}."},
    {"id": 4, "user": "u3", "text": "The parcel arrived late and the box was damaged."},
    {"id": 5, "user": "u4", "text": f"联系人：{ZH_NAME}。我因为糖尿病住院了。身份证{CN_ID_2}"},
    {"id": 6, "user": "u5", "text": "I was in hospital for my diabetes treatment, so the payment is late."},
    {"id": 7, "user": "u6", "text": "The app crashes when I open the settings page."},
    {"id": 8, "user": "u2", "text": "我的包裹还没到，物流单号一周都没有更新。"},
]


def write_jsonl(path: Path, rows: list[dict[str, object]] | None = None) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in (rows or ROWS)), encoding="utf-8")
    return path
