"""mincore's walk (mm/mincore.c): which pages of a range are resident.

Linux semantics: a page is resident when its PTE is present (the zero page
included), or, in a file or shared-memory VMA, when the page cache holds the
file's page at that offset even though this process has not mapped it (a page
read by another process, by ``read()`` or by ``MADV_WILLNEED``).  An anonymous
page never touched is not resident.  A page in no VMA stops the walk with
ENOMEM.  (The caller is root: the page-cache rule applies to every file.)
"""

from __future__ import annotations

import errno

from mmapsim.constants import PAGE_SHIFT
from mmapsim.errors import syscall_error
from mmapsim.mm.address_space import AddressSpace


def residency(mm: AddressSpace, addr: int, pages: int) -> bytes:
    """One byte per page of the ``pages`` pages at ``addr``: 1 resident, 0 not.

    Preconditions: ``addr`` is page aligned and ``addr + pages`` pages end inside user
    space.
    """
    first = addr >> PAGE_SHIFT
    stop = first + pages
    vmas = []
    vpn = first
    while vpn < stop:  # every page must be mapped before anything is counted
        vma = mm.vmas.find(vpn << PAGE_SHIFT)
        if vma is None:
            raise syscall_error(errno.ENOMEM)
        vmas.append(vma)
        vpn = vma.end >> PAGE_SHIFT
    out = bytearray(pages)
    for vpn in mm.ptes_in(addr, stop << PAGE_SHIFT):
        out[vpn - first] = 1
    for vma in vmas:
        if vma.inode is None:
            continue
        lo = max(first, vma.start >> PAGE_SHIFT)
        hi = min(stop, vma.end >> PAGE_SHIFT)
        base = vma.pgoff - (vma.start >> PAGE_SHIFT)  # pgoff = vpn + base
        for pgoff in vma.inode.cache:
            if lo <= pgoff - base < hi:
                out[pgoff - base - first] = 1
    return bytes(out)
