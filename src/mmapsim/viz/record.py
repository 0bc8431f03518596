"""Running a scenario on the simulator and keeping, for each step, what the page shows.

The scenario's :class:`~mmapsim.scenario.run.runner.Runner` yields one result per
step as the step runs; between two results the machine is still, so the
recorder brings its :class:`~mmapsim.viz.tracker.Tracker` up to date there and
keeps the delta.  The kernel's typed events are collected by a listener on the
event bus for the whole run and cut at the same boundaries, so each step keeps
the events it caused, with the pids, addresses and frames the page links to.

A step that only loads or stores (no call, no fork, no file) is looked at
through its events and the bytes it stored; every other step is looked at
whole.  Stores through a typed view (``p.int[0] = 101``) are remembered so that
the frames show those bytes as integers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmapsim.constants import PAGE_SHIFT
from mmapsim.events import Event, FaultAround, SignalSent
from mmapsim.machine import Machine
from mmapsim.scenario.lang.calls import VIEWS
from mmapsim.scenario.lang.checker import check_scenario
from mmapsim.scenario.lang.parser import parse_file
from mmapsim.scenario.lang.syntax import Do, Expect, Note, Scenario, Show
from mmapsim.scenario.render import result_lines
from mmapsim.scenario.run.runner import Runner, StepResult
from mmapsim.viz.snapshot import Json
from mmapsim.viz.tracker import Hints, Tracker

#: A store through more pages than this is looked at whole.
MAX_HINTED_PAGES = 64
_VIEW = re.compile(r"\.(" + "|".join(VIEWS) + r")\s*\[")


@dataclass
class StepRecord:
    """One step as the page shows it: source, result text, events, and the delta."""

    line: int
    process: str | None
    source: str
    result: list[str]
    events: list[Json]
    delta: Json
    failed: bool = False
    narration: list[str] = field(default_factory=list)


@dataclass
class Recording:
    """A whole run: the title and path, the machine before the first step, the steps."""

    path: str
    title: str
    initial: Json
    steps: list[StepRecord]


def event_json(event: Event, names: dict[int, str] | None = None) -> Json:
    """An event in words, with the fields the page links to (pid, va, pfn...).

    ``names`` gives the scenario's process names by pid, so that the words say
    ``A`` or ``Child`` as the run's trace does, not ``pid 102``.
    """
    view: Json = {"kind": type(event).__name__, "text": event.describe(names)}
    for f in dataclasses.fields(event):
        value: Any = getattr(event, f.name)
        if f.name in ("pid", "va", "pfn", "old_pfn", "new_pfn", "pgoff", "path"):
            view[f.name] = value
    return view


def _narration(scenario: Scenario) -> dict[int, list[str]]:
    """The comment lines before each step, keyed by the step's line."""
    pending: list[str] = []
    found: dict[int, list[str]] = {}
    for item in scenario.items:
        if isinstance(item, Note):
            if item.text is not None:
                pending.append(item.text)
            continue
        found[item.line] = pending
        pending = []
    return found


def typed_stores(source: str, stores: list[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    """The stores of a step that went through a typed view: (address, width, signed)."""
    views = [VIEWS[m.group(1)] for m in _VIEW.finditer(source)]
    out: list[tuple[int, int, bool]] = []
    for addr, size in stores:
        match = next((v for v in views if v[0] == size), None)
        if match is not None:
            out.append((addr, match[0], match[1]))
    return out


def step_hints(result: StepResult, events: list[Event], pid: int | None) -> Hints | None:
    """What a load-or-store step may have changed, or None when it must be looked at whole."""
    step = result.step
    if isinstance(step, Show):
        return Hints()
    if not isinstance(step, Do | Expect) or result.calls or result.killed is not None:
        return None
    hints = Hints()
    for event in events:
        if isinstance(event, SignalSent):
            return None
        if isinstance(event, FaultAround):
            hints.vmas.add((event.pid, event.va))
        e_pid, va = getattr(event, "pid", None), getattr(event, "va", None)
        if e_pid is not None and va is not None:
            hints.pages.add((e_pid, va >> PAGE_SHIFT))
        for name in ("pfn", "old_pfn", "new_pfn"):
            pfn = getattr(event, name, None)
            if pfn is not None:
                hints.frames.add(pfn)
    for addr, size in result.stores:
        first, last = addr >> PAGE_SHIFT, (addr + max(size, 1) - 1) >> PAGE_SHIFT
        if pid is None or last - first >= MAX_HINTED_PAGES:
            return None
        hints.pages.update((pid, vpn) for vpn in range(first, last + 1))
    return hints


def _stored_frames(tracker: Tracker, pid: int | None, hints: Hints) -> None:
    """Add to ``hints`` the frames the step's process maps where it stored."""
    if pid is None:
        return
    pages = tracker.pages.get(pid, {})
    for p, vpn in hints.pages:
        if p == pid and vpn in pages:
            hints.frames.add(pages[vpn][0])


def _step_record(
    result: StepResult, events: list[Event], delta: Json, names: dict[int, str]
) -> StepRecord:
    step = result.asked or result.step  # a question shows its ask line
    failed = result.failed  # an expect that did not hold, a death no expect announced
    return StepRecord(
        line=step.line,
        process=step.process,
        source=step.source + (f"   # {step.comment}" if step.comment else ""),
        result=[str(text).rstrip() for text in result_lines(result)],
        events=[event_json(e, names) for e in events],
        delta=delta,
        failed=failed,
    )


Observer = Callable[[Machine, Tracker, dict[int, str]], None]


def record(scenario: Scenario, observer: Observer | None = None) -> Recording:
    """Run ``scenario`` on a new simulated machine, keeping every step's picture.

    ``observer`` is called after each step with the machine, the tracker and
    the processes' names (the tests compare the tracker with a fresh picture).
    """
    events: list[Event] = []
    narration = _narration(scenario)
    steps: list[StepRecord] = []
    with Machine() as machine:
        unsubscribe = machine.events.subscribe(events.append)
        tracker = Tracker(machine)
        initial = tracker.update({})
        try:
            runner = Runner(machine)
            for result in runner.run(scenario):
                names = {scope.process.pid: name for name, scope in runner.scopes.items()}
                scope = runner.scopes.get(result.step.process or "")
                pid = scope.process.pid if scope is not None else None
                hints = step_hints(result, events, pid)
                if hints is not None:
                    _stored_frames(tracker, pid, hints)
                for addr, width, signed in typed_stores(result.step.source, result.stores):
                    frames = tracker.note_typed(addr, width, signed)
                    if hints is not None:
                        hints.frames |= frames
                delta = tracker.update(names, hints)
                if observer is not None:
                    observer(machine, tracker, names)
                record_ = _step_record(result, list(events), delta, names)
                record_.narration = narration.get(result.step.line, [])
                steps.append(record_)
                events.clear()
        finally:
            unsubscribe()
    return Recording(scenario.path, scenario.title or scenario.path, initial, steps)


def record_file(path: str) -> Recording:
    """Parse, check and record the scenario in ``path``."""
    scenario = parse_file(path)
    check_scenario(scenario)
    return record(scenario)
