"""``mmapsim crashes FILE``: explore every crash state of a scenario and report.

Exit status: 0 when no crash state breaks the recovery's checks (and the first
part's own expects hold), 1 when one does, 2 for a mistake in the file (which
includes a scenario without a ``recover:`` section: nothing would check the
states).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from mmapsim.crashes.budget import DEFAULT_MAX_STATES, DEFAULT_SHOW
from mmapsim.crashes.points import run_first_part
from mmapsim.crashes.recovery import Progress as Tick
from mmapsim.crashes.recovery import check_states
from mmapsim.crashes.report import Exploration, json_report, text_report
from mmapsim.crashes.states import plan
from mmapsim.scenario.lang.checker import check_scenario
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.parser import parse_file
from mmapsim.scenario.lang.syntax import Crash, Expect, Scenario

EXIT_OK, EXIT_BROKEN, EXIT_BAD = 0, 1, 2
EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C (128 + SIGINT)
#: Below this many states no progress bar is drawn: the run is over at once.
_PROGRESS_FROM = 64


@dataclass(frozen=True, slots=True)
class Options:
    """How to explore: the budget, the seed, torn pages, worker processes."""

    max_states: int = DEFAULT_MAX_STATES
    seed: int = 0
    torn: bool = False
    jobs: int = 1
    show: int = DEFAULT_SHOW  # failing states printed in full (0: all)


def split_at_crash(scenario: Scenario) -> Scenario:
    """A scenario without ``recover:`` whose story ends in ``crash``: the lines after
    its last ``crash`` become the recovery section (as ``mmapsim run`` reads it:
    what must hold once the power has failed)."""
    if scenario.recovery is not None:
        return scenario
    crashes = [i for i, item in enumerate(scenario.items) if isinstance(item, Crash)]
    if not crashes:
        return scenario
    at = crashes[-1]
    marker = scenario.items[at]
    assert isinstance(marker, Crash)
    split = Scenario(scenario.path, scenario.items[:at])
    split.recovery, split.recover_line = scenario.items[at + 1 :], marker.line
    return split


def load_scenario(path: str) -> tuple[Scenario, Scenario]:
    """The checked scenario and its recovery section; ScenarioError if either is wrong."""
    scenario = parse_file(path)
    check_scenario(scenario)
    scenario = split_at_crash(scenario)
    recovery = scenario.recovery_scenario()
    if recovery is not None and not scenario.steps:
        msg = "nothing to crash: the scenario has no step before 'recover:'"
        raise ScenarioError(msg, scenario.recover_line or 1, 1, path)
    if recovery is None or not recovery.steps:
        last = len(scenario.items) + 1
        msg = (
            "nothing checks the crash states: add a line 'recover:' (or 'crash') and after "
            "it the steps that open the files and expect what must hold after a power failure"
        )
        raise ScenarioError(
            msg, last if recovery is None else scenario.recover_line or last, 1, path
        )
    return scenario, recovery


def explore(
    scenario: Scenario,
    recovery: Scenario,
    options: Options,
    progress: Callable[[int], AbstractContextManager[Tick | None]] | None = None,
) -> Exploration:
    """Run the first part, plan the states, check each; what was found.

    ``progress(total)`` gives what to call as states are checked (a bar, say).
    """
    first = run_first_part(scenario, torn=options.torn)
    chosen = plan(first.points, budget=options.max_states, seed=options.seed)
    disks = [state.image() for state in chosen.states]
    with (progress or _no_progress)(len(disks)) as tick:
        verdicts = check_states(recovery, disks, jobs=options.jobs, progress=tick)
    return Exploration(scenario.path, options.torn, first, chosen, verdicts)


def _no_progress(total: int) -> AbstractContextManager[Tick | None]:
    return nullcontext(None)


@contextmanager
def _bar(err: Console, total: int) -> Iterator[Tick | None]:
    """A progress bar on a terminal for long explorations; nothing otherwise."""
    if not err.is_terminal or total < _PROGRESS_FROM:
        yield None
        return
    columns = (
        TextColumn("checking crash states"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("states", total=total)
        yield lambda n: bar.advance(task, n)


def explore_file(
    path: str,
    out: Console,
    err: Console,
    options: Options,
    *,
    as_json: bool = False,
    html: str | None = None,
) -> int:
    """``mmapsim crashes``: explore ``path``, print the report; the exit status."""
    try:
        scenario, recovery = load_scenario(path)
        found = explore(scenario, recovery, options, lambda total: _bar(err, total))
    except ScenarioError as error:
        err.print(Text(str(error)))
        return EXIT_BAD
    except KeyboardInterrupt:
        err.print(Text("interrupted: no report"))
        return EXIT_INTERRUPTED
    if not any(isinstance(s, Expect) for s in recovery.steps) and not as_json:
        err.print(Text("(the recovery section has no expect: only deaths are checked)", "dim"))
    if as_json:
        out.print_json(json.dumps(json_report(found)))
    else:
        for line in text_report(found, options.show):
            out.print(line)
    if html is not None and not found.failing:
        err.print(Text("(no failing crash state: no page written)", "dim"))
    if html is not None and found.failing:
        from mmapsim.crashes.story import write_state_pages

        try:
            pages = write_state_pages(scenario, recovery, found, html)
        except OSError as error:
            why = error.strerror or str(error)
            if error.filename and str(error.filename) != html:
                why = f"{error.filename}: {why}"
            err.print(Text(f"mmapsim: cannot write {html}: {why}"))
            return EXIT_BAD
        for written in pages:
            err.print(f"wrote {written}")
        if len(pages) < len(found.failing) and not html.endswith(".html"):
            err.print(
                f"(the pages of the first {len(pages)} of {len(found.failing)} failing states)"
            )
    return EXIT_BROKEN if found.broken else EXIT_OK
