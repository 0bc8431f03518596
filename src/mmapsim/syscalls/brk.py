"""The program break: brk(2), and sbrk as the C library builds it on brk.

Linux semantics (mm/mmap.c, ``SYSCALL_DEFINE1(brk)``): the system call never
fails; it returns the new break, or the old one when the request cannot be
met.  The mappings are :func:`mmapsim.mm.heap.do_brk`'s.

A process made by ``Machine.spawn()`` has a ``[heap]`` of 132 KiB already (the
C library's first ``malloc``); its break is the end of that VMA.
"""

from __future__ import annotations

import errno

from mmapsim.abi import U64_MAX
from mmapsim.errors import syscall_error
from mmapsim.kernel import Kernel, Task
from mmapsim.mm.heap import current_brk, do_brk


def sys_brk(k: Kernel, task: Task, brk: int) -> int:
    """Implements Linux's brk(2) system call: returns the break after the call.

    ``brk(0)`` (or any value below the start of the heap) asks for the current break.
    """
    return do_brk(task.mm, brk, k.max_map_count)


def sys_sbrk(k: Kernel, task: Task, increment: int) -> int:
    """sbrk(3) as glibc builds it on brk(2): the old break; ENOMEM if it cannot move."""
    old = current_brk(task.mm)
    if increment == 0:
        return old
    new = old + increment
    if new < 0 or new > U64_MAX:
        raise syscall_error(errno.ENOMEM)
    if sys_brk(k, task, new) != new:
        raise syscall_error(errno.ENOMEM)
    return old
