"""Changing the non-protection flags of part of a VMA (Linux's ``vma_modify_flags``).

madvise and mlock give a range new ``vm_flags`` bits that do not change what the
CPU may do (``dc``, ``wf``, ``dd``, ``hg``, ``lo``, ...): the VMA is split at the
range's ends, gets its new flags, and merges with neighbours that now match.
Page-table entries are left as they are.
"""

from __future__ import annotations

import errno

from mmapsim.errors import syscall_error
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.vma import Vma


def modify_flags(
    mm: AddressSpace, vma: Vma, start: int, end: int, flags: int, max_map_count: int
) -> Vma:
    """Give ``[start, end)`` of ``vma`` the flags ``flags``; returns the VMA now
    holding ``start``.

    A split that would pass ``max_map_count`` fails with ENOMEM (``split_vma``);
    a split already made stays, as on Linux.

    Preconditions: ``vma.start <= start < end <= vma.end``.
    """
    if int(vma.flags) == flags:
        return vma
    if vma.start < start:
        _check_split(mm, max_map_count)
        vma = mm.split(vma, start)
    if vma.end > end:
        _check_split(mm, max_map_count)
        mm.split(vma, end)
    vma.set_flags(flags)
    return mm.try_merge(vma)


def _check_split(mm: AddressSpace, max_map_count: int) -> None:
    if len(mm.vmas) >= max_map_count:
        raise syscall_error(errno.ENOMEM)
