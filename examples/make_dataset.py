"""Generate ``examples/data/tickets.jsonl``: synthetic multilingual support tickets with planted PII.

Why a hand-rolled generator instead of Faker: the committed file must be byte-identical on every machine and
every Faker release, so all vocabulary lives here and one ``random.Random`` with a fixed seed drives it.
Every value is synthetic (no real person); identifiers are shaped to pass the checks real detectors apply
(Luhn card numbers, ISO 7064 MOD 11-2 CN resident IDs, plausible phone numbers) so the scan finds them.

Labels (0 billing, 1 technical, 2 account, 3 shipping) come with class-specific vocabulary in both
languages so that a small differentially private fine-tune learns them well above chance.

Usage: ``python examples/make_dataset.py [--out PATH] [--records 3000] [--seed 20260523]``
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

LABELS = ("billing", "technical", "account", "shipping")

EN_FIRST = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Lukas",
    "Sophie",
    "Maximilian",
    "Marie",
    "Pierre",
    "Camille",
    "Giulia",
    "Matteo",
    "Lucia",
    "Pablo",
    "Elena",
    "Jan",
    "Anna",
    "Piotr",
    "Katarzyna",
    "Sven",
    "Ingrid",
    "Daniel",
    "Emma",
    "Oliver",
)
EN_LAST = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Thompson",
    "White",
    "Harris",
    "Mueller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Dubois",
    "Lefevre",
    "Rossi",
    "Bianchi",
    "Fernandez",
    "Kowalski",
    "Nowak",
    "Andersson",
    "Johansson",
    "Novak",
    "Jansen",
    "de Vries",
    "Murphy",
    "O'Brien",
)
ZH_SURNAME = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "林",
    "罗",
    "高",
)
ZH_GIVEN = (
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "晓东",
    "文静",
    "志强",
    "海燕",
)
EN_DOMAINS = ("example.com", "mail.example.org", "inbox.example.net", "post.example.de", "corp.example.fr")
ZH_DOMAINS = ("example.cn", "mail.example.com.cn", "example.net")
US_AREA = ("212", "415", "312", "617", "206", "303", "512", "646", "702", "213", "310", "408")
US_STATES = (
    ("San Francisco", "CA", "941"),
    ("Los Angeles", "CA", "900"),
    ("San Diego", "CA", "921"),
    ("Sacramento", "CA", "958"),
    ("Seattle", "WA", "981"),
    ("Austin", "TX", "787"),
    ("Boston", "MA", "021"),
    ("Chicago", "IL", "606"),
)
STREETS = ("Oak", "Maple", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset", "Mission")
STREET_KIND = ("Street", "Avenue", "Road", "Boulevard", "Lane", "Drive")
EU_ADDR = (
    "Hauptstraße {n}, 10115 Berlin",
    "{n} rue de Rivoli, 75001 Paris",
    "Via Roma {n}, 00184 Roma",
    "Calle Mayor {n}, 28013 Madrid",
    "Kerkstraat {n}, 1017 GC Amsterdam",
)
CN_CITY = (
    ("北京市", "朝阳区", "建国路"),
    ("上海市", "浦东新区", "世纪大道"),
    ("广州市", "天河区", "天河路"),
    ("深圳市", "南山区", "科技园路"),
    ("杭州市", "西湖区", "文三路"),
    ("成都市", "武侯区", "人民南路"),
)
# Region codes of real prefectures; the check digit and birth date are what make the IDs valid.
CN_REGION = ("110105", "310115", "440106", "440305", "330106", "510107", "320102", "420106")
CN_MOBILE_PREFIX = ("133", "135", "136", "138", "139", "150", "152", "158", "177", "180", "186", "189", "199")

EN_CLASS = {
    0: (
        "I was charged twice on my last invoice and need a refund for the duplicate payment.",
        "My monthly bill shows a fee I never agreed to, please correct the invoice.",
        "The subscription price went up without notice and my credit card was billed the higher amount.",
        "Can you send me a receipt for the payment I made last week? Accounting needs the invoice.",
        "I cancelled the plan but you still billed me, I want the charge refunded.",
        "The discount code was not applied at checkout and I paid the full price.",
        "Please explain the late payment fee on this billing statement.",
        "I need to update the billing address on my invoices and get a VAT receipt.",
    ),
    1: (
        "The app crashes every time I open the settings page after the latest update.",
        "I get an error 500 when I try to upload files, the server seems down.",
        "The software keeps freezing and the sync with my laptop fails with a timeout.",
        "After installing the new version the login screen shows a blank page and a bug report.",
        "The API returns a connection error and the integration stopped working.",
        "My device will not connect to wifi since the firmware update, please help debug.",
        "The website is extremely slow and the dashboard never finishes loading.",
        "Notifications stopped working on Android and the app logs show an exception.",
    ),
    2: (
        "I cannot log in to my account and the password reset email never arrives.",
        "Please change the username on my profile and enable two-factor authentication.",
        "My account was locked after too many attempts, how do I verify my identity?",
        "I want to close my account and delete my profile data.",
        "Someone changed my account password, please secure the account and reset access.",
        "How do I merge two accounts and keep my profile settings?",
        "I need to update the email on my account profile, the old address is no longer used.",
        "The account verification code is not accepted when I sign in.",
    ),
    3: (
        "My package has not arrived and the tracking number shows no update for a week.",
        "The parcel was delivered to the wrong address, the courier left it next door.",
        "Can you change the delivery date? I will not be home for the shipment.",
        "The order arrived damaged and the box was crushed during shipping.",
        "I was told express shipping but the delivery is already three days late.",
        "The tracking page says delivered but I never received the package.",
        "Please ship the replacement item to my new address and send the tracking link.",
        "Customs is holding my shipment, what documents does the courier need?",
    ),
}
ZH_CLASS = {
    0: (
        "我的账单被重复扣费了，请退还多收的款项。",
        "这个月的发票金额不对，多收了一笔服务费。",
        "订阅价格上涨了但没有通知我，信用卡被多扣款了。",
        "请给我开一张上周付款的发票和收据。",
        "我已经取消套餐但还在扣费，要求退款。",
        "优惠券没有生效，结账时按原价付款了。",
        "账单上有一笔滞纳金，请解释一下。",
        "我需要修改发票抬头并开具增值税专用发票。",
    ),
    1: (
        "更新之后应用一打开设置页面就闪退。",
        "上传文件时总是提示服务器错误500。",
        "软件经常卡死，和电脑同步时连接超时。",
        "安装新版本后登录界面一片空白，出现程序错误。",
        "接口返回连接错误，系统集成无法使用了。",
        "固件升级后设备连不上无线网络，请帮忙排查故障。",
        "网站非常慢，控制台页面一直加载不出来。",
        "安卓手机收不到推送通知，日志里有异常报错。",
    ),
    2: (
        "我登录不了账号，重置密码的邮件一直收不到。",
        "请帮我修改账户用户名并开启双重验证。",
        "多次输错密码后账号被锁定了，怎么验证身份解锁？",
        "我想注销账号并删除个人资料。",
        "有人修改了我的账号密码，请帮我冻结账户并找回。",
        "怎么合并两个账号并保留原来的设置？",
        "我需要更换账户绑定的邮箱，旧邮箱已经不用了。",
        "登录时输入验证码总是提示无效。",
    ),
    3: (
        "我的包裹还没到，物流单号一周都没有更新。",
        "快递送错地址了，快递员放在了邻居家。",
        "能改一下配送时间吗？那天我不在家收货。",
        "收到的商品损坏了，运输过程中箱子被压坏。",
        "说好的加急快递，结果已经延迟三天还没送到。",
        "物流显示已签收，但我根本没收到包裹。",
        "请把换货商品寄到我的新地址并发给我物流单号。",
        "包裹被海关扣留了，快递公司需要什么材料？",
    ),
}
EN_OPEN = ("Hello,", "Hi team,", "Dear support,", "Good morning,", "Hi,", "")
EN_CLOSE = ("Thanks.", "Thank you for your help.", "Regards.", "Please advise.", "")
ZH_OPEN = ("您好，", "你好，", "客服你好，", "")
ZH_CLOSE = ("谢谢。", "麻烦尽快处理。", "感谢！", "")

# Special categories: (category, English sentence, Chinese sentence). Health and religion are most frequent.
SPECIAL = (
    (
        "health",
        "I was in hospital for my diabetes treatment, so I missed this.",
        "我因为糖尿病住院治疗，所以没能及时处理。",
    ),
    (
        "health",
        "I am undergoing chemotherapy and my doctor says I should rest.",
        "我正在做化疗，医生让我多休息。",
    ),
    (
        "health",
        "My depression medication makes it hard to deal with this.",
        "我在服用抗抑郁药，精神状态不好。",
    ),
    ("religion", "I was at the mosque for Ramadan prayers all week.", "我是基督徒，周日要去教堂做礼拜。"),
    (
        "religion",
        "As a practising Catholic I was away on a church retreat.",
        "我信仰佛教，这周在寺庙参加法会。",
    ),
    (
        "trade_union",
        "As a trade union member I was at our union meeting.",
        "我是工会会员，那天在开工会会议。",
    ),
    (
        "political_opinion",
        "I volunteer for the Green Party campaign on weekends.",
        "我是共产党员，那天参加党支部活动。",
    ),
    (
        "sex_life",
        "My husband and I are a gay couple and the account is shared.",
        "我是同性恋，和伴侣共用这个账户。",
    ),
    (
        "ethnic_origin",
        "Being of Romani ethnic origin, I feel this was handled unfairly.",
        "我是维吾尔族，希望不要因为民族受到区别对待。",
    ),
)


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def cn_resident_id(rng: random.Random) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    birth = f"{rng.randint(1955, 2002)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = rng.choice(CN_REGION) + birth + f"{rng.randrange(1000):03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def us_phone(rng: random.Random) -> str:
    area, exch, line = rng.choice(US_AREA), rng.randint(201, 989), rng.randint(1000, 9999)
    if exch == 555:
        exch = 556
    return rng.choice((f"({area}) {exch}-{line}", f"{area}-{exch}-{line}", f"+1 {area} {exch} {line}"))


def cn_mobile(rng: random.Random) -> str:
    number = rng.choice(CN_MOBILE_PREFIX) + f"{rng.randrange(10**8):08d}"
    return rng.choice((number, f"+86 {number}", f"{number[:3]}-{number[3:7]}-{number[7:]}"))


def ssn(rng: random.Random) -> str:
    return f"{rng.randint(101, 665)}-{rng.randint(10, 99)}-{rng.randint(1001, 9999)}"


def card(rng: random.Random) -> str:
    kind = rng.randrange(3)
    number = (
        luhn_complete("4", 16, rng)
        if kind == 0
        else luhn_complete(str(rng.randint(51, 55)), 16, rng)
        if kind == 1
        else luhn_complete(rng.choice(("34", "37")), 15, rng)
    )
    if len(number) == 16 and rng.random() < 0.5:
        number = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def ip(rng: random.Random) -> str:
    return (
        f"{rng.choice((23, 45, 62, 81, 93, 104, 151, 172, 185, 203))}."
        f"{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"
    )


def en_address(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(EU_ADDR).format(n=rng.randint(1, 120))
    city, state, zip3 = rng.choice(US_STATES)
    return (
        f"{rng.randint(10, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_KIND)}, {city}, {state} "
        f"{zip3}{rng.randint(10, 99)}"
    )


def zh_address(rng: random.Random) -> str:
    city, district, road = rng.choice(CN_CITY)
    return f"{city}{district}{road}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2805)}室"


def make_customer(index: int, rng: random.Random) -> dict[str, str]:
    lang = "zh" if rng.random() < 0.3 else "en"
    if lang == "zh":
        surname, given = rng.choice(ZH_SURNAME), rng.choice(ZH_GIVEN)
        name = surname + given
        latin = f"user{rng.randrange(10**6):06d}"
        email = f"{latin}@{rng.choice(ZH_DOMAINS)}"
        phone = cn_mobile(rng)
    else:
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        name = f"{first} {last}"
        email = (
            f"{first.lower()}.{last.lower().replace(' ', '').replace(chr(39), '')}{rng.randint(1, 99)}@"
            f"{rng.choice(EN_DOMAINS)}"
        )
        phone = us_phone(rng)
    return {"id": f"C{index:05d}", "lang": lang, "name": name, "email": email, "phone": phone}


def en_pii(customer: dict[str, str], rng: random.Random) -> list[str]:
    parts: list[str] = []
    if rng.random() < 0.35:
        parts.append(
            rng.choice(("My name is {}.", "This is {} writing.", "Regards, {}")).format(customer["name"])
        )
    if rng.random() < 0.25:
        parts.append(f"You can reach me at {customer['email']}.")
    if rng.random() < 0.2:
        parts.append(f"Please call me back on {customer['phone']}.")
    if rng.random() < 0.06:
        parts.append(f"I paid with the card {card(rng)}.")
    if rng.random() < 0.05:
        parts.append(f"The request came from IP address {ip(rng)}.")
    if rng.random() < 0.08:
        parts.append(f"My address is {en_address(rng)}.")
    if rng.random() < 0.012:
        parts.append(f"For verification my SSN is {ssn(rng)}.")
    return parts


def zh_pii(customer: dict[str, str], rng: random.Random) -> list[str]:
    parts: list[str] = []
    if rng.random() < 0.35:
        parts.append(rng.choice(("我是{}。", "我叫{}。", "联系人：{}。")).format(customer["name"]))
    if rng.random() < 0.25:
        parts.append(f"我的手机号是{customer['phone']}。")
    if rng.random() < 0.15:
        parts.append(f"邮箱：{customer['email']}。")
    if rng.random() < 0.12:
        parts.append(f"我的身份证号是{cn_resident_id(rng)}。")
    if rng.random() < 0.06:
        parts.append(f"银行卡号{card(rng)}。")
    if rng.random() < 0.08:
        parts.append(f"收货地址：{zh_address(rng)}。")
    if rng.random() < 0.04:
        parts.append(f"登录IP是{ip(rng)}。")
    return parts


def make_ticket(number: int, customer: dict[str, str], rng: random.Random) -> dict[str, object]:
    label = rng.randrange(4)
    zh = customer["lang"] == "zh"
    body = list(rng.sample((ZH_CLASS if zh else EN_CLASS)[label], k=rng.choice((1, 1, 2))))
    pii = zh_pii(customer, rng) if zh else en_pii(customer, rng)
    special = [s[2] if zh else s[1] for s in (rng.choice(SPECIAL),) if rng.random() < 0.05]
    extra = special + pii
    rng.shuffle(extra)
    middle = body[:1] + extra + body[1:]
    sep = "" if zh else " "
    text = sep.join(
        p
        for p in (rng.choice(ZH_OPEN if zh else EN_OPEN), *middle, rng.choice(ZH_CLOSE if zh else EN_CLOSE))
        if p
    )
    return {
        "id": f"T{number:06d}",
        "customer_id": customer["id"],
        "text": text,
        "label": label,
        "lang": customer["lang"],
    }


def generate(records: int = 3000, customers: int = 2400, seed: int = 20260523) -> list[dict[str, object]]:
    rng = random.Random(seed)
    people = [make_customer(i + 1, rng) for i in range(customers)]
    owners = list(people) + [rng.choice(people[: customers // 3]) for _ in range(max(0, records - customers))]
    rng.shuffle(owners)
    return [make_ticket(i + 1, owner, rng) for i, owner in enumerate(owners[:records])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "tickets.jsonl")
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--customers", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=20260523)
    args = parser.parse_args()
    rows = generate(args.records, min(args.customers, args.records), args.seed)
    print(f"wrote {len(rows)} records to {args.out} ({write_jsonl(rows, args.out)} bytes)")


def write_jsonl(rows: list[dict[str, object]], out: Path) -> int:
    """One JSON object per line, UTF-8, byte-identical for the same rows; returns the bytes written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    out.write_bytes(payload)
    return len(payload)


if __name__ == "__main__":
    main()
