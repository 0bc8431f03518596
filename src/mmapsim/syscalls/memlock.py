"""mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2) and mincore(2).

Argument checks in Linux's order, then :mod:`mmapsim.mm.mlock` and
:mod:`mmapsim.mm.mincore`.  Simulated processes run as root: they hold
CAP_IPC_LOCK, so RLIMIT_MEMLOCK never refuses them (``can_do_mlock``,
``mlock_future_ok``), as Linux lets root lock any amount.
"""

from __future__ import annotations

import errno

from mmapsim.abi import U64_MAX
from mmapsim.constants import MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT, PAGE_SIZE
from mmapsim.errors import syscall_error
from mmapsim.kernel import Kernel, Task
from mmapsim.mm import mincore, mlock
from mmapsim.mm.memlayout import TASK_SIZE
from mmapsim.mm.vma import VM_LOCKED, VM_LOCKONFAULT

_PAGE_OFF = PAGE_SIZE - 1


def _lock_range(addr: int, length: int) -> tuple[int, int]:
    """``len = PAGE_ALIGN(len + offset_in_page(start)); start &= PAGE_MASK``, on
    unsigned longs (a wrapped length is 0); EINVAL if the end wraps."""
    aligned = ((length + (addr & _PAGE_OFF) + _PAGE_OFF) & ~_PAGE_OFF) & U64_MAX
    start = addr & ~_PAGE_OFF
    if start + aligned > U64_MAX:
        raise syscall_error(errno.EINVAL)
    return start, start + aligned


def _do_mlock(k: Kernel, task: Task, addr: int, length: int, lock_flags: int) -> None:
    """mlock and mlock2 after their flag checks: the range, then do_mlock."""
    start, end = _lock_range(addr, length)
    if start != end:
        mlock.do_mlock(task.mm, start, end, lock_flags, k.max_map_count)


def sys_mlock(k: Kernel, task: Task, addr: int, length: int) -> None:
    """Implements the semantics of Linux's mlock(2): ``addr`` is rounded down."""
    _do_mlock(k, task, addr, length, VM_LOCKED)


def sys_mlock2(k: Kernel, task: Task, addr: int, length: int, flags: int) -> None:
    """Implements the semantics of Linux's mlock2(2): MLOCK_ONFAULT locks pages as
    they fault in, populating nothing now."""
    if flags & ~MLOCK_ONFAULT:
        raise syscall_error(errno.EINVAL)
    onfault = VM_LOCKONFAULT if flags & MLOCK_ONFAULT else 0
    _do_mlock(k, task, addr, length, VM_LOCKED | onfault)


def sys_munlock(k: Kernel, task: Task, addr: int, length: int) -> None:
    """Implements the semantics of Linux's munlock(2) (ENOMEM over a hole, the
    VMAs before it unlocked)."""
    start, end = _lock_range(addr, length)
    if start != end:
        mlock.apply_lock_flags(task.mm, start, end, 0, k.max_map_count)


def sys_mlockall(k: Kernel, task: Task, flags: int) -> None:
    """Implements the semantics of Linux's mlockall(2): EINVAL for no flag, an
    unknown one, or MCL_ONFAULT alone; MCL_CURRENT populates every VMA
    (ignoring the pages that cannot be), MCL_FUTURE locks later mappings."""
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        raise syscall_error(errno.EINVAL)
    mlock.do_mlockall(task.mm, flags, k.max_map_count)


def sys_munlockall(k: Kernel, task: Task) -> None:
    """Implements the semantics of Linux's munlockall(2): nothing stays locked,
    and later mappings are not locked."""
    mlock.do_mlockall(task.mm, 0, k.max_map_count)


def sys_mincore(k: Kernel, task: Task, addr: int, length: int) -> bytes:
    """Implements the semantics of Linux's mincore(2): one byte per page of the
    range, bit 0 set when the page is resident (see :mod:`mmapsim.mm.mincore`).

    EINVAL for an unaligned ``addr``, ENOMEM for a range beyond user space or
    one with a page in no VMA.
    """
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    if addr + length > TASK_SIZE:
        raise syscall_error(errno.ENOMEM)
    pages = (length + _PAGE_OFF) >> 12
    return mincore.residency(task.mm, addr, pages)
