"""Process calls: fork(2), _exit(2), execve(2), and a fatal signal's default action.

The image of a process made by ``Machine.spawn()`` is
:mod:`mmapsim.loader.first_image`'s; the dynamic loader that runs after
execve is user space (:mod:`mmapsim.userspace.ld_so`).
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

from mmapsim.kernel import Kernel, Task
from mmapsim.loader import binfmt
from mmapsim.loader.aslr import Randomizer
from mmapsim.loader.binfmt import LoadedObject


def sys_fork(k: Kernel, task: Task, name: str | None) -> Task:
    """Implements fork(2): a copy-on-write copy of memory; the fds share descriptions."""
    return k.copy_process(task, name)


def sys_exit(k: Kernel, task: Task, status: int) -> None:
    """Implements _exit(2): every mapping is removed and every fd closed."""
    k.teardown(task)
    task.exit_status = status & 0xFF


def kill(k: Kernel, task: Task, sig: signal.Signals) -> None:
    """The default action of a fatal signal: the process dies."""
    k.teardown(task, "signal")
    task.term_signal = sig


def sys_execve(
    k: Kernel,
    task: Task,
    path: str,
    argv: Sequence[str],
    envp: Sequence[str],
    rand: Randomizer,
) -> tuple[LoadedObject, LoadedObject | None]:
    """Implements execve(2) for ELF programs (Linux's do_execveat_common).

    Every check comes before the old image is given up, so a failing call
    changes nothing.  Returns the program and its interpreter as mapped:
    what the auxiliary vector tells the new image (AT_PHDR, AT_ENTRY,
    AT_BASE), for the dynamic loader, which runs in user space after the call
    (:mod:`mmapsim.userspace.ld_so`).
    Deviation: ``#!`` scripts are not run (ENOEXEC).
    """
    return binfmt.do_execve(k, task, path, argv, envp, rand)
