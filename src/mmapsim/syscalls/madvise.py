"""The madvise(2) system call: argument checks in Linux's order, then :mod:`mmapsim.mm.advise`."""

from __future__ import annotations

import errno

from mmapsim import constants as c
from mmapsim.abi import U64_MAX
from mmapsim.constants import PAGE_SIZE
from mmapsim.errors import syscall_error
from mmapsim.kernel import Kernel, Task
from mmapsim.mm import advise

_PAGE_OFF = PAGE_SIZE - 1

#: The advices this kernel carries out (``madvise_behavior_valid`` knows a few more).
SUPPORTED = frozenset(
    {
        c.MADV_DONTNEED,
        c.MADV_DONTNEED_LOCKED,
        c.MADV_FREE,
        c.MADV_REMOVE,
        c.MADV_WILLNEED,
        c.MADV_COLD,
        c.MADV_PAGEOUT,
        c.MADV_POPULATE_READ,
        c.MADV_POPULATE_WRITE,
        *advise.FLAG_ADVICE,
    }
)
#: Advices that need CAP_SYS_ADMIN: poisoning or offlining a real page of RAM.
MEMORY_FAILURE = frozenset({c.MADV_HWPOISON, c.MADV_SOFT_OFFLINE})


def sys_madvise(k: Kernel, task: Task, addr: int, length: int, advice: int) -> None:
    """Implements the semantics of Linux's madvise(2) (see :mod:`mmapsim.mm.advise`).

    EINVAL for an unknown advice, an unaligned ``addr`` or a range that wraps;
    a length of 0 does nothing.  Partial effect, as on Linux: holes in the
    range are skipped and reported with ENOMEM at the end, and the VMAs before
    a failing one keep their advice.

    Deviations: MADV_HWPOISON and MADV_SOFT_OFFLINE fail with EPERM, as for a
    process without CAP_SYS_ADMIN (HostMachine never poisons real memory);
    MADV_COLLAPSE and the guard-region advices fail with EINVAL.
    """
    if advice not in SUPPORTED and advice not in MEMORY_FAILURE:
        raise syscall_error(errno.EINVAL)
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    aligned = ((length + _PAGE_OFF) & ~_PAGE_OFF) & U64_MAX
    if length and not aligned:
        raise syscall_error(errno.EINVAL)
    end = addr + aligned
    if end > U64_MAX:
        raise syscall_error(errno.EINVAL)
    if end == addr:
        return
    if advice in MEMORY_FAILURE:
        raise syscall_error(errno.EPERM)
    if advice in (c.MADV_POPULATE_READ, c.MADV_POPULATE_WRITE):
        advise.populate(task.mm, addr, end, advice == c.MADV_POPULATE_WRITE)
        return
    advise.advise(task.mm, addr, end, advice, k.max_map_count)
