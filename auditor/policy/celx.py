"""A thin wrapper over the ``common-expression-language`` package.

The package's ``__init__`` imports its own CLI (typer, prompt_toolkit: ~350 ms), which would eat most of the
gate's latency budget, so the compiled extension is loaded directly; the public ``cel`` import is the
fallback. Expressions are compiled once at policy load, and the dotted paths each one reads are extracted so
a finding can show the facts that decided it and an absent fact can be named.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any


@cache
def _cel() -> ModuleType:
    spec = importlib.util.find_spec("cel")
    if spec is not None and spec.origin:
        for candidate in sorted(Path(spec.origin).parent.glob("cel.*")):
            if candidate.suffix in (".so", ".pyd"):
                ext = importlib.util.spec_from_file_location("cel.cel", candidate)
                if ext is not None and ext.loader is not None:
                    module = importlib.util.module_from_spec(ext)
                    try:
                        ext.loader.exec_module(module)
                    except ImportError:
                        break
                    return module
    import cel

    return cel


class CelSyntaxError(ValueError):
    """An expression does not compile; ``column`` is 1-based within the expression."""

    def __init__(self, detail: str, column: int | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.column = column


_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_PATH = re.compile(r"(?<![\w.])((?:plan|facts)(?:\.[A-Za-z_]\w*)+)(\s*\()?")
_HAS = re.compile(r"\bhas\(\s*((?:plan|facts)(?:\.[A-Za-z_]\w*)+)\s*\)")
_ERR_POS = re.compile(r"<input>:(\d+):(\d+): (.*)")


#: A ``cel.Context``: variables converted to CEL values once (the package ships no importable type for it).
CelContext = Any


@dataclass(frozen=True)
class Expr:
    """A compiled CEL expression plus the ``plan.*`` / ``facts.*`` paths it reads."""

    source: str
    program: Any
    paths: tuple[str, ...]
    guarded: frozenset[str] = frozenset()

    def evaluate(self, context: dict[str, Any] | CelContext) -> Any:
        """Run against a plain dict or, much faster when many expressions share one, a :func:`cel_context`."""
        return self.program.execute(context)


def cel_context(variables: dict[str, Any]) -> CelContext:
    """``variables`` converted to CEL values once; executing against it skips the per-call conversion of the
    whole dict (~0.6 ms per expression for a plan plus facts), with the same results and errors."""
    return _cel().Context(variables)


#: What one condition may cost. The CEL library has no evaluation budget, so the cost is bounded by the
#: expression's shape at compile time and by the sizes of what it reads (the plan's lists are capped in
#: the schema, facts are fixed-size): at most MAX_COMPREHENSION_DEPTH nested comprehensions over at most
#: MAX_LIST_ITEMS items each, inside an expression of at most MAX_EXPR_CHARS and MAX_OPERATORS operators.
MAX_EXPR_CHARS = 4096
MAX_OPERATORS = 256
MAX_COMPREHENSIONS = 8
MAX_COMPREHENSION_DEPTH = 2
MAX_LIST_ITEMS = 64
_MACRO = re.compile(r"\.\s*(?:map|filter|all|exists|exists_one)\s*\($")
_OPERATOR = re.compile(r"&&|\|\||\?")


def _check_budget(source: str) -> None:
    """Refuse, at load, an expression whose evaluation could hang the gate (a 50k-term ``||``, nested
    ``.map()`` over huge lists); the column points at the first thing over budget."""
    if len(source) > MAX_EXPR_CHARS:
        raise CelSyntaxError(f"expression is {len(source):,} characters, more than {MAX_EXPR_CHARS:,}", None)
    stripped = _STRING.sub(lambda m: "''" + " " * (len(m.group(0)) - 2), source)  # same columns
    operators = list(_OPERATOR.finditer(stripped))
    if len(operators) > MAX_OPERATORS:
        raise CelSyntaxError(f"more than {MAX_OPERATORS} operators (&&, ||, ?:)", operators[MAX_OPERATORS].start() + 1)
    stack: list[str] = []  # "(" / "[" / "m" (a comprehension macro's parenthesis)
    items: list[int] = []
    comprehensions = 0
    for column, char in enumerate(stripped, start=1):
        if char in "([":
            macro = char == "(" and _MACRO.search(stripped[:column]) is not None
            if macro:
                comprehensions += 1
                if comprehensions > MAX_COMPREHENSIONS:
                    raise CelSyntaxError(f"more than {MAX_COMPREHENSIONS} comprehensions (map, filter, all, "
                                         "exists)", column)
                if stack.count("m") >= MAX_COMPREHENSION_DEPTH:
                    raise CelSyntaxError(f"comprehensions nested more than {MAX_COMPREHENSION_DEPTH} deep", column)
            stack.append("m" if macro else char)
            items.append(1)
        elif char in ")]" and stack:
            stack.pop()
            items.pop()
        elif char == "," and stack and stack[-1] == "[":
            items[-1] += 1
            if items[-1] > MAX_LIST_ITEMS:
                raise CelSyntaxError(f"a list literal of more than {MAX_LIST_ITEMS} items", column)


def compile_expr(source: str) -> Expr:
    """Compile once; raise :class:`CelSyntaxError` with the column of the first syntax error, or of what
    puts the expression over its evaluation budget."""
    _check_budget(source)
    try:
        program = _cel().compile(source)
    except (ValueError, RuntimeError) as exc:
        text = str(exc)
        match = _ERR_POS.search(text)
        if match:
            raise CelSyntaxError(match.group(3).strip(), int(match.group(2)) + 1) from None
        raise CelSyntaxError(text.splitlines()[0] if text else "invalid expression", None) from None
    stripped = _STRING.sub("''", source)
    found: list[str] = []
    for match in _PATH.finditer(stripped):
        path = match.group(1)
        if match.group(2):  # `plan.purpose.matches(...)`: the last segment is a method, not a field
            path = path.rsplit(".", 1)[0]
        if path.count(".") >= 1:
            found.append(path)
    guarded = frozenset(_HAS.findall(stripped))
    return Expr(source=source, program=program, paths=tuple(dict.fromkeys(found)), guarded=guarded)


_MISSING = object()


def lookup(context: dict[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` in ``context``, or :data:`MISSING` when a key on the way is absent."""
    value: Any = context
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def first_missing(context: dict[str, Any], expr: Expr, prefer: str = "facts") -> str | None:
    """The shortest unresolvable prefix of a path the expression reads, e.g. ``facts.categories``.

    ``has(plan.a.b)`` with ``plan.a`` present is how rules test optional leaves, so an absent guarded leaf is
    never blamed; paths under ``prefer`` are tried first, so a missing scan fact wins over a plan field.
    """
    ordered = sorted(expr.paths, key=lambda p: not p.startswith(prefer + "."))
    for dotted in ordered:
        parts = dotted.split(".")
        for end in range(2, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if lookup(context, prefix) is _MISSING:
                if prefix == dotted and dotted in expr.guarded:
                    break
                return prefix
    return None


def is_missing(value: Any) -> bool:
    return value is _MISSING
