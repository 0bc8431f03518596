"""The memory system calls: mmap(2), munmap(2), msync(2), mprotect(2).

Each checks its arguments in the order Linux 6.x on x86-64 does (the order
decides which errno a call with several mistakes gets), then calls into
:mod:`mmapsim.mm`.  Arguments arrive decoded (unsigned addresses and lengths,
unsigned 32-bit flag words, a signed ``off_t``).
"""

from __future__ import annotations

import errno

from mmapsim.abi import U64_MAX
from mmapsim.constants import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_HUGETLB,
    MAP_NONBLOCK,
    MAP_POPULATE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    MapFlag,
    MsFlag,
    Prot,
)
from mmapsim.errors import syscall_error
from mmapsim.fs.hugetlbfs import huge_page_size
from mmapsim.kernel import Kernel, Task
from mmapsim.mm.mapping import MmapRequest, do_mmap, do_munmap, page_align64
from mmapsim.mm.memlayout import TASK_SIZE
from mmapsim.mm.msync import sync_range
from mmapsim.mm.protect import do_mprotect
from mmapsim.mm.vma import VM_PKEY_EXEC_ONLY, VmFlag, prot_to_vm

_PAGE_OFF = PAGE_SIZE - 1


def sys_mmap(
    k: Kernel, task: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int
) -> int:
    """Implements the semantics of Linux's mmap(2) on x86-64; returns the address.

    The checks before do_mmap (``sys_mmap``'s offset alignment, then
    ``ksys_mmap_pgoff``'s EBADF and MAP_HUGETLB checks); the rest is
    :func:`mmapsim.mm.mapping.do_mmap`'s.  MAP_HUGETLB of anonymous memory
    maps an unnamed hugetlbfs file; with no huge page reserved, only
    MAP_NORESERVE succeeds and an access is SIGBUS.  On a CPU with protection
    keys (``Machine(pkeys=True)``), PROT_EXEC alone is execute-only memory.

    Deviation: a MAP_FIXED address below mmap_min_addr fails with EPERM even
    though processes run as root (see docs/deviations.md).
    """
    off = offset & U64_MAX
    if off & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    file = None
    huge = 0
    if not flags & MAP_ANONYMOUS:
        file = k.fd_file(task, fd)
        if flags & MAP_HUGETLB:
            raise syscall_error(errno.EINVAL)
    elif flags & MAP_HUGETLB:
        huge = huge_page_size(flags)
        length = ((length + huge - 1) & ~(huge - 1)) & U64_MAX
    req = MmapRequest(
        addr,
        length,
        prot,
        MapFlag(flags),
        file,
        off >> PAGE_SHIFT,
        fixed=bool(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)),
        noreplace=bool(flags & MAP_FIXED_NOREPLACE),
        populate=bool(flags & MAP_POPULATE and not flags & MAP_NONBLOCK),
        huge=huge,
    )
    return do_mmap(task.mm, req, k)


def sys_munmap(k: Kernel, task: Task, addr: int, length: int) -> None:
    """Implements the semantics of Linux's munmap(2)."""
    if addr & _PAGE_OFF or addr > TASK_SIZE or length > TASK_SIZE - addr:
        raise syscall_error(errno.EINVAL)
    length = page_align64(length)
    if length == 0:
        raise syscall_error(errno.EINVAL)
    do_munmap(task.mm, addr, addr + length, k.max_map_count)


def sys_msync(k: Kernel, task: Task, addr: int, length: int, flags: int) -> None:
    """Implements the semantics of Linux's msync(2).

    Partial effect, as on Linux: when the range has holes, the mapped parts
    are synced before the call fails with ENOMEM.
    """
    if flags & ~int(MsFlag.ASYNC | MsFlag.INVALIDATE | MsFlag.SYNC):
        raise syscall_error(errno.EINVAL)
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    if flags & MsFlag.ASYNC and flags & MsFlag.SYNC:
        raise syscall_error(errno.EINVAL)
    length = page_align64(length)
    end = addr + length
    if end > U64_MAX:
        raise syscall_error(errno.ENOMEM)
    if end == addr:
        return
    sync_range(task.mm, addr, end, MsFlag(flags))


def sys_mprotect(k: Kernel, task: Task, addr: int, length: int, prot: int) -> None:
    """Implements the semantics of Linux's mprotect(2).

    Partial effect, as on Linux: the VMAs before a hole (ENOMEM) or before a
    VMA that forbids the protection (EACCES) keep their new protection.
    """
    grows = prot & (Prot.GROWSDOWN | Prot.GROWSUP)
    prot &= ~int(Prot.GROWSDOWN | Prot.GROWSUP)
    if grows == Prot.GROWSDOWN | Prot.GROWSUP:
        raise syscall_error(errno.EINVAL)
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    if length == 0:
        return
    end = addr + page_align64(length)
    if end <= addr or end > U64_MAX:
        raise syscall_error(errno.ENOMEM)
    if prot & ~int(Prot.READ | Prot.WRITE | Prot.EXEC | 0x8):  # PROT_SEM is allowed
        raise syscall_error(errno.EINVAL)
    bits = int(prot_to_vm(Prot(prot & 0x7)))
    if k.pkeys and prot == PROT_EXEC:  # arch_override_mprotect_pkey
        bits |= VM_PKEY_EXEC_ONLY
    do_mprotect(task.mm, addr, end, VmFlag(bits), Prot(grows), k.max_map_count)
