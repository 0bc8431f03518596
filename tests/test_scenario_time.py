"""Time and crashes in the language: sleep, and/or in expects, the recover: section."""

from __future__ import annotations

from typing import Any

import pytest

from mmapsim import Machine
from mmapsim.scenario import Runner, StepResult, check_scenario, parse_text

MAPPED = (
    'file /tmp/f "." * 4096\n'
    'A: fd = open("/tmp/f", O_RDWR)\n'
    "A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)\n"
    'A: p[0:2] = "AB"\n'
    "A: msync(p, 4096, MS_ASYNC)\n"
)


def run(machine: Any, text: str) -> list[StepResult]:
    scenario = parse_text(text, "t.mmap")
    check_scenario(scenario)
    return list(Runner(machine).run(scenario))


def test_or_holds_when_one_side_holds(machine: Any) -> None:
    """expect A or B: holds if either comparison does."""
    (result,) = run(machine, 'expect 1 == 2 or "x" == "x"\n')
    assert result.expect is not None
    assert result.expect.ok


def test_a_failed_or_says_what_each_side_saw(machine: Any) -> None:
    """Both sides failed: the message shows each side's values once."""
    (_, result) = run(machine, "A: x = 3\nA: expect x == 1 or x == 2\n")
    assert result.expect is not None
    assert not result.expect.ok
    assert result.expect.message == "x is 3"


def test_and_needs_both_sides(machine: Any) -> None:
    """expect A and B fails when B does, naming B's values."""
    (_, result) = run(machine, "A: x = 3\nA: expect x == 3 and x + 1 == 5\n")
    assert result.expect is not None
    assert not result.expect.ok
    assert result.expect.message == "x + 1 is 4"


def test_sleep_says_how_long_on_both_machines(machine: Any) -> None:
    """A sleep's note is the same on both kernels (the host really sleeps)."""
    (result,) = run(machine, "sleep 0.2\n")
    assert result.note == "0.2 s pass"


@pytest.mark.simonly
def test_sleep_shows_when_the_daemon_writes_a_page() -> None:
    """After MS_ASYNC the page waits; a sleep past 30 s shows the writeback daemon writing it."""
    with Machine() as m:
        results = run(m, MAPPED + "sleep 29\nsleep 6\n")
        assert results[-2].output is None
        assert results[-1].output == "at 30 s the writeback daemon wrote /tmp/f page 0 to disk"
        assert m.uptime == 35
        assert m.disk_image().read("/tmp/f")[:2] == b"AB"


@pytest.mark.simonly
def test_a_labelled_sleep_starts_its_process() -> None:
    """'B: sleep 1' is B sleeping: B starts, and time passes for the whole machine."""
    with Machine() as m:
        results = run(m, "B: sleep 1\n")
        assert results[0].note == "1 s pass"
        assert [p.name for p in m.processes] == ["B"]


def test_the_recovery_section_is_apart_from_the_steps() -> None:
    """Lines after 'recover:' are not steps of the scenario; they form their own."""
    scenario = parse_text("A: x = 1\nrecover:\nR: y = 2\nR: expect y == 2\n", "t.mmap")
    assert [s.line for s in scenario.steps] == [1]
    assert scenario.recover_line == 2
    recovery = scenario.recovery_scenario()
    assert recovery is not None
    assert [s.line for s in recovery.steps] == [3, 4]
