"""The DP settings a fine-tune must meet, merged strictest-wins across every applicable policy.

No law fixes ε; each policy file states its documented choice. When several policies apply (EU and CN
subjects in one dataset), the smallest ε, the smallest δ and the smallest clipping norm win, and the merged
requirement remembers which rule set each bound, so a refusal can name it.

δ is a bound *over n*, the number of privacy units: ``max_delta: "min(1e-5, 1/(10*n))"``. δ = 1/n would admit
a mechanism that publishes one whole record (or person) in the clear with probability 1/n each, i.e. about
one of them; guidance (NIST SP 800-226; Ponomareva et al. 2023, "How to DP-fy ML") asks for δ ≪ 1/n. Policy
files are data from anyone, so the expression is parsed with a strict whitelist (numbers, ``n``, ``+ - * /``,
parentheses, ``min``/``max``) and evaluated by walking that tree — never with ``eval``.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

import ast
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: A policy's δ bound as written: a number, or an expression over ``n`` (the legacy ``"1/n"`` is one).
DeltaBound = float | str

#: What ``target_delta: auto`` resolves to when no policy bounds δ, and what it never exceeds when one does.
DEFAULT_DELTA = "min(1e-5, 1/(10*n))"

#: Longest δ expression accepted: a bound is a short formula, and a cap keeps the parser's work trivial.
MAX_EXPRESSION_LENGTH = 200

#: Where a parsed expression is tried at load time, so a bound that divides by zero, goes negative or
#: overflows for some plausible n fails when the policy loads, not when a run is about to start.
_PROBE_UNITS = (1, 2, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10**9)

_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class DeltaExpressionError(ValueError):
    """A δ bound that is not a whitelisted expression over n, or that is not a probability for some n."""


def _shown(source: str) -> str:
    return repr(source if len(source) <= 60 else source[:57] + "...")


def _check(node: ast.AST, source: str) -> None:
    """Accept exactly: numbers, the name ``n``, ``+ - * /``, unary ``+``/``-``, and ``min(...)``/``max(...)``."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise DeltaExpressionError(f"{_shown(source)}: only numbers are allowed as constants")
        return
    if isinstance(node, ast.Name):
        if node.id != "n":
            raise DeltaExpressionError(f"{_shown(source)}: unknown name '{node.id}' (the only name is n, the "
                                       "number of privacy units)")
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            raise DeltaExpressionError(f"{_shown(source)}: only + - * / are allowed as operators")
        _check(node.left, source)
        _check(node.right, source)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.UAdd | ast.USub):
            raise DeltaExpressionError(f"{_shown(source)}: only + - * / are allowed as operators")
        _check(node.operand, source)
        return
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            _check(node.func, source)
        if not isinstance(node.func, ast.Name) or node.func.id not in ("min", "max"):
            raise DeltaExpressionError(f"{_shown(source)}: the only functions are min() and max()")
        if node.keywords or not node.args or any(isinstance(a, ast.Starred) for a in node.args):
            raise DeltaExpressionError(f"{_shown(source)}: {node.func.id}() takes one or more plain arguments")
        for arg in node.args:
            _check(arg, source)
        return
    what = "attribute access" if isinstance(node, ast.Attribute) else type(node).__name__
    raise DeltaExpressionError(f"{_shown(source)}: {what} is not allowed (only numbers, n, + - * /, "
                               "parentheses, min() and max())")


def _number(node: ast.Constant) -> float:
    value = node.value
    assert isinstance(value, int | float) and not isinstance(value, bool)  # :func:`_check` admitted only these
    return float(value)


def _value(node: ast.expr, n: float) -> float:
    """Walk a tree :func:`_check` accepted; anything else is unreachable."""
    if isinstance(node, ast.Constant):
        return _number(node)
    if isinstance(node, ast.Name):
        return n
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, n)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, n), _value(node.right, n)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    values = [_value(arg, n) for arg in node.args]
    return min(values) if node.func.id == "min" else max(values)


def _constant_cap(node: ast.expr) -> float | None:
    """An upper bound that holds for every n: the number itself, or the smallest capped argument of a
    ``min()`` (``min(1e-5, 1/(10*n))`` is never above 1e-5). ``None`` when the bound has no such cap."""
    if isinstance(node, ast.Constant):
        return _number(node)
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return _value(node, 0.0)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        caps = [_constant_cap(arg) for arg in node.args]
        if node.func.id == "min":
            known = [c for c in caps if c is not None]
            return min(known) if known else None
        return max(c for c in caps if c is not None) if all(c is not None for c in caps) else None
    return None


@dataclass(frozen=True)
class DeltaExpression:
    """A parsed, whitelisted δ bound: call it with n to get the bound for n privacy units."""

    source: str
    tree: ast.expr
    constant: float | None
    uses_n: bool

    def __call__(self, n: int) -> float:
        """The bound for ``n`` units; :class:`DeltaExpressionError` if it is not a probability there."""
        try:
            value = _value(self.tree, float(n))
        except ZeroDivisionError:
            raise DeltaExpressionError(f"{_shown(self.source)} divides by zero at n={n}") from None
        if not math.isfinite(value) or value <= 0.0:
            raise DeltaExpressionError(f"{_shown(self.source)} is {value:g} at n={n}, not a positive bound")
        return value


@lru_cache(maxsize=256)
def parse_delta(source: str) -> DeltaExpression:
    """Parse a δ bound such as ``"min(1e-5, 1/(10*n))"`` or ``"1/n"`` with a strict whitelist.

    Raises :class:`DeltaExpressionError` (a ``ValueError``, so pydantic reports it with the file and line)
    for anything but numbers, ``n``, ``+ - * /``, parentheses and ``min``/``max`` calls, and for a bound that
    is not positive and finite at every probed n.
    """
    text = source.strip()
    if not text:
        raise DeltaExpressionError("max_delta: an empty expression (write a number or e.g. "
                                   f"\"{DEFAULT_DELTA}\")")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise DeltaExpressionError(f"{_shown(text)}: longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise DeltaExpressionError(f"{_shown(text)}: not an arithmetic expression over n "
                                   f"(e.g. \"{DEFAULT_DELTA}\")") from None
    _check(tree.body, text)
    expression = DeltaExpression(source=text, tree=tree.body, constant=_constant_cap(tree.body),
                                 uses_n=any(isinstance(node, ast.Name) for node in ast.walk(tree.body)))
    for n in _PROBE_UNITS:
        expression(n)
    return expression


def default_delta(n: int) -> float:
    """``min(1e-5, 1/(10·n))``: δ ≪ 1/n and never above 1e-5, what ``auto`` uses with no policy bound."""
    return parse_delta(DEFAULT_DELTA)(n)


class PrivacyBounds(BaseModel):
    """One policy's ``privacy[].require`` block, as written in the policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    dp_required: bool = True
    max_epsilon: float | None = Field(default=None, gt=0)
    max_delta: DeltaBound | None = Field(
        default=None, description="A number, or an expression over n such as \"min(1e-5, 1/(10*n))\"")
    min_units: int | None = Field(default=None, ge=1, description="Fewest privacy units for a meaningful bound")
    max_grad_norm: float | None = Field(default=None, gt=0)
    sampling: Literal["poisson"] | None = None

    @field_validator("max_delta", mode="before")
    @classmethod
    def _not_a_flag(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML `true` is not a probability
            raise ValueError("max_delta must be a positive number or an expression over n")
        return value

    @field_validator("max_delta")
    @classmethod
    def _parse_delta(cls, value: DeltaBound | None) -> DeltaBound | None:
        if isinstance(value, str):
            parse_delta(value)
            return value.strip()
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError("max_delta must be a positive number or an expression over n")
        return value

    def delta_expression(self) -> DeltaExpression | None:
        """The bound as a parsed expression (a number parses as a constant one)."""
        if self.max_delta is None:
            return None
        return parse_delta(self.max_delta if isinstance(self.max_delta, str) else repr(float(self.max_delta)))


class DeltaBoundRef(BaseModel):
    """One δ bound in a merged requirement: the expression as written and the ``policy/ID`` that set it."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    expr: str
    origin: str

    def at(self, n: int) -> float:
        return parse_delta(self.expr)(n)


class DeltaLimit(NamedTuple):
    """The δ bound that binds: its value, the rule that set it, its expression and the n it was taken at."""

    value: float
    origin: str
    expr: str
    n: int | None


class PrivacyRequirement(BaseModel):
    """The merged requirement: ``bound_by`` maps each field to ``policy/ID`` of the block that set it.

    ``max_delta`` is the smallest bound that holds whatever n is (the constant part, e.g. 1e-5 of
    ``min(1e-5, 1/(10*n))``); ``delta_bounds`` keeps every δ bound so :meth:`delta_for` can resolve them for
    the n actually trained on, and :meth:`delta_limit` names the rule whose bound binds there.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    dp_required: bool = False
    max_epsilon: float | None = None
    max_delta: float | None = Field(default=None, description="Bound on δ for every n (the constant part)")
    delta_bounds: list[DeltaBoundRef] = Field(default_factory=list, description="Every δ bound, over n")
    min_units: int | None = Field(default=None, description="Fewest privacy units the policies accept")
    max_grad_norm: float | None = None
    sampling: Literal["poisson"] | None = None
    bound_by: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _legacy_one_over_n(cls, data: Any) -> Any:
        """Evidence written before δ bounds were expressions says ``delta_one_over_n: true``: read it as the
        ``"1/n"`` bound it was, so old bundles still render and verify."""
        if isinstance(data, dict) and "delta_one_over_n" in data:
            data = dict(data)
            flag = data.pop("delta_one_over_n")
            bound_by = dict(data.get("bound_by") or {})
            origin = bound_by.pop("delta_one_over_n", "")
            if flag:
                data["delta_bounds"] = [*(data.get("delta_bounds") or []), {"expr": "1/n", "origin": origin}]
            data["bound_by"] = bound_by
        return data

    def delta_limit(self, n: int | None) -> DeltaLimit | None:
        """The binding δ bound for ``n`` units; with ``n`` unknown, the bound that holds for every n
        (``None`` when no policy bounds δ, or none does without n)."""
        if n is None:
            if self.max_delta is None:
                return None
            origin = self.bound_by.get("max_delta", "")
            expr = next((b.expr for b in self.delta_bounds if b.origin == origin), repr(self.max_delta))
            return DeltaLimit(self.max_delta, origin, expr, None)
        best: DeltaLimit | None = None
        for bound in self.delta_bounds:
            expr = bound.expr
            try:
                value = bound.at(n)
            except DeltaExpressionError:  # e.g. 1/(n-5) at n=5: the strictest reading, which nothing meets
                value = 0.0
            if best is None or value < best.value:
                best = DeltaLimit(value, bound.origin, expr, n)
        # the constant part holds for every n (a requirement built by hand may carry only that)
        if self.max_delta is not None and (best is None or self.max_delta < best.value):
            best = DeltaLimit(self.max_delta, self.bound_by.get("max_delta", ""), repr(self.max_delta), n)
        return best

    def delta_for(self, n: int) -> float | None:
        """The δ bound for ``n`` privacy units (records, or distinct users for user-level DP); 0 when a
        policy's bound is undefined at this n (nothing can meet it, so nothing trains)."""
        limit = self.delta_limit(n) if n > 0 else None
        return limit.value if limit is not None else None

    def delta_origin(self, n: int | None) -> str | None:
        """``policy/ID`` of the block whose δ bound binds at ``n`` (or for every n, when n is unknown)."""
        limit = self.delta_limit(n)
        return limit.origin if limit is not None else None

    def delta_shown(self, n: int | None) -> float | str | None:
        """δ as ``auditor check`` shows it: the number for a known n; while n is unknown, the number when no
        bound depends on n, else every bound as one expression over n (``min(1e-5, 1/(10*n))``)."""
        if n is not None and n > 0:
            return self.delta_for(n)
        exprs = list(dict.fromkeys(b.expr for b in self.delta_bounds if parse_delta(b.expr).uses_n))
        if not exprs:
            return self.max_delta
        caps = [parse_delta(e).constant for e in exprs]
        if self.max_delta is not None and not any(c is not None and c <= self.max_delta for c in caps):
            exprs.insert(0, repr(self.max_delta))  # a numeric bound stricter than every expression's cap
        return exprs[0] if len(exprs) == 1 else f"min({', '.join(exprs)})"

    def target_delta_problem(self, target: float, n: int | None) -> str | None:
        """Why a plan's explicit ``target_delta`` exceeds the binding bound at ``n``, or ``None`` when it
        does not. The gate (per privacy block) and training (merged) both ask this, so they never disagree."""
        limit = self.delta_limit(n)
        if limit is None or (limit.value > 0.0 and target <= limit.value * (1 + 1e-9)):
            return None
        at = f" at n={n}" if n is not None else " for any n"
        if limit.value <= 0.0:
            return (f"the δ bound {limit.expr} (set by {limit.origin or 'the policies'}) is undefined{at}: "
                    "no δ meets it")
        return (f"target_delta {target:g} > max δ {limit.value:.3g} ({limit.expr}{at}, set by "
                f"{limit.origin or 'the policies'})")

    def units_problem(self, n: int | None) -> str | None:
        """Why ``n`` privacy units are too few for a meaningful guarantee, or ``None`` (also when n is
        unknown: training, which counts the units it loads, asks again)."""
        if n is None or self.min_units is None or n >= self.min_units:
            return None
        eps = f" at ε≤{self.max_epsilon:g}" if self.max_epsilon is not None else ""
        return (f"n={n} privacy units is below the {self.min_units} that "
                f"{self.bound_by.get('min_units', 'the policies')} requires for a meaningful guarantee{eps}")


def _also(names: str, origin: str) -> str:
    """Every block that sets the binding value is named: with EU and Californian subjects, an ε cap that
    GDPR and CCPA both set is not CCPA's alone (the first to be read)."""
    return names if origin in names.split(", ") else f"{names}, {origin}"


_N = TypeVar("_N", int, float)


def _strictest(bound_by: dict[str, str], key: str, current: _N | None, value: _N | None, origin: str, *,
               smaller: bool) -> _N | None:
    """The stricter of ``current`` and ``value`` (smaller, or larger for a minimum), with ``bound_by[key]``
    naming whoever set it -- every block, when several set it alike."""
    if value is None:
        return current
    if current is None or (value < current if smaller else value > current):
        bound_by[key] = origin
        return value
    if value == current:
        bound_by[key] = _also(bound_by[key], origin)
    return current


def merge(blocks: list[tuple[str, PrivacyBounds]]) -> PrivacyRequirement:
    """Strictest wins: smallest ε, δ and clipping norm, largest ``min_units``; DP and Poisson sampling if any
    block asks. Every distinct δ bound is kept (which one binds depends on n); ``bound_by["max_delta"]``
    names the block with the smallest bound that holds for every n. A bound several blocks set alike names
    them all, comma-separated, in the order read."""
    dp_required = False
    max_epsilon: float | None = None
    max_delta: float | None = None
    delta_bounds: list[DeltaBoundRef] = []
    min_units: int | None = None
    max_grad_norm: float | None = None
    sampling: Literal["poisson"] | None = None
    bound_by: dict[str, str] = {}
    for origin, block in blocks:
        if block.dp_required and not dp_required:
            dp_required = True
            bound_by["dp_required"] = origin
        max_epsilon = _strictest(bound_by, "max_epsilon", max_epsilon, block.max_epsilon, origin, smaller=True)
        expression = block.delta_expression()
        if expression is not None:
            same = next((i for i, b in enumerate(delta_bounds) if b.expr == expression.source), None)
            if same is None:
                delta_bounds.append(DeltaBoundRef(expr=expression.source, origin=origin))
            else:  # the same bound from another policy: it binds for both, so both are named
                delta_bounds[same] = DeltaBoundRef(expr=expression.source,
                                                   origin=_also(delta_bounds[same].origin, origin))
            max_delta = _strictest(bound_by, "max_delta", max_delta, expression.constant, origin, smaller=True)
        min_units = _strictest(bound_by, "min_units", min_units, block.min_units, origin, smaller=False)
        max_grad_norm = _strictest(bound_by, "max_grad_norm", max_grad_norm, block.max_grad_norm, origin,
                                   smaller=True)
        if block.sampling is not None and sampling is None:
            sampling = block.sampling
            bound_by["sampling"] = origin
    return PrivacyRequirement(dp_required=dp_required, max_epsilon=max_epsilon, max_delta=max_delta,
                              delta_bounds=delta_bounds, min_units=min_units, max_grad_norm=max_grad_norm,
                              sampling=sampling, bound_by=bound_by)
