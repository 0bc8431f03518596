"""Running a scenario on the simulator and keeping, for each step, what the page shows.

The scenario's :class:`~mmapsim.scenario.runner.Runner` yields one result per
step as the step runs; between two results the machine is still, so the
recorder takes the snapshot there.  The kernel's typed events are collected by
a listener on the event bus for the whole run and cut at the same boundaries,
so each step keeps the events it caused, with the pids, addresses and frames
the page links to.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mmapsim.events import Event
from mmapsim.machine import Machine
from mmapsim.scenario.checker import check_scenario
from mmapsim.scenario.parser import parse_file
from mmapsim.scenario.render import result_lines
from mmapsim.scenario.runner import Runner, StepResult
from mmapsim.scenario.syntax import Note, Scenario
from mmapsim.viz.snapshot import Json, snapshot


@dataclass
class StepRecord:
    """One step as the page shows it: source, result text, events, state after it."""

    line: int
    process: str | None
    source: str
    result: list[str]
    events: list[Json]
    state: Json
    failed: bool = False
    narration: list[str] = field(default_factory=list)


@dataclass
class Recording:
    """A whole run: the scenario's title and path, and its steps."""

    path: str
    title: str
    initial: Json
    steps: list[StepRecord]


def event_json(event: Event) -> Json:
    """An event in words, with the fields the page links to (pid, va, pfn...)."""
    view: Json = {"kind": type(event).__name__, "text": event.describe()}
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


def _step_record(result: StepResult, events: list[Event], state: Json) -> StepRecord:
    step = result.step
    failed = result.expect is not None and not result.expect.ok
    return StepRecord(
        line=step.line,
        process=step.process,
        source=step.source + (f"   # {step.comment}" if step.comment else ""),
        result=[str(text).strip() for text in result_lines(result)],
        events=[event_json(e) for e in events],
        state=state,
        failed=failed,
    )


def record(scenario: Scenario) -> Recording:
    """Run ``scenario`` on a new simulated machine, keeping every step's picture."""
    events: list[Event] = []
    narration = _narration(scenario)
    steps: list[StepRecord] = []
    with Machine() as machine:
        unsubscribe = machine.events.subscribe(events.append)
        initial = snapshot(machine)
        try:
            runner = Runner(machine)
            for result in runner.run(scenario):
                names = {scope.process.pid: name for name, scope in runner.scopes.items()}
                record_ = _step_record(result, list(events), snapshot(machine, names))
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
