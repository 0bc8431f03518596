"""The step-through page of a failing crash state (``mmapsim crashes --html``).

The page tells the state's story on one simulated machine: the scenario's
first part up to the crash point, then the power failure (with the dirty
pieces that reached the disk and those that did not), then the recovery
section on the machine rebooted on that disk.  It is the page of
``mmapsim run --html`` (:mod:`mmapsim.viz`) with the crash as one more step.
"""

from __future__ import annotations

from pathlib import Path

from mmapsim.crashes.report import Exploration
from mmapsim.crashes.states import CrashState, Piece
from mmapsim.events import Event
from mmapsim.fs import image
from mmapsim.machine import Machine
from mmapsim.scenario.lang.syntax import Scenario
from mmapsim.scenario.render import result_lines
from mmapsim.scenario.run.runner import Runner, StepResult
from mmapsim.viz.page import write_html
from mmapsim.viz.record import Recording, StepRecord, event_json
from mmapsim.viz.snapshot import Json
from mmapsim.viz.tracker import Tracker

#: Pages written into a folder at most (one per failing state, the first ones).
MAX_PAGES = 50


def _record(
    result: StepResult, events: list[Event], delta: Json, names: dict[int, str]
) -> StepRecord:
    step = result.step
    return StepRecord(
        line=step.line,
        process=step.process,
        source=step.source + (f"   # {step.comment}" if step.comment else ""),
        result=[str(text).rstrip() for text in result_lines(result)],
        events=[event_json(e, names) for e in events],
        delta=delta,
        failed=result.expect is not None and not result.expect.ok,
    )


def _run(
    machine: Machine, tracker: Tracker, scenario: Scenario, until: int | None, events: list[Event]
) -> list[StepRecord]:
    """Run the steps of ``scenario`` up to line ``until`` (all: None), one record each."""
    records = []
    runner = Runner(machine)
    for result in runner.run(scenario):
        names = {scope.process.pid: name for name, scope in runner.scopes.items()}
        records.append(_record(result, list(events), tracker.update(names), names))
        events.clear()
        if until is not None and result.step.line >= until:
            break
    return records


def _names(pieces: list[Piece]) -> str:
    return ", ".join(p.describe() for p in pieces) or "nothing"


def record_state(
    scenario: Scenario, recovery: Scenario, state: CrashState, number: int
) -> Recording:
    """The recording of one crash state: first part, power failure, recovery."""
    events: list[Event] = []
    with Machine() as machine:
        unsubscribe = machine.events.subscribe(events.append)
        try:
            tracker = Tracker(machine)
            initial = tracker.update({})
            steps = _run(machine, tracker, scenario, state.point.line, events)
            machine.kernel.crash()
            image.restore(machine.kernel.fs, state.image())
            events.clear()
            crash = StepRecord(
                line=scenario.recover_line or 0,
                process=None,
                source=f"power failure {state.point.label}",
                result=[
                    *(
                        [
                            f"on the disk: {_names(state.reached)}",
                            f"not on the disk: {_names(state.missed)}",
                        ]
                        if state.point.pieces
                        else ["no page was dirty: the disk as that step left it"]
                    ),
                    "every process died; the machine reboots on this disk",
                ],
                events=[],
                delta=tracker.update({}),
                narration=[f"crash state {number}: a power failure strikes here"],
            )
            steps.append(crash)
            steps += _run(machine, tracker, recovery, None, events)
        finally:
            unsubscribe()
    title = f"{scenario.title or scenario.path}: crash state {number}"
    return Recording(scenario.path, title, initial, steps)


def write_state_pages(
    scenario: Scenario, recovery: Scenario, found: Exploration, out: str
) -> list[Path]:
    """Write the page of the first failing state (``out`` ending in .html) or of each.

    A folder gets at most :data:`MAX_PAGES` pages, for the first failing states.
    """
    failing = found.failing[:MAX_PAGES]
    target = Path(out)
    if target.suffix == ".html":
        chosen = [(1, failing[0][0], target)]
    else:
        chosen = [(n, s, target / f"state-{n}.html") for n, (s, _) in enumerate(failing, start=1)]
    return [
        write_html(record_state(scenario, recovery, state, number), path)
        for number, state, path in chosen
    ]
