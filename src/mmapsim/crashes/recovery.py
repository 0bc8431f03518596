"""Booting a machine on each crash state and running the recovery section there.

Each state is checked on a fresh simulated machine (:meth:`Machine.boot`): no
process, a cold page cache, the files as the crash left them on disk.  The
recovery section runs with processes of its own; a failed ``expect``, a death
that no ``expect ... kills`` announced, or a step that cannot run at all in
that state (say, a store into a mapping that failed) is a problem of the state.

With ``jobs`` above 1 the states are checked in that many worker processes.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from mmapsim.crashes.points import Problem, problem_of
from mmapsim.fs.image import DiskImage
from mmapsim.machine import Machine
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.syntax import Scenario
from mmapsim.scenario.run.runner import Runner

Progress = Callable[[int], None]

_worker_recovery: Scenario | None = None
_worker_options: dict[str, Any] = {}


def check_state(
    recovery: Scenario, disk: DiskImage, options: dict[str, Any] | None = None
) -> list[Problem]:
    """Run ``recovery`` on a machine booted on ``disk``; its problems (none: it holds)."""
    problems: list[Problem] = []
    with Machine.boot(disk, **(options or {})) as machine:
        steps = iter(Runner(machine).run(recovery))
        for step in recovery.steps:
            try:
                result = next(steps)
            except ScenarioError as err:
                if not problems:  # a step that cannot run, not one after a death
                    problems.append(Problem(err.line, step.source, f"cannot run: {err.message}"))
                break
            problem = problem_of(result)
            if problem is not None:
                problems.append(problem)
    return problems


def _init_worker(recovery: Scenario, options: dict[str, Any]) -> None:
    global _worker_recovery, _worker_options
    _worker_recovery, _worker_options = recovery, options


def _check_in_worker(disk: DiskImage) -> list[Problem]:
    assert _worker_recovery is not None
    return check_state(_worker_recovery, disk, _worker_options)


def check_states(
    recovery: Scenario,
    disks: Sequence[DiskImage],
    *,
    jobs: int = 1,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> list[list[Problem]]:
    """The problems of each disk, in order; ``progress(n)`` after every ``n`` checked."""
    opts = options or {}
    if jobs <= 1 or len(disks) < 2:
        found = []
        for disk in disks:
            found.append(check_state(recovery, disk, opts))
            if progress is not None:
                progress(1)
        return found
    chunk = max(1, min(64, len(disks) // (jobs * 8)))
    # Workers start from a fork server, not a fork of this process: a progress bar's
    # thread may hold a lock here that a forked child would inherit held.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init_worker, initargs=(recovery, opts)
    ) as pool:
        found = []
        for problems in pool.map(_check_in_worker, disks, chunksize=chunk):
            found.append(problems)
            if progress is not None:
                progress(1)
        return found
