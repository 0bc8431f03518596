"""Running a scenario's first part and stopping, in thought, at every crash point.

A crash point is a moment at which a power failure may strike: every step
boundary after the scenario's leading ``file`` lines (which set the stage from
outside the machine), and, inside a step that writes several pages back
(``msync``, ``fsync``, ``sync``, the writeback daemon during ``sleep``), the
moment between two page writes.  At each the disk image and the dirty pages are
taken (:func:`mmapsim.fs.image.capture`, :func:`~mmapsim.fs.image.dirty_pages`).
A point that leaves exactly what the previous one left (after a ``show``, say)
is not counted; one whose every disk the previous point can leave too (after a
page write of an ``msync``: the disk is more like the cache, no new piece is
dirty) is counted but not enumerated again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmapsim.crashes.states import CrashPoint, point_at
from mmapsim.events import Event, Writeback
from mmapsim.fs import image
from mmapsim.machine import Machine
from mmapsim.scenario.lang.syntax import Expect, FileSetup, Scenario, Step
from mmapsim.scenario.run.runner import Runner, StepResult

#: Points kept between the page writes of one step at most (later ones repeat earlier disks).
MID_STEP_POINTS = 64


@dataclass(frozen=True, slots=True)
class Problem:
    """A check that did not hold: the line, its source, and what was seen."""

    line: int
    source: str
    message: str

    def describe(self) -> str:
        return f"line {self.line}  {self.source}: {self.message}"


@dataclass
class FirstPart:
    """The run of the scenario's first part: its crash points and its own problems."""

    points: list[CrashPoint] = field(default_factory=list)  # those that may leave a new disk
    results: list[StepResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    moments: int = 0  # crash points tried, those covered by the point before included


def step_label(step: Step) -> str:
    """How a report names a step: ``line 7  A: msync(p, 4096, MS_SYNC)``."""
    who = f"{step.process}: " if step.process else ""
    return f"line {step.line}  {who}{step.source}"


def problem_of(result: StepResult) -> Problem | None:
    """The problem a step's result shows: a failed expect, or a death no expect announced."""
    step = result.step
    who = f"{step.process}: " if step.process else ""
    source = who + step.source
    if result.expect is not None and not result.expect.ok:
        return Problem(step.line, source, result.expect.message)
    announced = isinstance(step, Expect) and step.mode == "kills"
    if result.killed is not None and not announced:
        death = result.killed
        message = f"{death.process} was killed by {death.signal} at {death.addr:#x}"
        return Problem(step.line, source, message)
    return None


class _Collector:
    """Takes the crash points of one machine as its first part runs."""

    def __init__(self, machine: Machine, *, torn: bool) -> None:
        self.machine = machine
        self.torn = torn
        self.points: list[CrashPoint] = []
        self.step: Step | None = None
        self.writes_in_step = 0
        self.moments = 0
        self._last: tuple[bytes, tuple[Any, ...]] | None = None

    def take(self, line: int | None, label: str) -> None:
        fs = self.machine.kernel.fs
        skip = self.machine.system_paths()  # not the protocol's files
        base = image.capture(fs, skip)
        point = point_at(
            len(self.points), line, label, base, image.dirty_pages(fs, skip), torn=self.torn
        )
        same = (base.key(), point.pieces)
        if same == self._last:
            return
        self._last = same
        self.moments += 1
        if not (self.points and covered(self.points[-1], point)):
            self.points.append(point)

    def on_event(self, event: Event) -> None:
        """Between two page writes of a step: a point (up to MID_STEP_POINTS a step)."""
        step = self.step
        if not isinstance(event, Writeback) or step is None or event.cause == "setup":
            return  # a file written from outside (or a program installed) is no crash point
        self.writes_in_step += 1
        if self.writes_in_step <= MID_STEP_POINTS:
            label = (
                f"during {step_label(step)}, after {event.path} page {event.pgoff} "
                f"reached the disk ({event.cause})"
            )
            self.take(step.line, label)


def covered(before: CrashPoint, after: CrashPoint) -> bool:
    """Whether every disk ``after`` can leave, ``before`` can leave too.

    So it is after a writeback that only wrote pieces ``before`` had: the disk
    is ``before``'s with those pieces written, and the pieces left are among
    ``before``'s.
    """
    left = set(after.pieces)
    if not left <= set(before.pieces):
        return False
    written = [i for i, piece in enumerate(before.pieces) if piece not in left]
    return before.image(written).key() == after.base.key()


def run_first_part(
    scenario: Scenario, *, torn: bool = False, options: dict[str, Any] | None = None
) -> FirstPart:
    """Run the steps before ``recover:`` on a new simulated machine, taking every point.

    Raises ScenarioError for a mistake in the file, as ``mmapsim run`` does.
    """
    found = FirstPart()
    with Machine(**(options or {})) as machine:
        collector = _Collector(machine, torn=torn)
        unsubscribe = machine.events.subscribe(collector.on_event)
        try:
            steps = iter(Runner(machine).run(scenario))
            staged = False
            for step in scenario.steps:
                collector.step, collector.writes_in_step = step, 0
                result = next(steps)
                found.results.append(result)
                problem = problem_of(result)
                if problem is not None:
                    found.problems.append(problem)
                staged = staged or not isinstance(step, FileSetup)
                if staged:
                    collector.step = None
                    collector.take(step.line, f"after {step_label(step)}")
                elif _last_setup(scenario, step):
                    collector.take(step.line, "after the files are set up")
        finally:
            unsubscribe()
    found.points = collector.points
    found.moments = collector.moments
    return found


def _last_setup(scenario: Scenario, step: Step) -> bool:
    """Whether ``step`` is the last of the scenario's leading ``file`` lines."""
    steps = scenario.steps
    at = steps.index(step)
    return at + 1 == len(steps) or not isinstance(steps[at + 1], FileSetup)
