"""Running a scenario's steps on a machine, one :class:`StepResult` per step.

The runner works with any object that implements API.md (the simulated
``mmapsim.Machine`` or ``mmapsim.host.HostMachine``).  The first line labelled
with a process name spawns that process; ``C = fork(A)`` forks.  Results are
plain data: :mod:`mmapsim.scenario.render` prints them and
:mod:`mmapsim.scenario.run.compare` compares two runs.
"""

from __future__ import annotations

import ast
import errno
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from mmapsim.clock import NS_PER_SEC
from mmapsim.contract import CRASH_NEEDS_SIM, MachineAPI, crash, sync
from mmapsim.errors import HostRefused, HostTimeout, NotOnThisKernel, ProcessKilled
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.syntax import (
    Ask,
    Crash,
    Do,
    Expect,
    FileSetup,
    Fork,
    Scenario,
    Show,
    Sleep,
    Spawn,
    Step,
    Sync,
)
from mmapsim.scenario.lang.values import Addr, Value
from mmapsim.scenario.run import clockwork, show, show_memory
from mmapsim.scenario.run.evaluator import CallRecord, Evaluator, Scope
from mmapsim.scenario.run.judge import ExpectOutcome, condition, judge_death, judge_failure
from mmapsim.views.regions_draw import draw_layout


@dataclass(frozen=True, slots=True)
class Killed:
    """A process died of a signal during a step."""

    process: str
    signal: str
    addr: int
    reason: str = ""  # why the kernel sent it: no mapping, protection, beyond end of file
    expected: bool = False  # an ``expect ... kills`` announced it


#: Why the real kernel, which gives no trace, sends these signals for an access.
_HOST_REASONS = {
    "SIGSEGV": "no mapping at this address, or its protection forbids the access",
    "SIGBUS": "the page lies wholly beyond the end of the mapped file",
    "SIGKILL": "out of memory",
}


@dataclass
class StepResult:
    """What one step did: its value, the names it bound, its errno, a death, ..."""

    step: Step
    value: Value | None = None
    bindings: list[tuple[str, Value]] = field(default_factory=list)
    errno: int | None = None
    call_value: bool = False  # the value is what a call returned (-1 on failure)
    killed: Killed | None = None
    expect: ExpectOutcome | None = None
    output: str | None = None
    note: str | None = None
    events: list[str] | None = None
    calls: list[CallRecord] = field(default_factory=list)
    stores: list[tuple[int, int]] = field(default_factory=list)
    skipped: str | None = None  # why the step did not run: its process had died
    asked: Ask | None = None  # the question this step answers (``step`` is its inner step)
    choices: list[Value] = field(default_factory=list)  # the question's ``among`` values

    @property
    def failed(self) -> bool:
        """Whether this step fails the run: an expect that did not hold, an unannounced death."""
        if self.asked is not None:
            return False  # a question's answer is what it is: mmapsim quiz scores it
        if self.skipped is not None:
            return isinstance(self.step, Expect)  # an expect that was never checked
        if self.expect is not None:
            return not self.expect.ok
        return self.killed is not None and not self.killed.expected


class Runner:
    """Runs steps in order on one machine, keeping each process's variables."""

    def __init__(self, machine: MachineAPI, *, trace: bool = False, all_maps: bool = False) -> None:
        self.machine = machine
        self.trace = trace
        self.all_maps = all_maps  # on the host, also the worker's own mappings
        self.scopes: dict[str, Scope] = {}
        self.globals: dict[str, Value] = {}
        self.unborn: dict[str, str] = {}  # a fork that was skipped: why its child is not

    def run(self, scenario: Scenario) -> Iterator[StepResult]:
        """Each step's result, as the step runs; errors name the scenario's file.

        A ``crash`` on a machine that cannot crash (the real kernel) is refused
        before the first step runs.
        """
        if getattr(self.machine, "crash", None) is None:
            for step in scenario.steps:
                if isinstance(step, Crash):
                    raise ScenarioError(CRASH_NEEDS_SIM, step.line, step.col + 1, scenario.path)
        for step in scenario.steps:
            try:
                yield self.run_step(step)
            except ScenarioError as err:
                raise err.in_file(scenario.path) from None

    def run_step(self, step: Step) -> StepResult:
        """Run one step (with the kernel's events when tracing).

        A process is spawned before the recording starts, so that a trace shows
        what the step did, not how the new program was loaded.
        """
        if isinstance(step, Ask):
            return self._ask(step)
        skipped = self._why_skipped(step)
        if skipped is not None:
            return StepResult(step, skipped=skipped)
        if step.process is not None and step.process not in self.scopes:
            self.scope(step.process, step.line)
        if isinstance(step, FileSetup):
            return self._dispatch(step)
        with self._recording() as events:
            result = self._dispatch(step)
        if events is not None:
            self._explain_death(result, events)
            if self.trace:
                names = self.names()
                result.events = [event.describe(names) for event in events]
        elif result.killed is not None:
            self._explain_death(result, [])
        return result

    def _ask(self, step: Ask) -> StepResult:
        """A question: its inner step runs as any step; the choices are evaluated after."""
        result = self.run_step(step.inner)
        result.asked = step
        if step.choices and result.skipped is None:
            scope = self.scopes.get(step.process) if step.process is not None else None
            evaluator = Evaluator(self.machine, scope, self.globals, step.line, self.scopes)
            result.choices = [evaluator.eval(choice) for choice in step.choices]
        return result

    def names(self) -> dict[int, str]:
        """The scenario's process names by pid, for the trace."""
        return {scope.process.pid: name for name, scope in self.scopes.items()}

    def _why_skipped(self, step: Step) -> str | None:
        """Why ``step`` cannot run: its process (or a fork's parent) has died, or never was."""
        name = step.parent if isinstance(step, Fork) else step.process
        if name is None:
            return None
        if name in self.unborn:
            reason = self.unborn[name]
        else:
            scope = self.scopes.get(name)
            if scope is None or scope.ended is None:
                return None
            reason = f"{name} {scope.ended}"
        if isinstance(step, Fork):
            self.unborn[step.child] = f"{step.child} was never made ({reason})"
        return reason

    @staticmethod
    def _explain_death(result: StepResult, events: list[Any]) -> None:
        """Give a death its reason: the simulator's SignalSent, or the signal's meaning."""
        death = result.killed
        if death is None:
            return
        reasons = [getattr(e, "reason", None) for e in events if type(e).__name__ == "SignalSent"]
        reason = reasons[-1] if reasons and reasons[-1] else _HOST_REASONS.get(death.signal, "")
        expected = isinstance(result.step, Expect) and result.step.mode == "kills"
        result.killed = Killed(death.process, death.signal, death.addr, reason, expected)

    def _recording(self) -> AbstractContextManager[list[Any] | None]:
        bus = getattr(self.machine, "events", None)
        if bus is not None:
            recording: AbstractContextManager[list[Any]] = bus.record()
            return recording
        return nullcontext(None)

    def _dispatch(self, step: Step) -> StepResult:
        if isinstance(step, FileSetup):
            data = Evaluator(self.machine, None, self.globals, step.line, self.scopes).eval(
                step.data
            )
            if not isinstance(data, bytes):
                raise ScenarioError("a file holds bytes or a string", step.line, 1)
            try:
                self.machine.write_file(step.path, data)
            except OSError as err:
                name = errno.errorcode.get(err.errno or 0, str(err.errno))
                message = f"cannot write {step.path}: {err.strerror} ({name})"
                raise ScenarioError(message, step.line, step.col + 6) from None
            return StepResult(step, note=f"{step.path} holds {len(data)} bytes")
        if isinstance(step, Fork):
            return self._fork(step)
        if isinstance(step, Spawn):
            return StepResult(step, note=f"process {step.process} starts")
        if isinstance(step, Show):
            return self._show(step)
        if isinstance(step, Sleep):
            return self._sleep(step)
        if isinstance(step, Sync | Crash):
            return self._durability(step)
        if isinstance(step, Expect):
            return self._expect(step)
        assert isinstance(step, Do)
        result = StepResult(step)
        self._execute(step, step.stmt, result)
        return result

    def scope(self, name: str, line: int) -> Scope:
        """The process called ``name``, spawned at its first use."""
        scope = self.scopes.get(name)
        if scope is None:
            with _no_new_process(name, line):
                scope = Scope(name, self.machine.spawn(name))
            self.scopes[name] = scope
        if scope.ended is not None:
            raise ScenarioError(f"process {name} {scope.ended}; it runs nothing more", line, 1)
        return scope

    def _sleep(self, step: Sleep) -> StepResult:
        """A sleep; on the real kernel one lasts at most a call's wall time (never a hang)."""
        limit: float | None = getattr(self.machine, "max_call_seconds", None)  # HostMachine's
        if limit is not None and step.ns > limit * NS_PER_SEC:
            raise ScenarioError(
                f"a sleep on the real kernel lasts at most {limit:g} seconds "
                "(the wall time of one call); split it over lines",
                step.line,
                1,
            )
        note, output = clockwork.sleep(self.machine, step.ns)
        return StepResult(step, note=note, output=output)

    def _fork(self, step: Fork) -> StepResult:
        parent = self.scope(step.parent, step.line)
        with _no_new_process(step.child, step.line):
            child = Scope(step.child, parent.process.fork(), dict(parent.variables))
        child.views = dict(parent.views)
        self.scopes[step.child] = child
        return StepResult(step, note=f"{step.child} is a new process, a copy of {step.parent}")

    def _durability(self, step: Sync | Crash) -> StepResult:
        """``sync`` (sync(2)) or ``crash`` (a power failure: every process dies)."""
        try:
            if isinstance(step, Sync):
                count = sync(self.machine)
                pages = "page" if count == 1 else "pages"
                return StepResult(step, note=f"sync: {count} dirty {pages} written to the disk")
            crash(self.machine)
        except NotOnThisKernel as err:
            raise ScenarioError(str(err), step.line, step.col + 1) from None
        for scope in self.scopes.values():
            if scope.ended is None:
                scope.ended = f"died in the crash at line {step.line}"
        note = "power failure: every process died, the page cache is lost; files hold their disk"
        return StepResult(step, note=note)

    def _execute(self, step: Step, stmt: ast.stmt, result: StepResult) -> Evaluator:
        """Run ``stmt`` in the step's process, filling ``result``."""
        scope = self.scope(step.process, step.line) if step.process is not None else None
        evaluator = Evaluator(self.machine, scope, self.globals, step.line, self.scopes)
        try:
            result.value, result.bindings = evaluator.execute(stmt)
        except ProcessKilled as death:
            assert scope is not None
            result.killed = Killed(scope.name, death.signal.name, death.addr)
            scope.ended = f"was killed by {death.signal.name} at line {step.line}"
        result.errno = evaluator.errno
        result.calls = evaluator.calls
        result.stores = evaluator.stores
        value_node = stmt.value if isinstance(stmt, ast.Assign | ast.Expr) else None
        result.call_value = isinstance(value_node, ast.Call)
        return evaluator

    def _expect(self, step: Expect) -> StepResult:
        result = StepResult(step)
        if step.mode == "holds":
            result.expect = self._holds(step, result)
            return result
        self._execute(step, step.action, result)
        if step.mode == "fails":
            result.expect = judge_failure(result, step.code or "")
        else:
            result.expect = judge_death(result, step.code or "")
        return result

    def _holds(self, step: Expect, result: StepResult) -> ExpectOutcome:
        """``expect COND``: evaluate the condition in the step's process."""
        assert isinstance(step.action, ast.Expr)
        cond = step.action.value
        scope = self.scope(step.process, step.line) if step.process is not None else None
        evaluator = Evaluator(self.machine, scope, self.globals, step.line, self.scopes)
        try:
            return condition(evaluator, cond, step.text_of)
        except ProcessKilled as death:
            assert scope is not None
            result.killed = Killed(scope.name, death.signal.name, death.addr)
            scope.ended = f"was killed by {death.signal.name} at line {step.line}"
            return ExpectOutcome(False, f"{scope.name} was killed by {death.signal.name}")
        finally:
            result.calls = evaluator.calls
            result.errno = evaluator.errno

    def _show(self, step: Show) -> StepResult:
        result = StepResult(step)
        if step.kind in ("file", "cache"):
            assert step.path is not None
            view = show.file_view if step.kind == "file" else show_memory.cache_view
            result.output = view(self.machine, step.path)
            return result
        assert step.target is not None
        scope = self.scopes.get(step.target)
        if scope is None or scope.ended is not None:
            result.output = f"(process {step.target} is not running)"
            return result
        evaluator = Evaluator(self.machine, scope, self.globals, step.line, self.scopes)
        try:
            args = [evaluator.eval(arg) for arg in step.args]
        except ProcessKilled as death:  # an argument loaded from memory it cannot read
            result.killed = Killed(scope.name, death.signal.name, death.addr)
            scope.ended = f"was killed by {death.signal.name} at line {step.line}"
            result.output = f"(process {scope.name} was killed by {death.signal.name})"
            return result
        try:
            result.output = self._show_text(step, scope, args)
        except (HostRefused, HostTimeout) as err:  # show frame of a host worker's page
            if step.args:
                raise evaluator.error(str(err), step.args[0]) from None
            raise ScenarioError(str(err), step.line, 1) from None
        return result

    def _show_text(self, step: Show, scope: Scope, args: list[Value]) -> str:
        numbers = [int(arg) for arg in args if isinstance(arg, int)]
        if len(numbers) != len(args):
            raise ScenarioError("show takes an address, and a length", step.line, 1)
        if step.kind == "maps":
            return self._maps_text(scope)
        if step.kind == "smaps":
            text = scope.process.smaps()
            return show.smaps_at(text, numbers[0]) if numbers else text.rstrip("\n")
        if step.kind == "layout":
            pointers = {n: v for n, v in scope.variables.items() if isinstance(v, Addr)}
            return draw_layout(scope.process.maps(), pointers)
        if step.kind == "frame":
            if not numbers:
                raise ScenarioError("show frame needs an address: show frame A p", step.line, 1)
            return show_memory.frame_view(scope, numbers[0], self.scopes)
        if step.kind == "pages":
            if not numbers:
                raise ScenarioError("show pages needs an address: show pages A p", step.line, 1)
            length = numbers[1] if len(numbers) > 1 else None
            return show.page_table(scope.process, numbers[0], length)
        return show.variables_view(scope.variables)

    def _maps_text(self, scope: Scope) -> str:
        """``show maps``: on the host, the program's own lines unless ``all_maps``."""
        program_maps = getattr(scope.process, "program_maps", None)
        if program_maps is None or self.all_maps:
            return scope.process.maps().rstrip("\n")
        text, left_out = program_maps()
        assert isinstance(text, str)
        note = f"({left_out} mappings of the host worker left out; --all-maps shows them)"
        return (text + note) if left_out else text.rstrip("\n")


@contextmanager
def _no_new_process(name: str, line: int) -> Iterator[None]:
    """A spawn or fork that the machine refuses (EAGAIN at its limit on processes)."""
    try:
        yield
    except OSError as err:
        code = errno.errorcode.get(err.errno or 0, str(err.errno))
        why = "; the machine runs no more processes" if err.errno == errno.EAGAIN else ""
        message = f"process {name} cannot start: {err.strerror} ({code}){why}"
        raise ScenarioError(message, line, 1) from None
