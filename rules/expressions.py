"""The condition language of guards, conditional form fields and standards.

Managers write conditions like ``answers.risk_band == 'high' and not rules.threshold_met``.
They are parsed with Python's own parser but only a small whitelist of node kinds is
accepted (names, dotted attributes, constants, lists, comparisons, and/or/not), and they are
evaluated by walking that tree here: nothing is ever passed to eval(), so a definition cannot
run code, import modules or touch attributes of Python objects.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_LENGTH = 500

_COMPARATORS = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


class ExpressionError(ValueError):
    """A condition that cannot be accepted, said in words a manager can act on."""


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.expr
    names: frozenset[str]  # every dotted name it reads, e.g. "answers.risk_band"

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        return bool(_evaluate(self.tree, context))

    def value(self, context: Mapping[str, Any]) -> Any:
        """The expression's value itself, e.g. what scores.dash.band holds."""
        return _evaluate(self.tree, context)


@lru_cache(maxsize=4096)
def parse(source: str) -> Expression:
    text = source.strip()
    if not text:
        raise ExpressionError("the condition is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the condition is longer than {MAX_LENGTH} characters")
    try:
        with warnings.catch_warnings():
            # Python only warns about text like "1and x" or "\<"; a condition must be plain.
            warnings.simplefilter("error")
            tree = ast.parse(text, mode="eval").body
    except (SyntaxError, SyntaxWarning, DeprecationWarning) as exc:
        column = getattr(exc, "offset", None)
        where = f" near column {column}" if column else ""
        raise ExpressionError(f"cannot read the condition{where}") from None
    names: set[str] = set()
    _check(tree, names)
    return Expression(text, tree, frozenset(names))


def dotted_name(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _check(node: ast.expr, names: set[str]) -> None:
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        if _number(node) is None:
            raise ExpressionError("a minus sign can only go before a number")
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARATORS:
                raise ExpressionError(f"'{type(op).__name__}' is not a comparison conditions use")
        _check(node.left, names)
        for comparator in node.comparators:
            _check(comparator, names)
    elif isinstance(node, ast.Attribute | ast.Name):
        name = dotted_name(node)
        if name is None:
            raise ExpressionError("only plain dotted names like answers.field can be read")
        if any(part.startswith("_") for part in name.split(".")):
            raise ExpressionError(f"'{name}': names cannot start with an underscore")
        if name not in _LITERAL_NAMES:  # true/false/null are values, not names to look up
            names.add(name)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, str | int | float | bool | type(None)):
            raise ExpressionError("only text, numbers, true/false and null can be written")
    elif isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            if not isinstance(element, ast.Constant) and _number(element) is None:
                raise ExpressionError("a list can only hold text or numbers")
            _check(element, names)
    else:
        kind = type(node).__name__
        raise ExpressionError(
            f"'{kind}' is not allowed: use names, values, comparisons, and, or, not"
        )


# YAML-minded writers say true/false/null; accept both spellings.
_LITERAL_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False,
                  "None": None}


def _resolve(name: str, context: Mapping[str, Any]) -> Any:
    if name in _LITERAL_NAMES:
        return _LITERAL_NAMES[name]
    value: Any = context
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _evaluate(node: ast.expr, context: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_evaluate(v, context) for v in node.values)
        return any(_evaluate(v, context) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return not _evaluate(node.operand, context)
        return -_evaluate(node.operand, context)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, context)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, context)
            if not _compare(op, left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Attribute | ast.Name):
        return _resolve(dotted_name(node) or "", context)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_evaluate(e, context) for e in node.elts]
    raise ExpressionError(f"cannot evaluate {type(node).__name__}")  # unreachable after _check


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    """Unanswered questions compare false instead of crashing (None < 3 is simply not true)."""
    if isinstance(op, _ORDERING) and (left is None or right is None):
        return False
    try:
        if isinstance(op, ast.In | ast.NotIn):
            if right is None:
                return isinstance(op, ast.NotIn)
            if isinstance(left, list):  # multiple choice answers: any of them in the list
                hit = any(item in right for item in left)
                return hit if isinstance(op, ast.In) else not hit
        return bool(_COMPARATORS[type(op)](left, right))
    except TypeError:
        return False


# --- static analysis used by definition validation -----------------------------------------


@dataclass(frozen=True)
class Constraint:
    """What a simple guard says about one name: a set of values or a numeric interval."""

    name: str
    values: frozenset[Any] | None = None
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True


def simple_constraint(expression: Expression) -> Constraint | None:
    """The constraint of guards like ``x == 'a'``, ``x in ['a','b']`` or ``x >= 14``; None
    for anything richer (those are checked at run time and by the random-walk tests)."""
    node = expression.tree
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    name = dotted_name(node.left) if isinstance(node.left, ast.Attribute | ast.Name) else None
    right = node.comparators[0]
    if name is None or name in _LITERAL_NAMES:
        return None
    op = node.ops[0]
    if isinstance(op, ast.Eq) and isinstance(right, ast.Constant):
        return Constraint(name, values=frozenset([right.value]))
    if isinstance(op, ast.In) and isinstance(right, ast.List | ast.Tuple):
        return Constraint(name, values=frozenset(e.value for e in right.elts))  # type: ignore[attr-defined]
    number = _number(right)
    if number is None:
        return None
    if isinstance(op, ast.Gt):
        return Constraint(name, low=number, low_inclusive=False)
    if isinstance(op, ast.GtE):
        return Constraint(name, low=number)
    if isinstance(op, ast.Lt):
        return Constraint(name, high=number, high_inclusive=False)
    if isinstance(op, ast.LtE):
        return Constraint(name, high=number)
    return None


def _number(node: ast.expr) -> float | None:
    """The number a constant (or a minus sign before one) writes; None if it is not one."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None or isinstance(node.operand, ast.UnaryOp) else -inner
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(
        node.value, bool
    ):
        return float(node.value)
    return None


def overlap(a: Constraint, b: Constraint) -> bool | None:
    """Whether two constraints on the same name can both hold; None if we cannot tell."""
    if a.name != b.name:
        return None
    if a.values is not None and b.values is not None:
        return bool(a.values & b.values)
    if a.values is None and b.values is None:
        low, low_inc = _max_bound(a.low, a.low_inclusive, b.low, b.low_inclusive)
        high, high_inc = _min_bound(a.high, a.high_inclusive, b.high, b.high_inclusive)
        if low is None or high is None:
            return True
        return low < high or (low == high and low_inc and high_inc)
    values, interval = (a, b) if a.values is not None else (b, a)
    return any(
        isinstance(v, int | float) and _inside(float(v), interval)
        for v in values.values or ()
    )


def _inside(v: float, c: Constraint) -> bool:
    if c.low is not None and (v < c.low or (v == c.low and not c.low_inclusive)):
        return False
    return not (c.high is not None and (v > c.high or (v == c.high and not c.high_inclusive)))


def _max_bound(a, a_inc, b, b_inc):  # type: ignore[no-untyped-def]
    if a is None:
        return b, b_inc
    if b is None or a > b:
        return a, a_inc
    if b > a:
        return b, b_inc
    return a, a_inc and b_inc


def _min_bound(a, a_inc, b, b_inc):  # type: ignore[no-untyped-def]
    if a is None:
        return b, b_inc
    if b is None or a < b:
        return a, a_inc
    if b < a:
        return b, b_inc
    return a, a_inc and b_inc
