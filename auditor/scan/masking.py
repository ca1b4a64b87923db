"""Masked examples: the entity type and the value's shape, revealing no character of it.

Letters become ``x``/``X``, digits ``9``, CJK characters ``字``; punctuation and spaces are kept so a reviewer
can still tell a formatted phone number from a bare one. Long values are cut and their length is stated.
"""

from __future__ import annotations

_MAX_SHAPE = 24


def shape(value: str) -> str:
    out: list[str] = []
    for ch in value[:_MAX_SHAPE]:
        if ch.isdigit():
            out.append("9")
        elif "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            out.append("字")
        elif ch.isalpha():
            out.append("X" if ch.isupper() else "x")
        elif ch in " -.()+/:,@_#'":
            out.append(ch)
        else:
            out.append("*")
    return "".join(out) + ("…" if len(value) > _MAX_SHAPE else "")


def mask(entity: str, value: str) -> str:
    """``<EMAIL_ADDRESS len=17 xxxxx.xxxx@xxxxxxx.xxx>``: type, length and shape only."""
    return f"<{entity} len={len(value)} {shape(value)}>"
