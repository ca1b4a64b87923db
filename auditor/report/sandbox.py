"""A Jinja sandbox with a budget: a template is code from anyone, and the stock sandbox bounds only ``range``.

``{{ 'a' * 10**9 }}`` would build a 1 GB string, ``10 ** 10 ** 9`` a number that never finishes, a template
that includes itself recurses until Python gives up, and a loop may print forever. Each of these is refused
here with a :class:`~jinja2.exceptions.SecurityError` (the caller turns it into one exit-2 line naming the
template): operators and calls that would make a value over :data:`MAX_VALUE`, and a render whose output
passes :data:`MAX_OUTPUT` characters or :data:`MAX_SECONDS` seconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

MAX_VALUE = 1_000_000  # characters or items any one operation may produce
MAX_OUTPUT = 64 * 1024 * 1024  # characters one rendered report may have
MAX_SECONDS = 120.0
MAX_INT_BITS = 4096
_WIDTH = re.compile(r"%[-+ #0]*(\d+)|\{[^{}]*?:[^{}]*?(\d{7,})")


_PADDING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _too_wide(text: str) -> bool:
    """A %-format or str.format spec asking for a field wider than the value budget."""
    return any(int(g) > MAX_VALUE for m in _WIDTH.finditer(text) for g in m.groups() if g)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict) else 0


class BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/"})

    def call_binop(self, context: Context, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if _size(seq) and isinstance(n, int) and _size(seq) * max(n, 0) > MAX_VALUE:
                    raise SecurityError(f"a repeated value longer than {MAX_VALUE:,}")
        elif op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 \
                and right * left.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"a power larger than {MAX_INT_BITS} bits")
        elif op == "+" and _size(left) + _size(right) > MAX_VALUE:
            raise SecurityError(f"a concatenation longer than {MAX_VALUE:,}")
        elif op == "%" and isinstance(left, str) and _too_wide(left):
            raise SecurityError("a format width larger than the value budget")
        if isinstance(left, int) and isinstance(right, int) and (left.bit_length() > MAX_INT_BITS
                                                                  or right.bit_length() > MAX_INT_BITS):
            raise SecurityError(f"an integer larger than {MAX_INT_BITS} bits")
        return super().call_binop(context, op, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        """``'{:>999999999}'.format(x)``: Jinja wraps ``str.format`` when it is looked up, so the format string
        is checked here, before the wrapper hides whose method it is."""
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and _too_wide(owner):
            raise SecurityError("a format width larger than the value budget")
        return super().wrap_str_format(value)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)  # 'a'.ljust(n), '{:>n}'.format(x)
        if isinstance(owner, str):
            if _too_wide(owner):
                raise SecurityError("a format width larger than the value budget")
            if getattr(__obj, "__name__", "") in _PADDING and any(
                    isinstance(v, int) and v > MAX_VALUE for v in (*args, *kwargs.values())):
                raise SecurityError(f"a padded string longer than {MAX_VALUE:,}")
        for value in (*args, *kwargs.values()):
            if isinstance(value, str) and _too_wide(value):
                raise SecurityError("a format width larger than the value budget")
        return super().call(__context, __obj, *args, **kwargs)


def bounded_render(chunks: Iterator[str]) -> str:
    """Join a template's output, stopping it when it passes the output or time budget."""
    started = time.monotonic()
    out: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        out.append(chunk)
        if total > MAX_OUTPUT:
            raise SecurityError(f"the rendered report is longer than {MAX_OUTPUT:,} characters")
        if time.monotonic() - started > MAX_SECONDS:
            raise SecurityError(f"rendering took longer than {MAX_SECONDS:g} s")
    return "".join(out)


__all__ = ["MAX_OUTPUT", "MAX_SECONDS", "MAX_VALUE", "BoundedSandbox", "bounded_render"]
