"""waitpid(2) and zombies.

A process that ends while its parent runs becomes a zombie: it holds no memory
and no files, but stays (in ``Machine.processes``, not alive) until its parent
waits for it, or the parent ends too (init then reaps it).  A process with no
parent on the machine (made by ``Machine.spawn``) is reaped as it ends.

The wait status is C's: ``status << 8`` for an exit, the signal number for a
death by signal (no core is dumped: the core size limit is 0).

Deviation: one call runs at a time, so a child cannot end while its parent is
blocked.  A waitpid without WNOHANG that would block fails with EDEADLK
instead of waiting forever; a process group ``pid < -1`` matches no child
(ECHILD).
"""

from __future__ import annotations

import errno
from typing import Final

from mmapsim.abi import INT_MIN
from mmapsim.errors import syscall_error
from mmapsim.kernel import Kernel, Task

WNOHANG: Final = 0x1
WUNTRACED: Final = 0x2
WCONTINUED: Final = 0x8
__WNOTHREAD: Final = 0x20000000
__WALL: Final = 0x40000000
__WCLONE: Final = 0x80000000
#: The options kernel_wait4 accepts.
WAIT_OPTIONS: Final = WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE


def is_zombie(task: Task) -> bool:
    """Ended, and its parent runs and has not waited for it."""
    parent = task.parent
    return not task.alive and not task.reaped and parent is not None and parent.alive


def wait_status(task: Task) -> int:
    """The C wait status of an ended task (WIFEXITED / WIFSIGNALED)."""
    if task.term_signal is not None:
        return int(task.term_signal)
    return ((task.exit_status or 0) & 0xFF) << 8


def sys_waitpid(k: Kernel, task: Task, pid: int, options: int) -> tuple[int, int]:
    """Implements waitpid(2) (kernel_wait4): ``(pid, status)`` of an ended child.

    ``pid > 0`` waits for that child, ``-1`` or ``0`` for any child (all of a
    machine's processes are one process group); the oldest ended child is
    reaped first.  WNOHANG answers ``(0, 0)`` while the children run.
    EINVAL for unknown options, ESRCH for INT_MIN, ECHILD when no child
    matches (or it was already waited for).
    """
    if options & 0xFFFFFFFF & ~WAIT_OPTIONS:
        raise syscall_error(errno.EINVAL)
    if pid == INT_MIN:
        raise syscall_error(errno.ESRCH)
    children = [t for t in k.tasks.values() if t.parent is task and not t.reaped]
    if pid > 0:
        children = [t for t in children if t.pid == pid]
    elif pid < -1:
        children = []
    if not children:
        raise syscall_error(errno.ECHILD)
    for child in children:
        if not child.alive:
            child.reaped = True
            return child.pid, wait_status(child)
    if options & WNOHANG:
        return 0, 0
    raise OSError(
        errno.EDEADLK,
        "waitpid would block: a child runs only when a call is made in it",
    )
