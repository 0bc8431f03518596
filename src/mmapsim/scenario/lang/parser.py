"""Scenario text to steps: the statement syntax around Python expressions.

A line is, after an optional process label ``NAME:``, one of::

    file PATH DATA                     the file holds DATA (written from outside)
    show KIND [PROCESS] [ARGS]          maps, smaps, pages, layout, file or vars
    expect CONDITION                    a comparison that must hold
    expect STATEMENT fails ERRNO        the call must fail with that errno
    expect STATEMENT kills SIGNAL       the access must kill the process
    sleep SECONDS                       simulated time passes (writeback runs)
    recover:                            the lines after it run after a crash
    CHILD = fork(PARENT)                a new process, a copy of PARENT
    ask STEP [among CHOICE, ...]        a question of ``mmapsim quiz``
    sync                                sync(2): every dirty page reaches the disk
    crash                               a power failure (simulator only)
    STATEMENT                           a call, an assignment, a load or a store

The Python parts are read by :mod:`mmapsim.scenario.lang.pyparse` and checked by
:mod:`mmapsim.scenario.lang.allowed_python`; names are resolved later by
:mod:`mmapsim.scenario.lang.checker`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from mmapsim.scenario.lang import allowed_python, bounds, sections
from mmapsim.scenario.lang.calls import FORK, KEYWORDS, SHOW_KINDS
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.lexer import ScannedLine, Word, scan_line
from mmapsim.scenario.lang.pyparse import parse_expr, parse_python
from mmapsim.scenario.lang.syntax import (
    Ask,
    Crash,
    Do,
    Expect,
    ExpectMode,
    FileSetup,
    Fork,
    Note,
    Scenario,
    Show,
    Spawn,
    Step,
    Sync,
)
from mmapsim.scenario.lang.values import path_problem


def parse_file(path: str | Path) -> Scenario:
    """Parse the scenario file at ``path``; errors name the file."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"cannot read the scenario: {err}", 1, 1, name) from None
    return parse_text(text, name)


def parse_text(text: str, path: str = "<scenario>") -> Scenario:
    """Parse a whole scenario (names are not checked here)."""
    scenario = Scenario(path)
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            if sections.is_recover_marker(line, number, scenario):
                continue
            target = scenario.items if scenario.recovery is None else scenario.recovery
            target.append(parse_line(line, number))
        except ScenarioError as err:
            raise err.in_file(path) from None
    return scenario


def parse_line(text: str, number: int) -> Step | Note:
    """Parse one line of a scenario."""
    if len(text) > bounds.MAX_LINE:
        message = f"a line of more than {bounds.MAX_LINE} characters; split it"
        raise ScenarioError(message, number, bounds.MAX_LINE + 1)
    scanned = scan_line(text, number)
    if not scanned.code.strip():
        return Note(number, scanned.comment)
    label, start = _label(scanned)
    if label is not None and not scanned.code[start:].strip():
        return Spawn(*_common(scanned, label, start))
    machine_wide = _machine_statement(scanned, label, start)
    if machine_wide is not None:
        return machine_wide
    first = scanned.word_after(start)
    if first is not None and _is_keyword_at(scanned, first, start):
        if first.text == "file":
            return _parse_file_setup(scanned, label, first)
        if first.text == "show":
            return _parse_show(scanned, label, first)
        if first.text == "ask":
            return _parse_ask(scanned, label, first)
        if first.text == "sleep":
            return sections.parse_sleep(scanned, _common(scanned, label, first.start), first)
        return _parse_expect(scanned, label, first)
    stmt = parse_python(scanned, start, len(scanned.code))
    allowed_python.check_stmt(stmt, number)
    fork = _as_fork(stmt, scanned, label)
    return fork if fork is not None else Do(*_common(scanned, label, start), stmt)


def _common(
    scanned: ScannedLine, label: str | None, start: int
) -> tuple[int, int, str, str | None, str | None]:
    """line, column, source, comment and label: the fields every step has."""
    rest = scanned.code[start:]
    col = start + len(rest) - len(rest.lstrip())
    comment = scanned.comment.strip() if scanned.comment else None
    return (scanned.number, col, rest.strip(), comment, label)


def _label(scanned: ScannedLine) -> tuple[str | None, int]:
    """The process label of the line and where the rest of the line starts."""
    if not scanned.words or scanned.code[: scanned.words[0].start].strip():
        return None, 0
    first = scanned.words[0]
    rest = scanned.code[first.end :]
    stripped = rest.lstrip()
    if not stripped.startswith(":") or stripped.startswith(":="):
        return None, 0
    if first.text in KEYWORDS:
        why = sections.RECOVER_HINT if first.text == "recover" else ""
        raise ScenarioError(
            f"'{first.text}' cannot name a process{why}", scanned.number, first.start + 1
        )
    colon = first.end + (len(rest) - len(stripped))
    return first.text, colon + 1


def _machine_statement(scanned: ScannedLine, label: str | None, start: int) -> Step | None:
    """``sync`` or ``crash`` (``sync()`` and ``crash()`` too): a statement about the machine.

    ``sync`` may carry a label (a process calls sync(2)); ``crash`` may not: a
    power failure happens to the whole machine, not in a process.
    """
    code = scanned.code[start:].strip()
    word = code[:-2].rstrip() if code.endswith("()") else code
    if word not in ("sync", "crash"):
        return None
    common = _common(scanned, label, start)
    if word == "sync":
        return Sync(*common)
    if label is not None:
        msg = "a crash stands on its own: a power failure stops the whole machine, not a process"
        raise ScenarioError(msg, scanned.number, 1)
    return Crash(*common)


def _is_keyword_at(scanned: ScannedLine, word: Word, start: int) -> bool:
    """Whether ``word`` opens the statement as a keyword (not ``file(...)`` or ``show = 1``)."""
    if (
        word.text not in ("file", "show", "expect", "ask", "sleep")
        or scanned.code[start : word.start].strip()
    ):
        return False
    after = scanned.code[word.end :]
    if word.text == "ask" and not after.strip():
        return True  # 'ask' alone: ask what?
    if word.text == "sleep" and not after.strip():
        return True  # a bare "sleep": say that it needs its seconds
    return after[:1] in (" ", "\t") and not after.strip().startswith("=")


def _as_fork(stmt: ast.stmt, scanned: ScannedLine, label: str | None) -> Fork | None:
    """``C = fork(A)`` as a Fork step, or None when ``stmt`` calls no fork."""
    calls_fork = any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == FORK
        for node in ast.walk(stmt)
    )
    if not calls_fork:
        return None
    hint = "fork makes a new process: write 'C = fork(A)' on a line of its own, without a label"
    value = stmt.value if isinstance(stmt, ast.Assign | ast.Expr) else None
    shaped = (
        label is None
        and isinstance(stmt, ast.Assign)
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(value, ast.Call)
        and len(value.args) == 1
        and isinstance(value.args[0], ast.Name)
    )
    if not shaped:
        raise allowed_python.fail(hint, scanned.number, stmt)
    assert isinstance(stmt, ast.Assign)
    assert isinstance(value, ast.Call)
    child, parent = stmt.targets[0], value.args[0]
    assert isinstance(child, ast.Name)
    assert isinstance(parent, ast.Name)
    return Fork(*_common(scanned, None, 0), child.id, parent.id)


def _parse_expect(scanned: ScannedLine, label: str | None, keyword: Word) -> Expect:
    """``expect COND`` / ``expect STMT fails ERRNO`` / ``expect STMT kills SIGNAL``."""
    common = _common(scanned, label, keyword.start)
    body_start = keyword.end
    if not scanned.code[body_start:].strip():
        raise ScenarioError("expect what?", scanned.number, keyword.end + 1)
    split = _trailing_mode(scanned, body_start)
    if split is None:
        stmt = parse_python(scanned, body_start, len(scanned.code))
        if not isinstance(stmt, ast.Expr):
            msg = "expect needs a condition (compare with ==), or a call followed by 'fails ERRNO'"
            raise allowed_python.fail(msg + " or 'kills SIGNAL'", scanned.number, stmt)
        cond = stmt.value
        allowed_python.check_expr(cond, scanned.number, compare=True)
        return Expect(*common, ast.Expr(cond), "holds")
    mode_word, code_word = split
    stmt = parse_python(scanned, body_start, mode_word.start)
    allowed_python.check_stmt(stmt, scanned.number)
    if code_word is None:
        what = "an errno name, such as EINVAL" if mode_word.text == "fails" else "a signal"
        raise ScenarioError(f"'{mode_word.text}' needs {what}", scanned.number, mode_word.end + 1)
    mode: ExpectMode = "fails" if mode_word.text == "fails" else "kills"
    return Expect(*common, stmt, mode, code_word.text, code_word.start)


def _parse_ask(scanned: ScannedLine, label: str | None, keyword: Word) -> Ask:
    """``ask STEP [among A, B, ...]``: STEP is parsed as its own line, ``ask`` blanked out.

    A comparison (``ask frame(p) == frame(q)``) is asked as ``ask expect``: does it hold?
    """
    code = scanned.code
    if not code[keyword.end :].strip():
        msg = "ask what? (ask q[0:5], ask msync(p, 4096, MS_SYNC), ask expect COND)"
        raise ScenarioError(msg, scanned.number, keyword.end + 1)
    among = next((w for w in scanned.words if w.start > keyword.end and w.text == "among"), None)
    end = among.start if among is not None else len(code)
    blanked = code[: keyword.start] + " " * (keyword.end - keyword.start) + code[keyword.end : end]
    inner_scan = scan_line(blanked.rstrip(), scanned.number)
    body = inner_scan.word_after(keyword.end)
    if body is not None and _is_keyword_at(inner_scan, body, keyword.end):
        if body.text != "expect":
            msg = f"ask takes a call, a load, a store, a value or an expect, not '{body.text}'"
            raise ScenarioError(msg, scanned.number, body.start + 1)
        inner: Step | Note = parse_line(inner_scan.code, scanned.number)
    else:
        stmt = parse_python(inner_scan, keyword.end, len(inner_scan.code))
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Compare):
            allowed_python.check_expr(stmt.value, scanned.number, compare=True)
            inner = Expect(*_common(inner_scan, label, keyword.end), ast.Expr(stmt.value), "holds")
        else:
            inner = parse_line(inner_scan.code, scanned.number)
    if not isinstance(inner, Do | Expect):
        msg = "ask takes a call, a load, a store, a value or an expect"
        raise ScenarioError(msg, scanned.number, keyword.end + 2)
    choices: tuple[ast.expr, ...] = ()
    if among is not None:
        if not code[among.end :].strip():
            raise ScenarioError("among what? (among 0, -1)", scanned.number, among.end + 1)
        expr = parse_expr(scanned, among.end, len(code))
        choices = tuple(expr.elts) if isinstance(expr, ast.Tuple) else (expr,)
        for choice in choices:
            allowed_python.check_expr(choice, scanned.number)
    return Ask(*_common(scanned, label, keyword.start), inner, choices)


def _trailing_mode(scanned: ScannedLine, start: int) -> tuple[Word, Word | None] | None:
    """The ``fails``/``kills`` word and the name after it, when the line ends so."""
    words = [w for w in scanned.words if w.start >= start]
    for i, word in enumerate(words):
        if word.text in ("fails", "kills"):
            rest = words[i + 1 :]
            code = rest[0] if rest else None
            tail = scanned.code[(code or word).end :].strip()
            if len(rest) > 1 or tail:
                col = (code or word).end + 1
                raise ScenarioError(f"nothing may follow '{word.text} NAME'", scanned.number, col)
            return word, code
    return None


def _parse_show(scanned: ScannedLine, label: str | None, keyword: Word) -> Show:
    """``show KIND [PROCESS] [EXPR, ...]`` or ``show file PATH``."""
    common = _common(scanned, label, keyword.start)
    kind_word = scanned.word_after(keyword.end)
    if kind_word is None or scanned.code[keyword.end : kind_word.start].strip():
        kinds = ", ".join(SHOW_KINDS)
        raise ScenarioError(f"show what? ({kinds})", scanned.number, keyword.end + 2)
    if kind_word.text not in SHOW_KINDS:
        kinds = ", ".join(SHOW_KINDS)
        msg = f"cannot show '{kind_word.text}' (show {kinds})"
        raise ScenarioError(msg, scanned.number, kind_word.start + 1)
    if kind_word.text in ("file", "cache"):
        path, _ = _path_at(scanned, kind_word.end)
        return Show(*common, kind_word.text, None, (), path)
    target, rest = label, kind_word.end
    if label is None:
        proc = scanned.word_after(kind_word.end)
        if proc is None or scanned.code[kind_word.end : proc.start].strip():
            msg = f"show {kind_word.text} of which process? (show {kind_word.text} A)"
            raise ScenarioError(msg, scanned.number, kind_word.end + 1)
        target, rest = proc.text, proc.end
    args: tuple[ast.expr, ...] = ()
    if kind_word.text == "layout" and scanned.code[rest:].strip():
        col = len(scanned.code) - len(scanned.code[rest:].lstrip()) + 1
        msg = "show layout draws the whole address space; it takes no address"
        raise ScenarioError(msg, scanned.number, col)
    if scanned.code[rest:].strip():
        expr = parse_expr(scanned, rest, len(scanned.code))
        args = tuple(expr.elts) if isinstance(expr, ast.Tuple) else (expr,)
        for arg in args:
            allowed_python.check_expr(arg, scanned.number)
    return Show(*common, kind_word.text, target, args)


def _parse_file_setup(scanned: ScannedLine, label: str | None, keyword: Word) -> FileSetup:
    """``file PATH DATA``: PATH bare (``/tmp/f``) or quoted; DATA an expression."""
    if label is not None:
        msg = "a file line stands on its own: it is written from outside every process"
        raise ScenarioError(msg, scanned.number, 1)
    path, end = _path_at(scanned, keyword.end)
    if not scanned.code[end:].strip():
        raise ScenarioError('the file needs its contents, such as ""', scanned.number, end + 1)
    data = parse_expr(scanned, end, len(scanned.code))
    allowed_python.check_expr(data, scanned.number)
    return FileSetup(*_common(scanned, None, keyword.start), path, data)


def _path_at(scanned: ScannedLine, start: int) -> tuple[str, int]:
    """A path at ``start``: a quoted string or a bare word starting with '/'."""
    code = scanned.code
    offset = len(code[start:]) - len(code[start:].lstrip())
    begin = start + offset
    if begin >= len(code):
        raise ScenarioError("a path is needed here, such as /tmp/f", scanned.number, begin + 1)
    if code[begin] in "'\"":
        end = _string_end(code, begin)
        try:
            value = ast.literal_eval(code[begin:end])
        except (SyntaxError, ValueError) as err:
            raise ScenarioError(f"a bad string: {err}", scanned.number, begin + 1) from None
        assert isinstance(value, str)
        return _checked_path(value, scanned.number, begin + 1), end
    end = begin
    while end < len(code) and not code[end].isspace():
        end += 1
    if code[begin] != "/":
        msg = f"a path starts with '/', not '{code[begin:end]}'"
        raise ScenarioError(msg, scanned.number, begin + 1)
    return code[begin:end], end


def _checked_path(path: str, line: int, col: int) -> str:
    """A quoted path must be a C string: no NUL, nothing that UTF-8 cannot encode."""
    message = path_problem(path)
    if message is not None:
        raise ScenarioError(message, line, col)
    return path


def _string_end(code: str, begin: int) -> int:
    """The column just after the string literal that opens at ``begin``."""
    pos = begin + 1
    while code[pos] != code[begin]:
        pos += 2 if code[pos] == "\\" else 1
    return pos + 1
