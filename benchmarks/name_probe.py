"""Person names on hand-written sentences kept apart from the benchmark corpus and the rules' tests.

    python benchmarks/name_probe.py

``benchmarks/scan_accuracy.py`` scores templates the name rules were tuned against; this probe is 20 names in
forms written afterwards, and 40 PII-free sentences built to bait the context rules (a brand after "call", a
product after "Dr"). It prints how many of each the full scan (NER and rules) flags as PERSON. No target: the
trade-off is stated in README ("Redaction before training", Limits).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NEGATIVES = [
    'Please call Customer Service on weekdays.',
    'I asked Google Assistant to reorder it.',
    'Dear Team,',
    'Thanks,\nSupport',
    'I tried to contact Uber Eats about it.',
    'The customer Portal keeps crashing.',
    'Ask Siri Shortcuts to run it.',
    'Recipient: Accounts Payable',
    'Hi there!',
    'Hello World!',
    'My name is on the account already.',
    'Call Center hours changed.',
    "I'd like to thank Quick Delivery for that.",
    'Regards,\nThe Billing Team',
    'Contact Form submission failed',
    'Tell Alexa Skills to stop.',
    'Dr Martens boots arrived damaged.',
    'We use Microsoft Teams for chat.',
    'Please ring Head Office.',
    'The account holder Agreement is attached.',
    'Email Marketing preferences updated',
    'Cheers,\nIT',
    '客户经理说今天处理',
    '用户反馈系统卡顿',
    '联系客服无法接通',
    '感谢您的耐心等待',
    '本人明白了',
    '尊敬的会员您好',
    '我是新用户',
    '请联系管理员',
    '顾客满意度调查',
    '通知所有用户更新',
    'Mr Clean worked fine.',
    'Ask Jeeves is gone.',
    'This is Netflix Premium we pay for.',
    'The phone number for Lost Property is wrong.',
    'Booking of Conference Room B',
    'I emailed Best Buy twice.',
    'Dear Valued Customer,',
    'Signed: Purchase Order 4411',
]
#: (sentence, the name in it)
NAMES = [
    ('Could you put me through to Priya Raman please?', 'Priya Raman'),
    ('ask Tomasz Wiśniewski about the refund', 'Tomasz Wiśniewski'),
    ('Kind regards,\nOluwaseun', 'Oluwaseun'),
    ('Ms. Haddad called twice.', 'Haddad'),
    ('the card holder Jean-Luc Moreau disputes it', 'Jean-Luc Moreau'),
    ('我叫欧阳娜娜，订单没到', '欧阳娜娜'),
    ('收件人：覃海燕 电话', '覃海燕'),
    ('张伟先生您好', '张伟'),
    ('请转告李明亮明天来', '李明亮'),
    ('Patient: Ana Lucía Gómez', 'Ana Lucía Gómez'),
    ('This is Kwame Mensah from accounting', 'Kwame Mensah'),
    ('Hi Saoirse, thanks for', 'Saoirse'),
    ('Frau Kowalczyk hat angerufen', 'Kowalczyk'),
    ('the account owner is Hiroshi Tanaka', 'Hiroshi Tanaka'),
    ('Please email Ngozi Okafor the invoice', 'Ngozi Okafor'),
    ('Attn: Dmitri Volkov', 'Dmitri Volkov'),
    ('Sent on behalf of Fatima Zahra Benali', 'Fatima Zahra Benali'),
    ('my colleague Lars Nilsson said', 'Lars Nilsson'),
    ('I spoke with Aisha yesterday', 'Aisha'),
    ('Rajesh Kumar here, my router died', 'Rajesh Kumar'),
]


def main() -> None:
    from auditor.scan.engine import Detector

    detector = Detector()

    def persons(text: str) -> list[str]:
        [result] = detector.detect([text])
        return [text[s.start:s.end] for s in result.spans if s.entity == "PERSON"]

    flagged = [(text, found) for text in NEGATIVES if (found := persons(text))]
    print(f"PII-free sentences flagged: {len(flagged)} of {len(NEGATIVES)}")
    for text, found in flagged:
        print(f"  flagged {text!r}: {found}")
    missed = [text for text, name in NAMES if not any(name in h or h in name for h in persons(text))]
    print(f"names found: {len(NAMES) - len(missed)} of {len(NAMES)}")
    for text in missed:
        print(f"  missed {text!r}")


if __name__ == "__main__":
    main()
