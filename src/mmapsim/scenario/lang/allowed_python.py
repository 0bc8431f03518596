"""The subset of Python that scenario expressions and statements may use.

Python's own parser reads the expressions; this module then walks the tree and
refuses every construct that is not part of the language (floats, lambdas,
comprehensions, keyword arguments, ...), naming the construct and its column.
Nothing here evaluates anything: user text is never given to ``eval``.
"""

from __future__ import annotations

import ast

from mmapsim.scenario.lang.calls import STAT_FIELDS, VIEWS
from mmapsim.scenario.lang.diagnostic import ScenarioError

BINOPS: dict[type[ast.operator], str] = {
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
UNARYOPS: dict[type[ast.unaryop], str] = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}
CMPOPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}

_NAMES: dict[type[ast.AST], str] = {
    ast.Lambda: "a lambda",
    ast.ListComp: "a list comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.List: "a list",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Tuple: "a tuple",
    ast.IfExp: "a conditional expression",
    ast.JoinedStr: "an f-string",
    ast.BoolOp: "'and'/'or'",
    ast.Compare: "a comparison (only an expect line compares)",
    ast.NamedExpr: "':='",
    ast.Await: "'await'",
    ast.Starred: "'*'",
}


def fail(message: str, line: int, node: ast.AST) -> ScenarioError:
    """A ScenarioError at ``node`` (whose column the parser made 0-based)."""
    return ScenarioError(message, line, getattr(node, "col_offset", 0) + 1)


def check_expr(node: ast.expr, line: int, *, compare: bool = False) -> None:
    """Refuse anything in ``node`` outside the language; ``compare`` allows a top comparison.

    An expect's condition may join comparisons with ``and`` and ``or`` (what
    must hold after a crash is often "the old record or the new one").
    """
    if isinstance(node, ast.BoolOp) and compare:
        for value in node.values:
            check_expr(value, line, compare=True)
    elif isinstance(node, ast.Compare) and compare:
        for op in node.ops:
            if type(op) not in CMPOPS:
                raise fail("only ==, !=, <, <=, >, >= compare", line, node)
        for operand in (node.left, *node.comparators):
            check_expr(operand, line)
    elif isinstance(node, ast.Constant):
        _check_constant(node, line)
    elif isinstance(node, ast.Name):
        return
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in BINOPS:
            raise fail("this operator is not part of the language", line, node)
        check_expr(node.left, line)
        check_expr(node.right, line)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in UNARYOPS:
            raise fail("'not' is not part of the language; compare with == 0", line, node)
        check_expr(node.operand, line)
    elif isinstance(node, ast.Call):
        _check_call(node, line)
    elif isinstance(node, ast.Subscript):
        _check_subscript(node, line)
    elif isinstance(node, ast.Attribute):
        _check_attribute(node, line)
    else:
        what = _NAMES.get(type(node), type(node).__name__)
        raise fail(f"{what} is not part of the scenario language", line, node)


def _check_constant(node: ast.Constant, line: int) -> None:
    value = node.value
    if isinstance(value, bool) or value is None or value is Ellipsis:
        raise fail(f"{value!r} is not a value here; write 1, 0 or NULL", line, node)
    if isinstance(value, float | complex):
        raise fail("only integers are numbers here", line, node)


def _check_call(node: ast.Call, line: int) -> None:
    if not isinstance(node.func, ast.Name):
        raise fail("only a call by name, such as mmap(...), is allowed", line, node)
    if node.keywords:
        raise fail("arguments are given by position, as in C", line, node.keywords[0])
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise fail("'*' arguments are not part of the language", line, arg)
        check_expr(arg, line)


def _check_subscript(node: ast.Subscript, line: int) -> None:
    value = node.value
    if isinstance(value, ast.Attribute) and value.attr in VIEWS:
        check_expr(value.value, line)
    else:
        check_expr(value, line)
    index = node.slice
    if isinstance(index, ast.Slice):
        if index.step is not None:
            raise fail("a slice has no step here", line, index.step)
        for part in (index.lower, index.upper):
            if part is not None:
                check_expr(part, line)
    else:
        check_expr(index, line)


def _check_attribute(node: ast.Attribute, line: int) -> None:
    """A stat field (``fstat(fd).st_size``) or another process's variable (``A.p``)."""
    if node.attr in VIEWS:
        msg = f".{node.attr} is a view of memory: index it, as in p.{node.attr}[0]"
        raise fail(msg, line, node)
    if node.attr in STAT_FIELDS or isinstance(node.value, ast.Name):
        check_expr(node.value, line)
        return
    fields = ", ".join(f".{name}" for name in STAT_FIELDS)
    raise fail(f"unknown field .{node.attr} (fstat gives {fields})", line, node)


def check_target(node: ast.expr, line: int, *, tuple_ok: bool = True) -> None:
    """Refuse an assignment target other than a name, names, or memory."""
    if isinstance(node, ast.Name):
        return
    if isinstance(node, ast.Tuple) and tuple_ok:
        for elt in node.elts:
            if not isinstance(elt, ast.Name):
                raise fail("only names can be unpacked: r, w = pipe()", line, elt)
        return
    if isinstance(node, ast.Subscript):
        _check_subscript(node, line)
        return
    raise fail("assign to a name (p = ...) or to memory (p[0] = ...)", line, node)


def check_stmt(stmt: ast.stmt, line: int) -> None:
    """Refuse a statement other than one call, assignment, load or store."""
    if isinstance(stmt, ast.Assign):
        if len(stmt.targets) != 1:
            raise fail("one '=' per line", line, stmt.targets[1])
        check_target(stmt.targets[0], line)
        check_expr(stmt.value, line)
    elif isinstance(stmt, ast.AugAssign):
        if type(stmt.op) not in BINOPS:
            raise fail("this operator is not part of the language", line, stmt)
        check_target(stmt.target, line, tuple_ok=False)
        check_expr(stmt.value, line)
    elif isinstance(stmt, ast.Expr):
        check_expr(stmt.value, line)
    else:
        keyword = type(stmt).__name__.lower()
        raise fail(f"'{keyword}' statements are not part of the scenario language", line, stmt)
