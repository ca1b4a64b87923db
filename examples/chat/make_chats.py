"""Generate ``examples/chat/data/chats.jsonl``: synthetic support chats with planted PII, for the causal-lm example.

Each record is one conversation, ``{"chat_id", "customer_id", "messages": [{role, content}, ...]}``: a system
line, the customer's question (in which they sometimes give their name, e-mail, phone or address) and the
agent's answer, which repeats some of those details back, as real support agents do. The assistant turns are
what a causal LM is trained on, so the identifiers in them are exactly what a leakage audit looks for.

The people, vocabulary and identifier shapes come from ``examples/make_dataset.py`` (every value synthetic,
one fixed-seed ``random.Random``, so the committed file is byte-identical on every machine).

Usage: ``python examples/chat/make_chats.py [--out PATH] [--chats 720] [--customers 600] [--seed 20261206]``
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import make_dataset as people  # the sibling generator: names, identifiers, addresses

SYSTEM = "You are the support assistant of Example GmbH. Answer briefly and politely."

# (question, answer) per topic; the answers are what the model learns to say.
TOPICS = {
    "billing": (
        ("I was charged twice this month.", "I am sorry about the double charge. I have refunded the duplicate "
                                            "payment; it shows on your statement within five days."),
        ("Can I get a receipt for my last payment?", "Of course. I have sent the receipt for your last payment "
                                                     "to the e-mail address on your account."),
        ("Why did my subscription price go up?", "The new price applies from your next renewal. I have added a "
                                                  "one-month discount to your account as an apology."),
    ),
    "technical": (
        ("The app crashes when I open settings.", "Thanks for reporting it. Please update to the latest version; "
                                                   "the crash in the settings page is fixed there."),
        ("I cannot connect the device to Wi-Fi.", "Please hold the reset button for ten seconds, then add the "
                                                  "device again from the app. That clears the old network."),
    ),
    "account": (
        ("I forgot my password and the reset mail never arrives.", "I have sent a new reset link. If it is not "
                                                                   "in your inbox, please check the spam folder."),
        ("Please close my account.", "Your account is scheduled for deletion. You will get a confirmation once "
                                     "your data has been removed."),
    ),
    "shipping": (
        ("My parcel has not arrived yet.", "I checked the tracking: your parcel is at the local depot and will "
                                           "be delivered tomorrow."),
        ("The box arrived damaged.", "I am sorry to hear that. A replacement is on its way and you do not need "
                                     "to send the damaged item back."),
    ),
}


def customer_details(customer: dict[str, str], rng: random.Random) -> tuple[list[str], list[str]]:
    """What the customer says about themselves, and what the agent repeats back (a subset)."""
    said, echoed = [], []
    if rng.random() < 0.5:
        said.append(rng.choice(("My name is {}.", "This is {}.")).format(customer["name"]))
        if rng.random() < 0.6:
            echoed.append(f"Thank you, {customer['name']}.")
    if rng.random() < 0.3:
        said.append(f"My e-mail is {customer['email']}.")
        if rng.random() < 0.5:
            echoed.append(f"I will write to {customer['email']}.")
    if rng.random() < 0.25:
        said.append(f"Call me on {customer['phone']}.")
        if rng.random() < 0.4:
            echoed.append(f"We will call you on {customer['phone']}.")
    if rng.random() < 0.1:
        address = people.en_address(rng)
        said.append(f"I live at {address}.")
        echoed.append(f"The delivery address is now {address}.")
    return said, echoed


def make_chat(number: int, customer: dict[str, str], rng: random.Random) -> dict[str, object]:
    topic = rng.choice(sorted(TOPICS))
    question, answer = rng.choice(TOPICS[topic])
    said, echoed = customer_details(customer, rng)
    opening = rng.choice(("Hello,", "Hi,", "Good morning,", ""))
    user = " ".join(p for p in (opening, question, *said) if p)
    assistant = " ".join((*echoed[:1], answer, *echoed[1:]))
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user},
                {"role": "assistant", "content": assistant}]
    if rng.random() < 0.25:
        messages += [{"role": "user", "content": "Thanks, that helps."},
                     {"role": "assistant", "content": "You are welcome. Is there anything else I can do?"}]
    return {"chat_id": f"S{number:06d}", "customer_id": customer["id"], "topic": topic, "messages": messages}


def generate(chats: int = 720, customers: int = 600, seed: int = 20261206) -> list[dict[str, object]]:
    rng = random.Random(seed)
    crowd = []
    while len(crowd) < customers:  # English-speaking customers only: the bundled model is English
        candidate = people.make_customer(len(crowd) + 1, rng)
        if candidate["lang"] == "en":
            crowd.append(candidate)
    owners = list(crowd) + [rng.choice(crowd[: customers // 3]) for _ in range(max(0, chats - customers))]
    rng.shuffle(owners)
    return [make_chat(i + 1, owner, rng) for i, owner in enumerate(owners[:chats])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "chats.jsonl")
    parser.add_argument("--chats", type=int, default=720)
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    rows = generate(args.chats, min(args.customers, args.chats), args.seed)
    print(f"wrote {len(rows)} chats to {args.out} ({people.write_jsonl(rows, args.out)} bytes)")


if __name__ == "__main__":
    main()
