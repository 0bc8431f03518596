"""Evaluating checked expressions and statements against a machine.

A call that fails returns what C returns (``-1``, or ``MAP_FAILED`` for mmap)
and leaves its errno in :attr:`Evaluator.errno`, so a scenario line behaves like
the C line it mirrors.  A load or store that the kernel answers with a signal
raises :class:`mmapsim.ProcessKilled` out of the evaluator; the runner reports it.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mmapsim.constants import C_CONSTANTS, MAP_FAILED
from mmapsim.contract import MachineAPI, ProcessAPI, read_disk, syscall
from mmapsim.errors import HostRefused, HostTimeout, NotOnThisKernel
from mmapsim.scenario.lang import arith
from mmapsim.scenario.lang.allowed_python import BINOPS
from mmapsim.scenario.lang.bounds import MAX_ACCESS, check_held, check_int
from mmapsim.scenario.lang.calls import CALLS, NULL, VIEWS, Returns
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.ipc_values import SHM_FIELDS, WAIT_MACROS, ShmDs, ipc_args, wrap_ipc
from mmapsim.scenario.lang.program import program
from mmapsim.scenario.lang.values import (
    Addr,
    Frame,
    Stat,
    Value,
    WrongValueError,
    answer_value,
    as_int,
    kind_of,
    to_c,
    utf8,
)
from mmapsim.scenario.run import procview
from mmapsim.scenario.run.show import read_whole_file


@dataclass
class CallRecord:
    """One call made by a step, with what it returned or the errno it failed with."""

    process: str | None
    name: str
    args: tuple[int | bytes | str, ...]
    result: Value | None
    errno: int | None


@dataclass
class Scope:
    """A process as a scenario knows it: the machine's process and its variables."""

    name: str
    process: ProcessAPI
    variables: dict[str, Value] = field(default_factory=dict)
    ended: str | None = None  # why it can run nothing more, once it cannot
    views: dict[int, tuple[int, bool]] = field(default_factory=dict)  # p.int[i]: where, as what


@dataclass(frozen=True, slots=True)
class _Place:
    """Memory named by a subscript: where, how many bytes, and as what."""

    addr: int
    size: int | None
    view: tuple[int, bool] | None


class Evaluator:
    """Evaluates the expressions of one step, in one process (or none)."""

    def __init__(
        self,
        machine: MachineAPI,
        scope: Scope | None,
        globals_: dict[str, Value],
        line: int,
        scopes: Mapping[str, Scope] | None = None,
    ) -> None:
        self.machine = machine
        self.scope = scope
        self.globals = globals_
        self.line = line
        self.scopes = scopes or {}
        self.calls: list[CallRecord] = []
        self.errno: int | None = None
        self.stores: list[tuple[int, int]] = []  # (address, size) of each store

    def error(self, message: str, node: ast.AST) -> ScenarioError:
        """A ScenarioError at ``node``."""
        return ScenarioError(message, self.line, getattr(node, "col_offset", 0) + 1)

    # -- statements ---------------------------------------------------------

    def execute(self, stmt: ast.stmt) -> tuple[Value | None, list[tuple[str, Value]]]:
        """Run one statement: its value and the names it bound."""
        if isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value)
            return value, self.assign(stmt.targets[0], value)
        if isinstance(stmt, ast.AugAssign):
            current = self.eval(_loaded(stmt.target))
            value = self.binop(stmt.op, current, self.eval(stmt.value), stmt)
            return value, self.assign(stmt.target, value)
        assert isinstance(stmt, ast.Expr)
        return self.eval(stmt.value), []

    def assign(self, target: ast.expr, value: Value) -> list[tuple[str, Value]]:
        """Bind names, or store into memory; the names bound."""
        if isinstance(target, ast.Subscript):
            try:
                self.store(target, value)
            except (HostRefused, HostTimeout, WrongValueError) as err:  # WrongValue: a bad index
                raise self.error(str(err), target) from None
            return []
        if isinstance(target, ast.Tuple):
            if not isinstance(value, tuple) or len(value) != len(target.elts):
                raise self.error(f"cannot unpack {kind_of(value)} into names", target)
            pairs: list[tuple[str, Value]] = [
                (_name_of(t), v) for t, v in zip(target.elts, value, strict=True)
            ]
        else:
            pairs = [(_name_of(target), value)]
        variables = self.scope.variables if self.scope is not None else self.globals
        if any(isinstance(v, bytes) for _, v in pairs):
            tables = [self.globals, *(s.variables for s in self.scopes.values())]
            others = [t for t in tables if t is not variables]
            try:
                check_held([{**variables, **dict(pairs)}, *others])
            except WrongValueError as err:
                raise self.error(str(err), target) from None
        variables.update(pairs)
        return pairs

    # -- expressions --------------------------------------------------------

    def eval(self, node: ast.expr) -> Value:
        """The value of a checked expression."""
        try:
            return self._eval(node)
        except WrongValueError as err:
            raise self.error(str(err), node) from None
        except (HostRefused, HostTimeout) as err:  # the host's boundary and limits
            raise self.error(str(err), node) from None

    def _eval(self, node: ast.expr) -> Value:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str):
                return utf8(value)
            if isinstance(value, int):
                return check_int(value)
            if isinstance(value, bytes):
                return value
            raise self.error("this constant is not part of the language", node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.eval(node.left), self.eval(node.right), node)
        if isinstance(node, ast.UnaryOp):
            number = as_int(self.eval(node.operand))
            if isinstance(node.op, ast.USub):
                return -number
            return check_int(~number) if isinstance(node.op, ast.Invert) else number
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            return self.load(node)
        if isinstance(node, ast.Attribute):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in self.scopes:
                return self.scopes[owner.id].variables[node.attr]
            base = self.eval(node.value)
            if isinstance(base, ShmDs) and node.attr in SHM_FIELDS:
                return getattr(base, node.attr)  # type: ignore[no-any-return]
            if not isinstance(base, Stat):
                raise self.error(f".{node.attr} is a field of fstat's answer", node)
            return int(getattr(base, node.attr))
        raise self.error("this expression is not part of the language", node)

    def name(self, node: ast.Name) -> Value:
        """A variable, a global, NULL or a C constant."""
        if self.scope is not None and node.id in self.scope.variables:
            return self.scope.variables[node.id]
        if node.id in self.globals:
            return self.globals[node.id]
        if node.id == NULL:
            return Addr(0)
        if node.id in C_CONSTANTS:
            value = C_CONSTANTS[node.id]
            return Addr(value) if value == MAP_FAILED else value
        raise self.error(f"undefined variable '{node.id}'", node)

    def binop(self, op: ast.operator, left: Value, right: Value, node: ast.AST) -> Value:
        """``left op right`` with C's integer arithmetic, and bytes joined or repeated."""
        try:
            return arith.apply(BINOPS[type(op)], left, right)
        except WrongValueError as err:
            raise self.error(str(err), node) from None

    # -- calls --------------------------------------------------------------

    def call(self, node: ast.Call) -> Value:
        """A system call or a helper, by its C name."""
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        spec = CALLS[name]
        args = []
        for arg, (_, ctype) in zip(node.args, spec.params, strict=False):
            try:
                args.append(to_c(self.eval(arg), ctype))
            except WrongValueError as err:
                raise self.error(str(err), arg) from None
        if name == "len":
            if not isinstance(args[0], bytes):
                raise self.error("len() measures bytes", node)
            return len(args[0])
        if name == "program":
            return program()
        if name == "file":
            return self._invoke(node, args, lambda: read_whole_file(self.machine, str(args[0])))
        if name in WAIT_MACROS:
            return WAIT_MACROS[name](int(args[0]))
        if name == "disk":
            path = str(args[0])
            return self._invoke(node, args, lambda: read_whole_file(self.machine, path, read_disk))
        if name in ("read", "pread") and isinstance(args[1], int) and args[1] > MAX_ACCESS:
            args[1] = MAX_ACCESS  # a short read, as Linux's stops at MAX_RW_COUNT
        process = self.process(node)
        if name == "shmctl":
            args = ipc_args(args)
        if name in ("memcpy", "memset"):
            return self._memory_call(process, name, args, node)
        if name == "frame":
            pfn = process.pagemap(int(args[0])).pfn
            return Frame(-1 if pfn is None else pfn)
        if name in ("start", "perms", "smaps"):
            return procview.view(process, name, args)
        result = self._invoke(node, args, lambda: syscall(process, name)(*args))
        if name in ("exit", "_exit") and self.scope is not None:
            self.scope.ended = f"exited at line {self.line}"
        return result

    def _invoke(self, node: ast.Call, args: list[Any], run: Any) -> Value:
        """Run ``run()``; a failing call gives C's failure value and sets errno.

        An exception other than OSError from the machine is a bug of mmapsim
        (the contract allows none for converted arguments); it is reported at
        the call's place instead of as a traceback.
        """
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        process = self.scope.name if self.scope is not None else None
        try:
            result = run()
        except NotOnThisKernel as err:
            raise self.error(str(err), node) from None
        except (ValueError, TypeError, OverflowError) as err:
            message = f"{name}: the machine failed ({type(err).__name__}: {err}), a bug of mmapsim"
            raise self.error(message, node) from None
        except (HostRefused, HostTimeout):
            raise
        except OSError as err:
            self.errno = err.errno
            failed: Value = Addr(MAP_FAILED) if CALLS[name].returns is Returns.ADDR else -1
            self.calls.append(CallRecord(process, name, tuple(args), None, err.errno))
            return failed
        ipc = wrap_ipc(name, result, self.scope, self.scopes)
        wrapped = answer_value(CALLS[name].returns, result) if ipc is None else ipc
        self.calls.append(CallRecord(process, name, tuple(args), wrapped, None))
        return wrapped

    def _memory_call(self, process: ProcessAPI, name: str, args: list[Any], node: ast.AST) -> Value:
        dest, middle, count = args
        if count > MAX_ACCESS:
            raise self.error(f"{name} of more than {MAX_ACCESS} bytes", node)
        if name == "memcpy":
            data = process.load(middle, count)
        else:
            data = bytes([middle & 0xFF]) * count
        process.store(dest, data)
        return Addr(dest)

    def process(self, node: ast.AST) -> ProcessAPI:
        """The process this step runs in (a memory access or call needs one)."""
        if self.scope is None:
            raise self.error("this runs in a process: label the line, as in 'A: ...'", node)
        return self.scope.process

    # -- memory -------------------------------------------------------------

    def load(self, node: ast.Subscript) -> Value:
        """``p[i]``, ``p[a:b]``, ``p.int[i]`` as a load; slicing when the base is bytes."""
        base_node, view = _view_of(node)
        base = self.eval(base_node)
        if isinstance(base, bytes) and view is None:
            return self._slice_bytes(base, node)
        place = self._place(node, base, view)
        if place.size is None:
            raise self.error("a load needs an end: p[a:b]", node.slice)
        data = self.process(node).load(place.addr, place.size)
        if place.view is not None:
            self._saw_view(place)
            return int.from_bytes(data, "little", signed=place.view[1])
        return data

    def store(self, node: ast.Subscript, value: Value) -> None:
        """``p[i] = v``, ``p[a:b] = v``, ``p.int[i] = v``: the CPU writes memory."""
        base_node, view = _view_of(node)
        base = self.eval(base_node)
        if isinstance(base, bytes):
            raise self.error("bytes values cannot change; store into memory: p[0] = ...", node)
        place = self._place(node, base, view)
        data = _store_bytes(place, value)
        if data is None:
            size = place.size if place.size is not None else "any number of"
            raise self.error(f"cannot store {kind_of(value)} into {size} bytes", node)
        self.process(node).store(place.addr, data)
        self.stores.append((place.addr, len(data)))
        if place.view is not None:
            self._saw_view(place)

    def _saw_view(self, place: _Place) -> None:
        """Remember that the scenario used this place as a typed integer (for show frame)."""
        if self.scope is not None and place.view is not None:
            self.scope.views[place.addr] = place.view

    def _place(self, node: ast.Subscript, base: Value, view: tuple[int, bool] | None) -> _Place:
        if not isinstance(base, int) or isinstance(base, bool):
            raise self.error(f"cannot index {kind_of(base)}", node)
        unit = view[0] if view is not None else 1
        index = node.slice
        if not isinstance(index, ast.Slice):
            offset = as_int(self.eval(index)) * unit
            return _Place((base + offset) % (1 << 64), unit, view)
        if view is not None:
            raise self.error("index a view with one number: p.int[0]", index)
        low = as_int(self.eval(index.lower)) if index.lower is not None else 0
        high = as_int(self.eval(index.upper)) if index.upper is not None else None
        if high is not None and not 0 <= high - low <= MAX_ACCESS:
            raise self.error(f"a slice covers 0 to {MAX_ACCESS} bytes", index)
        size = None if high is None else high - low
        return _Place((base + low) % (1 << 64), size, None)

    def _slice_bytes(self, base: bytes, node: ast.Subscript) -> Value:
        index = node.slice
        if isinstance(index, ast.Slice):
            low = as_int(self.eval(index.lower)) if index.lower is not None else None
            high = as_int(self.eval(index.upper)) if index.upper is not None else None
            return base[low:high]
        position = as_int(self.eval(index))
        if not -len(base) <= position < len(base):
            raise self.error(f"index {position} is outside {len(base)} bytes", index)
        return base[position : position + 1 or None]


def _store_bytes(place: _Place, value: Value) -> bytes | None:
    """The bytes that ``value`` stores at ``place``, or None when it does not fit."""
    if place.view is not None and isinstance(value, int):
        size = place.view[0]
        return (value % (1 << (8 * size))).to_bytes(size, "little")
    if isinstance(value, int) and place.size == 1:
        return bytes([value & 0xFF])
    fits = place.size is None or (isinstance(value, bytes) and place.size == len(value))
    if isinstance(value, bytes) and place.view is None and fits:
        return value
    return None


def _view_of(node: ast.Subscript) -> tuple[ast.expr, tuple[int, bool] | None]:
    value = node.value
    if isinstance(value, ast.Attribute) and value.attr in VIEWS:
        return value.value, VIEWS[value.attr]
    return value, None


def _name_of(node: ast.expr) -> str:
    assert isinstance(node, ast.Name)
    return node.id


def _loaded(target: ast.expr) -> ast.expr:
    if isinstance(target, ast.Name):
        return ast.Name(target.id, ast.Load(), col_offset=target.col_offset)
    return target
