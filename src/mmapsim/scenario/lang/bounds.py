"""The scenario language's limits: how large a value, a line or a file may be.

A scenario may come from anyone, so nothing in it may make mmapsim itself use
unbounded memory or time, or fail with a traceback.  Each limit is far above
what a scenario of the lecture needs, and each is reported, when passed, as a
``file:line:col`` error (exit 2) that names it:

- one load, store, ``memcpy``, ``memset``, bytes value (``"x" * n``, ``a + b``)
  or ``file()`` moves at most :data:`MAX_ACCESS` bytes; ``read``/``pread`` ask
  for at most that many (a larger count reads :data:`MAX_ACCESS` bytes, a short
  read, as Linux stops every read at ``MAX_RW_COUNT``);
- the variables of all processes hold at most :data:`MAX_HELD` bytes together;
- an integer has at most :data:`MAX_INT_BITS` bits (C's have 64);
- an expression nests at most :data:`MAX_DEPTH` levels and has at most
  :data:`MAX_NODES` parts, on a line of at most :data:`MAX_LINE` characters.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.values import WrongValueError

MAX_ACCESS = 64 << 20
MAX_HELD = 256 << 20
MAX_INT_BITS = 128
MAX_DEPTH = 100
MAX_NODES = 5000
MAX_LINE = 1 << 16


def check_int(value: int) -> int:
    """``value``, if it has at most MAX_INT_BITS bits; else a WrongValueError."""
    if value.bit_length() > MAX_INT_BITS:
        raise WrongValueError(
            f"this number has more than {MAX_INT_BITS} bits (a C integer has at most 64)"
        )
    return value


def check_held(tables: Iterable[Mapping[str, object]]) -> None:
    """Refuse variables that would hold more than MAX_HELD bytes together
    (a value that several processes share after fork counts once)."""
    sizes = {id(v): len(v) for table in tables for v in table.values() if isinstance(v, bytes)}
    if sum(sizes.values()) > MAX_HELD:
        raise WrongValueError(f"the variables would hold more than {MAX_HELD} bytes together")


def check_size(stmt: ast.AST, line: int, col: int) -> None:
    """Refuse an expression nested deeper than MAX_DEPTH or with over MAX_NODES parts.

    It walks with a stack of its own, so that no depth reaches Python's
    recursion limit (every later pass over the tree recurses).
    """
    stack = [(stmt, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr_context):
            continue
        count += 1
        if depth > MAX_DEPTH:
            raise too_deep(line, max(getattr(node, "col_offset", col), col))
        if count > MAX_NODES:
            raise ScenarioError(
                f"this line has more than {MAX_NODES} operands and operators; split it",
                line,
                max(getattr(stmt, "col_offset", col), col),
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def too_deep(line: int, col: int) -> ScenarioError:
    """The error for a line that Python's own parser could not nest (its stack ran out)."""
    return ScenarioError(
        f"this expression nests more than {MAX_DEPTH} levels deep; split it over lines",
        line,
        col,
    )
