"""The mremap(2) system call: argument checks in Linux's order, then :mod:`mmapsim.mm.remap`."""

from __future__ import annotations

import errno
from functools import partial

from mmapsim.constants import MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PAGE_SIZE
from mmapsim.errors import syscall_error
from mmapsim.kernel import Kernel, Task
from mmapsim.mm.mapping import page_align64, vm_enough_memory
from mmapsim.mm.memlayout import TASK_SIZE
from mmapsim.mm.remap import Remap, do_mremap

_PAGE_OFF = PAGE_SIZE - 1


def sys_mremap(
    k: Kernel, task: Task, addr: int, old_len: int, new_len: int, flags: int, new_addr: int
) -> int:
    """Implements the semantics of Linux's mremap(2) (6.18); returns the new address.

    ``check_mremap_params``: unknown flags, an unaligned ``addr``, a zero (or
    wrapped) ``new_len``, one beyond user space are EINVAL; with MREMAP_FIXED or
    MREMAP_DONTUNMAP, so are an unaligned or too high ``new_addr``, either of
    them without MREMAP_MAYMOVE, DONTUNMAP with a change of size, and a
    destination overlapping the source.  The rest is :func:`do_mremap`'s.
    """
    if flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP):
        raise syscall_error(errno.EINVAL)
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    old_len, new_len = page_align64(old_len), page_align64(new_len)
    if new_len == 0 or new_len > TASK_SIZE:
        raise syscall_error(errno.EINVAL)
    mm = task.mm
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP):
        if new_addr > TASK_SIZE - new_len or new_addr & _PAGE_OFF:
            raise syscall_error(errno.EINVAL)
        if not flags & MREMAP_MAYMOVE:
            raise syscall_error(errno.EINVAL)
        if flags & MREMAP_DONTUNMAP and old_len != new_len:
            raise syscall_error(errno.EINVAL)
        if addr + old_len > new_addr and new_addr + new_len > addr:
            raise syscall_error(errno.EINVAL)
        if len(mm.vmas) + 2 >= k.max_map_count - 3:
            raise syscall_error(errno.ENOMEM)

    charge = partial(vm_enough_memory, mm)
    req = Remap(addr, old_len, new_len, flags, new_addr, k.max_map_count, charge)
    return do_mremap(mm, req)
