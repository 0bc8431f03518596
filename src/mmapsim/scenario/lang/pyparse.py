"""The Python parts of a scenario line, parsed by :func:`ast.parse`.

A part is parsed inside an ``if 1:`` block with the rest of its line blanked
out, so that every node's column is the column of the scenario line (in
characters, not ast's UTF-8 bytes) and errors point where the student wrote.
"""

from __future__ import annotations

import ast

from mmapsim.scenario.lang import allowed_python, bounds
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.lexer import ScannedLine

_PREFIX = "if 1:\n "


def parse_python(scanned: ScannedLine, start: int, end: int) -> ast.stmt:
    """Parse ``code[start:end]`` as one Python statement, columns kept line-true."""
    snippet = scanned.code[start:end]
    blanked = " " * start + snippet
    try:
        tree = ast.parse(_PREFIX + blanked)
    except SyntaxError as err:
        col = (err.offset or 2) - 1 if err.lineno == 2 else start + 1
        raise ScenarioError(_syntax_message(err.msg), scanned.number, max(col, 1)) from None
    except (RecursionError, MemoryError):  # the parser's own stack ran out
        raise bounds.too_deep(scanned.number, start + 1) from None
    body = tree.body[0]
    assert isinstance(body, ast.If)
    for stmt in body.body:
        bounds.check_size(stmt, scanned.number, start + 1)
    for stmt in body.body:
        _fix_columns(stmt, start, snippet)
    if len(body.body) != 1:
        raise allowed_python.fail("one statement per line", scanned.number, body.body[1])
    return body.body[0]


def parse_expr(scanned: ScannedLine, start: int, end: int) -> ast.expr:
    """Parse ``code[start:end]`` as one expression."""
    stmt = parse_python(scanned, start, end)
    if not isinstance(stmt, ast.Expr):
        raise allowed_python.fail(
            "an expression is needed here, not a statement", scanned.number, stmt
        )
    return stmt.value


def _fix_columns(stmt: ast.stmt, start: int, snippet: str) -> None:
    """Turn ast's UTF-8 byte offsets into 0-based character columns of the line."""
    encoded = snippet.encode()

    def to_char(byte_col: int) -> int:
        in_snippet = byte_col - 1 - start
        if in_snippet <= 0:
            return start + min(in_snippet, 0)
        return start + len(encoded[:in_snippet].decode(errors="ignore"))

    for node in ast.walk(stmt):
        if isinstance(node, ast.expr | ast.stmt | ast.keyword):
            node.col_offset = to_char(node.col_offset)
            if node.end_col_offset is not None:
                node.end_col_offset = to_char(node.end_col_offset)


def _syntax_message(msg: str) -> str:
    if msg.startswith("leading zeros"):
        return "C's octal 0644 is written 0o644 here"
    if msg.startswith("unterminated string"):
        return "unterminated string"
    if msg == "invalid syntax":
        return "syntax error"
    return msg.replace("invalid syntax", "syntax error")
