"""``mmapsim tour``: the lecture, one narrated scenario per slide, on the simulator.

The scenarios are package data (``mmapsim/tour/NN_name.mmap``), run in the order
of their numbers; each begins with the slide's title as its first comment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from rich.text import Text

from mmapsim.scenario.lang.checker import check_scenario
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.parser import parse_text
from mmapsim.scenario.lang.syntax import Scenario
from mmapsim.scenario.run.batch import EXIT_BAD, EXIT_FAILED, EXIT_OK, Output, run_one

INTRO = """\
The lecture on memory-mapped files, slide by slide, on a simulated Linux kernel.
Each step is one line of C-like code run by a process (A:, B:, ...), with its
line number; under it, → is what the call returned or what the step did,
✓ a check that held, ✗ a process killed by a signal or a check that failed,
– a step skipped because its process had died (docs/reading-the-output.md).
On a terminal the tour waits for Enter after each slide (q quits; --all
prints every slide at once). Run one slide with 'mmapsim tour --slide N', add
'--trace' to see the page faults and copies, and try any line yourself in
'mmapsim shell'; 'mmapsim quiz' and 'mmapsim exercise' ask before they tell.
"""


@dataclass(frozen=True, slots=True)
class Slide:
    """One stop of the tour: its number, its file name and its text."""

    number: int
    name: str
    text: str

    def scenario(self) -> Scenario:
        """The slide's scenario, parsed and checked."""
        scenario = parse_text(self.text, f"tour/{self.name}")
        check_scenario(scenario)
        return scenario

    @property
    def title(self) -> str:
        return self.scenario().title or self.name


def slides() -> list[Slide]:
    """Every slide of the tour, in order."""
    folder = resources.files("mmapsim") / "tour"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".mmap"):
            number = int(entry.name.split("_", 1)[0])
            found.append(Slide(number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda slide: slide.number)


def list_slides(output: Output) -> int:
    """``mmapsim tour --list``: the slides' numbers and titles."""
    for slide in slides():
        output.out.print(f"{slide.number:>2}  {slide.title}")
    return EXIT_OK


#: Between two slides: asked which slide comes next, False to stop the tour.
Pause = Callable[[int, int], bool]


def pause_at_terminal(output: Output, read: Callable[[str], str] = input) -> Pause:
    """Wait for Enter between slides; ``q`` (or Ctrl-D, Ctrl-C) ends the tour."""

    def pause(shown: int, total: int) -> bool:
        prompt = f"-- slide {shown} of {total}: Enter for the next one, q to quit -- "
        output.out.file.flush()
        try:
            answer = read(prompt)
        except (EOFError, KeyboardInterrupt):
            output.out.print()
            return False
        return answer.strip().lower() not in ("q", "quit", "exit")

    return pause


def run_tour(
    output: Output, *, only: int | None = None, trace: bool = False, pause: Pause | None = None
) -> int:
    """``mmapsim tour``: run every slide (or slide ``only``) on the simulator.

    With ``pause`` (a terminal), the tour stops after each slide but the last
    until ``pause`` says to go on.
    """
    chosen = [s for s in slides() if only is None or s.number == only]
    if not chosen:
        output.err.print(f"there is no slide {only}; mmapsim tour --list shows them")
        return EXIT_BAD
    failed = False
    if only is None:
        output.out.print(INTRO)
    for index, slide in enumerate(chosen):
        if index and pause is not None and not pause(chosen[index - 1].number, len(chosen)):
            break
        output.out.print(Text(f"Slide {slide.number} of {len(slides())}", style="bold reverse"))
        try:
            results = run_one(slide.scenario(), output, kernel="sim", trace=trace)
        except ScenarioError as err:
            output.err.print(Text(str(err)))
            return EXIT_BAD
        failed = failed or any(r.failed for r in results)
    return EXIT_FAILED if failed else EXIT_OK
