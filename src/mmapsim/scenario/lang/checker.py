"""Names, processes, calls and arity: everything about a scenario that can be
known before it runs.

A scenario has no branches, so which variables each process has at each line is
known exactly: a process starts with the global names, gains a name at each
assignment, and a child starts with a copy of its parent's names.  Every mistake
found here is reported before the first step runs.
"""

from __future__ import annotations

import ast
import difflib
import errno
import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass, field

from mmapsim.constants import C_CONSTANTS
from mmapsim.scenario.lang.allowed_python import fail
from mmapsim.scenario.lang.calls import CALLS, KEYWORDS, NULL, STAT_FIELDS, VIEWS
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.syntax import (
    Ask,
    Do,
    Expect,
    FileSetup,
    Fork,
    Note,
    Scenario,
    Show,
    Step,
)

_CONSTANT_LIKE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+")

_IN_ORDER = "the lines run one after another, in the order they are written"
#: C calls a scenario author may reach for, and what to do instead.
NOT_IN_THE_LANGUAGE = {
    "wait": _IN_ORDER,
    "waitpid": _IN_ORDER,
    "sleep": _IN_ORDER,
    "kill": "a process dies of a load or store the kernel refuses, or calls exit",
    "getpid": "processes are named by their labels (A:, B:)",
    "fork": "write 'C = fork(A)' on a line of its own",
    "malloc": "memory comes from mmap(NULL, n, ..., MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)",
    "free": "munmap(p, n) gives mapped memory back",
    "printf": "every step prints its result; 'show vars A' prints A's variables",
    "sync": "sync is a statement of its own: write 'sync' on its line",
    **dict.fromkeys(
        ("brk", "sbrk", "shm_open", "shmget"),
        "a scenario has mmap, munmap, msync, mprotect, mremap, madvise, mlock and the file calls",
    ),
    "crash": "crash is a statement of its own: write 'crash' on its line",
}


def is_errno_name(name: str) -> bool:
    """Whether ``name`` is an errno name, such as ``EINVAL``."""
    return name.startswith("E") and isinstance(getattr(errno, name, None), int)


def is_signal_name(name: str) -> bool:
    """Whether ``name`` is a signal name, such as ``SIGSEGV``."""
    return name in signal.Signals.__members__


@dataclass
class Checker:
    """The names each process has so far; feed it steps in order."""

    processes: dict[str, set[str]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)

    def check(self, item: Step | Note) -> None:
        """Check one step and record what it defines; raise ScenarioError if wrong."""
        if isinstance(item, Note):
            return
        if item.process is not None and item.process not in self.processes:
            self._new_process(item.process, item.line)
        if isinstance(item, Fork):
            self._check_fork(item)
        elif isinstance(item, Do):
            self._check_stmt(item.stmt, item.process, item.line)
        elif isinstance(item, Expect):
            self._check_expect(item)
        elif isinstance(item, Show):
            self._check_show(item)
        elif isinstance(item, FileSetup):
            self._check_expr(item.data, None, item.line)
        elif isinstance(item, Ask):
            self.check(item.inner)
            for choice in item.choices:
                self._check_expr(choice, item.process, item.line)

    def names(self, process: str | None) -> set[str]:
        """The variables visible in ``process`` (globals only for None)."""
        own = self.processes.get(process, set()) if process is not None else set()
        return own | self.globals

    def _new_process(self, name: str, line: int) -> None:
        if name in C_CONSTANTS or name in CALLS or name == NULL:
            raise ScenarioError(f"'{name}' cannot name a process", line, 1)
        self.processes[name] = set()

    def _check_fork(self, step: Fork) -> None:
        col = step.source.index(step.parent) + 1
        self._need_process(step.parent, step.line, col)
        if step.child in self.processes:
            raise ScenarioError(f"process {step.child} exists already", step.line, 1)
        self._check_new_name(step.child, step.line, 1)
        self.processes[step.child] = set(self.processes[step.parent])

    def _need_process(self, name: str, line: int, col: int) -> None:
        if name not in self.processes:
            hint = f"a process starts at its first labelled line, '{name}: ...'"
            raise ScenarioError(f"unknown process {name} ({hint})", line, col)

    def _check_expect(self, step: Expect) -> None:
        if step.mode == "kills" and step.process is None:
            msg = "which process is killed? label the line, as in 'A: expect ... kills SIGSEGV'"
            raise ScenarioError(msg, step.line, 1)
        self._check_stmt(step.action, step.process, step.line)
        code = step.code or ""
        if step.mode == "fails" and not is_errno_name(code):
            self._unknown(code, "errno name", _errno_names(), step.line, step.code_col)
        if step.mode == "kills" and not is_signal_name(code):
            self._unknown(code, "signal", signal.Signals.__members__, step.line, step.code_col)

    def _check_show(self, step: Show) -> None:
        if step.target is not None and step.target not in self.processes:
            col = step.source.find(step.target, len("show")) + 1
            self._need_process(step.target, step.line, max(col, 1))
        for arg in step.args:
            self._check_expr(arg, step.target, step.line)

    def _check_stmt(self, stmt: ast.stmt, process: str | None, line: int) -> None:
        if isinstance(stmt, ast.Assign):
            self._check_expr(stmt.value, process, line)
            target = stmt.targets[0]
            self._define(target, process, line)
        elif isinstance(stmt, ast.AugAssign):
            self._check_expr(stmt.value, process, line)
            self._check_expr(_as_load(stmt.target), process, line)
        elif isinstance(stmt, ast.Expr):
            self._check_expr(stmt.value, process, line)

    def _define(self, target: ast.expr, process: str | None, line: int) -> None:
        if isinstance(target, ast.Subscript):
            self._check_expr(target, process, line)
            return
        names = target.elts if isinstance(target, ast.Tuple) else [target]
        scope = self.processes[process] if process is not None else self.globals
        for node in names:
            assert isinstance(node, ast.Name)
            self._check_new_name(node.id, line, node.col_offset + 1)
            scope.add(node.id)

    def _check_new_name(self, name: str, line: int, col: int) -> None:
        if name in KEYWORDS or name == "fork":
            raise ScenarioError(f"'{name}' is a keyword, not a variable", line, col)
        if name in CALLS:
            raise ScenarioError(f"{name} is a call, not a variable", line, col)
        if name in C_CONSTANTS or name == NULL:
            raise ScenarioError(f"{name} is a C constant; it cannot change", line, col)
        if name in self.processes:
            raise ScenarioError(f"{name} names a process, not a variable", line, col)

    def _check_expr(self, expr: ast.expr, process: str | None, line: int) -> None:
        visible = self.names(process)
        skip: set[int] = set()
        for node in ast.walk(expr):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Call):
                skip.add(id(node.func))
                self._check_call(node, process, line)
            elif isinstance(node, ast.Attribute) and self._qualified(node, line):
                skip.add(id(node.value))
            elif isinstance(node, ast.Name):
                self._check_name(node, visible, process, line)

    def _qualified(self, node: ast.Attribute, line: int) -> bool:
        """Check ``A.p`` (the variable p of process A); False if ``node`` is not one."""
        owner = node.value
        if not isinstance(owner, ast.Name) or node.attr in STAT_FIELDS or node.attr in VIEWS:
            return False
        if owner.id not in self.processes:
            self._need_process(owner.id, line, owner.col_offset + 1)
        if node.attr not in self.processes[owner.id]:
            msg = f"undefined variable '{node.attr}' in process {owner.id}"
            raise ScenarioError(msg, line, node.col_offset + 1)
        return True

    def _check_call(self, node: ast.Call, process: str | None, line: int) -> None:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        spec = CALLS.get(name)
        if spec is None:
            if name in NOT_IN_THE_LANGUAGE:
                msg = f"{name}() is not part of the language: {NOT_IN_THE_LANGUAGE[name]}"
                raise ScenarioError(msg, line, node.col_offset + 1)
            self._unknown(name, "call", CALLS, line, node.col_offset)
            return
        if spec.in_process and process is None:
            msg = f"{name}() runs in a process: label the line, as in 'A: {name}(...)'"
            raise fail(msg, line, node)
        count = len(node.args)
        if not spec.min_args <= count <= spec.max_args:
            wanted = str(spec.max_args)
            if spec.optional:
                wanted = f"{spec.min_args} or {spec.max_args}"
            msg = f"{name} takes {wanted} arguments, not {count}: {spec.prototype()}"
            raise fail(msg, line, node)

    def _check_name(
        self, node: ast.Name, visible: set[str], process: str | None, line: int
    ) -> None:
        name = node.id
        if name in visible or name in C_CONSTANTS or name == NULL:
            return
        if name in CALLS:
            args = ", ".join(p for p, _ in CALLS[name].params)
            raise fail(f"{name} is a call: write {name}({args})", line, node)
        if name in self.processes:
            raise fail(f"{name} is a process, not a value", line, node)
        if _CONSTANT_LIKE.fullmatch(name):
            self._unknown(name, "constant", C_CONSTANTS, line, node.col_offset)
        owners = sorted(p for p, names in self.processes.items() if name in names)
        where = f" in process {process}" if process else ""
        if owners:
            msg = f"undefined variable '{name}'{where} ({name} belongs to {', '.join(owners)})"
            raise fail(msg, line, node)
        self._unknown(name, "variable", visible, line, node.col_offset, where)

    @staticmethod
    def _unknown(
        name: str, what: str, known: Iterable[str], line: int, col: int, where: str = ""
    ) -> None:
        """Raise ``unknown WHAT 'NAME'`` (``undefined variable`` for variables), with a hint."""
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]}?)" if close else ""
        head = "undefined variable" if what == "variable" else f"unknown {what}"
        raise ScenarioError(f"{head} '{name}'{where}{hint}", line, col + 1)


def check_scenario(scenario: Scenario) -> None:
    """Check every step of ``scenario``; errors name its file."""
    recovery = scenario.recovery_scenario()
    for part in (scenario, recovery) if recovery is not None else (scenario,):
        checker = Checker()  # the recovery section starts on a new machine: no names
        for item in part.items:
            try:
                checker.check(item)
            except ScenarioError as err:
                raise err.in_file(scenario.path) from None


def _as_load(target: ast.expr) -> ast.expr:
    """An augmented assignment's target, read as a value (``x`` of ``x += 1``)."""
    if isinstance(target, ast.Name):
        return ast.Name(target.id, ast.Load(), col_offset=target.col_offset)
    return target


def _errno_names() -> list[str]:
    return [name for name in dir(errno) if is_errno_name(name)]
