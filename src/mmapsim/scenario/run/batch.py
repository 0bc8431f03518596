"""What the ``mmapsim`` commands do; the command line only forwards to these.

Each function prints to the consoles it is given and returns the exit status:
0 when every ``expect`` held (or, for ``diff``, when both kernels agreed), 1 when
one did not, 2 for a scenario that cannot be read or run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from mmapsim.contract import MachineAPI
from mmapsim.scenario.lang.checker import check_scenario
from mmapsim.scenario.lang.diagnostic import ScenarioError, ScenarioErrors
from mmapsim.scenario.lang.parser import parse_file
from mmapsim.scenario.lang.syntax import Fork, Note, Scenario
from mmapsim.scenario.lang.values import Addr
from mmapsim.scenario.render import INDENT, KERNELS, Printer, summary_text, to_json
from mmapsim.scenario.run.compare import Observer, StepDiff
from mmapsim.scenario.run.evaluator import Scope
from mmapsim.scenario.run.runner import Runner, StepResult
from mmapsim.views.regions_draw import draw_layout, to_ascii

EXIT_OK, EXIT_FAILED, EXIT_BAD = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Output:
    """Where a command prints: results to ``out``, mistakes to ``err``."""

    out: Console
    err: Console


class KernelUnavailableError(Exception):
    """The machine asked for cannot be made here."""


def make_machine(kernel: str, *, like_host: bool = False) -> MachineAPI:
    """A new machine: ``sim`` is the simulator, ``host`` this computer's kernel.

    ``like_host``: the simulated CPU is this computer's (protection keys or not),
    so that the two can be compared."""
    if kernel == "sim":
        from mmapsim import Machine
        from mmapsim.host.cpu import has_pkeys

        machine: MachineAPI = Machine(pkeys=has_pkeys()) if like_host else Machine()
        return machine
    try:
        from mmapsim.host import HostMachine
    except ImportError as err:  # only on a computer without Linux's calls
        raise KernelUnavailableError(f"the real kernel cannot be used here: {err}") from None
    host: MachineAPI = HostMachine()
    return host


@contextmanager
def machine_for(kernel: str, *, like_host: bool = False) -> Iterator[MachineAPI]:
    """A machine that is closed (its processes ended) when the block ends."""
    machine = make_machine(kernel, like_host=like_host)
    try:
        yield machine
    finally:
        machine.close()


def load(paths: Sequence[str]) -> list[Scenario]:
    """Parse and check every file first, so that a bad one runs nothing.

    Every bad file is reported, not only the first: the errors are joined, one
    ``file:line:col: message`` per line, into one ScenarioError.
    """
    scenarios = []
    errors: list[ScenarioError] = []
    for path in paths:
        try:
            scenario = parse_file(path)
            check_scenario(scenario)
        except ScenarioError as err:
            errors.append(err)
            continue
        scenarios.append(scenario)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ScenarioErrors(errors)
    return scenarios


def run_files(
    paths: Sequence[str],
    output: Output,
    *,
    kernel: str,
    trace: bool,
    as_json: bool,
    all_maps: bool = False,
) -> int:
    """``mmapsim run``: run each file, print every step; 1 if an expect failed."""
    try:
        scenarios = load(paths)
        reports = [
            run_one(s, output, kernel=kernel, trace=trace, quiet=as_json, all_maps=all_maps)
            for s in scenarios
        ]
    except (ScenarioError, KernelUnavailableError) as err:
        output.err.print(Text(str(err)))
        return EXIT_BAD
    if as_json:
        runs = [to_json(s.path, kernel, r) for s, r in zip(scenarios, reports, strict=True)]
        output.out.print_json(json.dumps(runs[0] if len(runs) == 1 else runs))
    failed = any(r.failed for rs in reports for r in rs)
    return EXIT_FAILED if failed else EXIT_OK


def run_one(
    scenario: Scenario,
    output: Output,
    *,
    kernel: str,
    trace: bool,
    quiet: bool = False,
    all_maps: bool = False,
) -> list[StepResult]:
    """Run one scenario on a new machine, printing as it goes unless ``quiet``."""
    printer = Printer(output.out)
    results: list[StepResult] = []
    with machine_for(kernel) as machine:
        if not quiet:
            printer.header(scenario.path, kernel)
            if trace and kernel != "sim":
                printer.emit(Text("(the real kernel gives no trace of its events)", "dim"))
        pending = iter(Runner(machine, trace=trace, all_maps=all_maps).run(scenario))
        for item in scenario.items:
            if isinstance(item, Note):
                if not quiet:
                    printer.note(item)
                continue
            result = _next_result(pending, item.line, scenario.path)
            results.append(result)
            if not quiet:
                printer.result(result)
    if not quiet:
        if scenario.recover_line is not None:
            where = f"from line {scenario.recover_line}, the recovery section"
            printer.emit(Text(f"({where} runs after a crash: mmapsim crashes FILE)", "dim"))
        printer.emit("")
        printer.emit(summary_text(results))
        printer.emit("")
    return results


def _next_result(pending: Iterator[StepResult], line: int, path: str) -> StepResult:
    """The next result; a process that vanished is the scenario's mistake, not a crash."""
    try:
        return next(pending)
    except ProcessLookupError:
        raise ScenarioError("that process is no longer running", line, 1, path) from None


def diff_files(paths: Sequence[str], output: Output, *, as_json: bool = False) -> int:
    """``mmapsim diff``: run on both kernels, show where they disagree; 1 if they do.

    Every step is compared by what a program observes: values, errnos, deaths,
    expects, and what each ``show`` prints (:mod:`mmapsim.scenario.run.compare`).
    ``as_json``: print one object per scenario instead (``file``, ``agree``, and
    each step's ``line``, ``simulated``, ``real`` and ``same``)."""
    try:
        scenarios = load(paths)
        results = [diff_one(scenario, output, quiet=as_json) for scenario in scenarios]
    except (ScenarioError, KernelUnavailableError) as err:
        output.err.print(Text(str(err)))
        return EXIT_BAD
    if as_json:
        reports = [
            {
                "file": scenario.path,
                "agree": all(d.same for d in diffs),
                "steps": [
                    {"line": d.line, "simulated": d.left, "real": d.right, "same": d.same}
                    for d in diffs
                ],
            }
            for scenario, diffs in zip(scenarios, results, strict=True)
        ]
        output.out.print_json(json.dumps(reports[0] if len(reports) == 1 else reports))
    return EXIT_FAILED if any(not d.same for diffs in results for d in diffs) else EXIT_OK


def diff_one(scenario: Scenario, output: Output, *, quiet: bool = False) -> list[StepDiff]:
    """Run one scenario on both kernels in step; print each step (unless ``quiet``);
    returns every step's comparison."""
    printer = Printer(output.out)
    if not quiet:
        printer.emit(Text(f"== {scenario.path}: {KERNELS['sim']} against the real one ==", "bold"))
    diffs: list[StepDiff] = []
    with machine_for("sim", like_host=True) as sim, machine_for("host") as host:
        runs = {"sim": Runner(sim), "host": Runner(host)}
        observers = {"sim": Observer(), "host": Observer()}
        for step in scenario.steps:
            seen, errors = {}, {}
            for kernel, runner in runs.items():
                try:
                    seen[kernel] = observers[kernel].observe(runner.run_step(step))
                except ScenarioError as err:
                    errors[kernel] = err
                    seen[kernel] = f"cannot run: {err.message}"
            if len(errors) == len(runs):  # the scenario's own mistake, on both kernels
                raise errors["sim"].in_file(scenario.path)
            diffs.append(StepDiff(step.line, seen["sim"], seen["host"]))
            if not quiet:
                printer.emit(printer.source_line(step))
                _print_diff(printer, diffs[-1])
            if seen["sim"].startswith("cannot run") or seen["host"].startswith("cannot run"):
                break
    if quiet:
        return diffs
    different = [d.line for d in diffs if not d.same]
    if different:
        where = ", ".join(map(str, different))
        printer.emit(Text(f"the kernels disagree at line {where}", style="bold red"))
    else:
        printer.emit(Text(f"{len(diffs)} steps: the kernels agree", style="bold green"))
    printer.emit("")
    return diffs


def _print_diff(printer: Printer, diff: StepDiff) -> None:
    if diff.same:
        printer.emit(Text(f"{INDENT}= {diff.left}", style="dim"))
        return
    printer.emit(Text(f"{INDENT}≠ simulated: {diff.left}", style="bold red"))
    printer.emit(Text(f"{INDENT}  real:      {diff.right}", style="bold red"))


def layout_file(
    path: str, output: Output, *, kernel: str, process: str | None, ascii_only: bool | None
) -> int:
    """``mmapsim layout``: run a scenario quietly, then draw each process's address space.

    ``process`` draws only that one; ``ascii_only`` None lets the console decide.
    """
    try:
        scenario = load([path])[0]
        names = process_names(scenario)
        if process is not None and process not in names:
            known = ", ".join(names) or "none"
            output.err.print(Text(f"{path}: no process {process} (its processes: {known})"))
            return EXIT_BAD
        with machine_for(kernel) as machine:
            runner = Runner(machine)
            results = list(runner.run(scenario))
            plain = output.out.options.ascii_only if ascii_only is None else ascii_only
            for name, scope in runner.scopes.items():
                if process is None or name == process:
                    _print_layout(output.out, scope, f"{path}, on {KERNELS[kernel]}", plain)
    except (ScenarioError, KernelUnavailableError) as err:
        output.err.print(Text(str(err)))
        return EXIT_BAD
    except ProcessLookupError:
        output.err.print(Text(f"{path}: a process vanished while the scenario ran"))
        return EXIT_BAD
    failed = any(r.failed for r in results)
    if failed:
        output.out.print(summary_text(results))
    return EXIT_FAILED if failed else EXIT_OK


def process_names(scenario: Scenario) -> list[str]:
    """The scenario's processes, in the order they start."""
    names: dict[str, None] = {}
    for step in scenario.steps:
        if step.process is not None:
            names.setdefault(step.process)
        if isinstance(step, Fork):
            names.setdefault(step.child)
    return list(names)


def _print_layout(console: Console, scope: Scope, where: str, plain: bool) -> None:
    """One process's picture under a title line (or why there is none)."""
    if scope.ended is not None:
        console.print(Text(f"== {scope.name} {scope.ended}: no address space to draw =="))
        console.print()
        return
    title = f"== {scope.name} (pid {scope.process.pid}) at the end of {where} =="
    console.print(Text(title, style="bold"))
    pointers = {n: v for n, v in scope.variables.items() if isinstance(v, Addr)}
    picture = draw_layout(scope.process.maps(), pointers)
    console.print(Text(to_ascii(picture) if plain else picture))
    console.print()
