"""Equivalent, cheaper versions of what the interpreter spends its time on, for the
generator's worker processes only.

Profiling a million histories shows the interpreter spending a fifth of its time in
dataclasses.replace (generic: it walks every field and goes through the frozen __init__) and
a tenth walking condition trees. In worker processes (which only compute histories) they are
replaced, for the life of the process, by:

- fast_replace: for CaseState and StageRun (frozen, no __post_init__, no InitVar, no
  init=False fields) copying the instance dict and applying the changes gives an equal object;
- compiled conditions: each parsed Expression is turned once into nested closures that do
  exactly what rules.expressions._evaluate does, calling its own _resolve and _compare.

The main process never installs them; the tests check both give the same rows, and that
compiled conditions agree with the expression language on every shipped condition.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from rules import expressions
from workflows import interpreter as wf
from workflows.model import Definition

_FIELDS = {
    cls: frozenset(f.name for f in dataclasses.fields(cls))
    for cls in (wf.CaseState, wf.StageRun)
}


def _simple(cls: type) -> bool:
    return (not hasattr(cls, "__post_init__") and not hasattr(cls, "__slots__")
            and all(f.init for f in dataclasses.fields(cls)))


# Only classes where copying the dict is exactly what replace() does.
_FAST = {cls: names for cls, names in _FIELDS.items() if _simple(cls)}


def fast_replace(obj: Any, /, **changes: Any) -> Any:
    names = _FAST.get(obj.__class__)
    if names is None or not changes.keys() <= names:
        return dataclasses.replace(obj, **changes)
    new = object.__new__(obj.__class__)
    values = new.__dict__
    values.update(obj.__dict__)
    values.update(changes)
    return new


Compiled = Callable[[Mapping[str, Any]], Any]


def compile_tree(node: ast.expr) -> Compiled:
    """Closures with the semantics of rules.expressions._evaluate for one (checked) tree."""
    if isinstance(node, ast.BoolOp):
        parts = [compile_tree(v) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda context: all(p(context) for p in parts)
        return lambda context: any(p(context) for p in parts)
    if isinstance(node, ast.UnaryOp):
        operand = compile_tree(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda context: not operand(context)
        return lambda context: -operand(context)
    if isinstance(node, ast.Compare):
        left = compile_tree(node.left)
        steps = [(op, compile_tree(c)) for op, c in zip(node.ops, node.comparators, strict=True)]
        compare = expressions._compare
        if len(steps) == 1:
            (op, right), = steps
            return lambda context: compare(op, left(context), right(context))

        def chain(context: Mapping[str, Any]) -> bool:
            value = left(context)
            for op, right in steps:
                following = right(context)
                if not compare(op, value, following):
                    return False
                value = following
            return True
        return chain
    if isinstance(node, ast.Attribute | ast.Name):
        name = expressions.dotted_name(node) or ""
        resolve = expressions._resolve
        return lambda context: resolve(name, context)
    if isinstance(node, ast.Constant):
        constant = node.value
        return lambda context: constant
    if isinstance(node, ast.List | ast.Tuple):
        elements = [compile_tree(e) for e in node.elts]
        return lambda context: [e(context) for e in elements]
    return lambda context: expressions._evaluate(node, context)  # raises as it would


def _compiled(expression: expressions.Expression) -> Compiled:
    found = expression.__dict__.get("_compiled")
    if found is None:
        found = compile_tree(expression.tree)
        object.__setattr__(expression, "_compiled", found)
    return found


def _evaluate(self: expressions.Expression, context: Mapping[str, Any]) -> bool:
    return bool(_compiled(self)(context))


def _value(self: expressions.Expression, context: Mapping[str, Any]) -> Any:
    return _compiled(self)(context)


def install() -> None:
    """Use the fast paths for the rest of this process (worker processes only)."""
    wf.replace = fast_replace  # type: ignore[attr-defined]
    expressions.Expression.evaluate = _evaluate  # type: ignore[method-assign]
    expressions.Expression.value = _value  # type: ignore[method-assign]


class _PrecomputedDefinition(Definition):
    """A Definition whose derived lists are computed once (the interpreter asks for the
    recurring stages on every event). A plain class attribute shadows the property, so the
    instance's own value is used."""

    recurring_stages = ()  # type: ignore[assignment]


def precomputed(definition: Definition) -> Definition:
    """The same definition, with recurring_stages worked out once."""
    copy = object.__new__(_PrecomputedDefinition)
    copy.__dict__.update(definition.__dict__)
    copy.__dict__["recurring_stages"] = definition.recurring_stages
    return copy
