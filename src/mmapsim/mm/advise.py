"""madvise's work on an address space (mm/madvise.c), one VMA at a time.

Linux semantics of each advice, by kind of VMA:

- ``MADV_DONTNEED``: the range's page-table entries go (``zap_page_range``).
  A private anonymous page reads zero again; a private file page reads the
  file again, its private copy lost; a shared page keeps its data in the page
  cache.  A locked VMA refuses with EINVAL (``MADV_DONTNEED_LOCKED`` does not);
- ``MADV_FREE``: private anonymous memory only (EINVAL elsewhere or locked):
  the pages this process alone maps become clean and may be dropped under
  memory pressure; until then, or once written again, they keep their data;
- ``MADV_REMOVE``: punches a hole in a shared writable file or shared memory:
  the pages are gone from the page cache, from every mapping (private copies
  stay) and from the disk; the file keeps its size.  EINVAL for a locked VMA
  or one with no file, EACCES for a private or read-only one;
- ``MADV_WILLNEED``: reads the range of a file into the page cache, mapping
  nothing (anonymous memory: nothing to do without swap);
- ``MADV_COLD``: the pages that only this process maps become old (not
  Referenced); ``MADV_PAGEOUT`` reclaims them: a file or shared-memory page
  that only this process maps is unmapped, and dropped from the page cache
  when it is a clean file page; anonymous pages stay (there is no swap).
  Both are EINVAL on a locked VMA;
- the flag advices set or clear a ``vm_flags`` bit on the range, splitting the
  VMA: ``NORMAL``/``RANDOM``/``SEQUENTIAL`` (``rr``, ``sr``),
  ``DONTFORK``/``DOFORK`` (``dc``), ``WIPEONFORK``/``KEEPONFORK`` (``wf``,
  private anonymous memory only), ``DONTDUMP``/``DODUMP`` (``dd``),
  ``HUGEPAGE``/``NOHUGEPAGE`` (``hg``, ``nh``), ``MERGEABLE``/``UNMERGEABLE``
  (``mg``); a split beyond the map count limit fails with EAGAIN;
- ``MADV_POPULATE_READ``/``WRITE`` fault the pages in as a load or a store
  would (see :func:`populate`).

The walk (``madvise_walk_vmas``) skips holes but fails with ENOMEM at the
end; an error in one VMA stops it, the VMAs before keeping their advice.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from mmapsim import constants as c
from mmapsim.constants import PAGE_SHIFT
from mmapsim.errors import syscall_error
from mmapsim.events import PageUnmapped
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.mlock import populate_vma_range
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_WRITE, PTE_YOUNG
from mmapsim.mm.vma import Vma, VmFlag
from mmapsim.mm.vma_flags import modify_flags
from mmapsim.physmem import PG_ANON, PG_CACHE, PG_DIRTY, PG_LAZYFREE, ZERO_PFN

#: The flag advices: (bits cleared, bits set), as madvise_vma_behavior sets them.
FLAG_ADVICE: dict[int, tuple[VmFlag, VmFlag]] = {
    c.MADV_NORMAL: (VmFlag.RAND_READ | VmFlag.SEQ_READ, VmFlag(0)),
    c.MADV_SEQUENTIAL: (VmFlag.RAND_READ, VmFlag.SEQ_READ),
    c.MADV_RANDOM: (VmFlag.SEQ_READ, VmFlag.RAND_READ),
    c.MADV_DONTFORK: (VmFlag(0), VmFlag.DONTCOPY),
    c.MADV_DOFORK: (VmFlag.DONTCOPY, VmFlag(0)),
    c.MADV_WIPEONFORK: (VmFlag(0), VmFlag.WIPEONFORK),
    c.MADV_KEEPONFORK: (VmFlag.WIPEONFORK, VmFlag(0)),
    c.MADV_DONTDUMP: (VmFlag(0), VmFlag.DONTDUMP),
    c.MADV_DODUMP: (VmFlag.DONTDUMP, VmFlag(0)),
    c.MADV_HUGEPAGE: (VmFlag.NOHUGEPAGE, VmFlag.HUGEPAGE),
    c.MADV_NOHUGEPAGE: (VmFlag.HUGEPAGE, VmFlag.NOHUGEPAGE),
    c.MADV_MERGEABLE: (VmFlag(0), VmFlag.MERGEABLE),
    c.MADV_UNMERGEABLE: (VmFlag.MERGEABLE, VmFlag(0)),
}

#: What KSM never merges (``vma_ksm_compatible``): MADV_MERGEABLE leaves these alone.
_NOT_KSM = VmFlag.SHARED | VmFlag.MAYSHARE | VmFlag.DROPPABLE


def advise(mm: AddressSpace, start: int, end: int, advice: int, max_map_count: int) -> None:
    """Apply ``advice`` to ``[start, end)``: Linux's madvise_walk_vmas.

    Partial effect, as on Linux: holes are skipped and reported with ENOMEM
    at the end; an error in one VMA is raised at once, after the VMAs before
    it have taken the advice.

    Preconditions: ``start`` and ``end`` are page aligned, ``start < end``; ``advice`` is
    one madvise accepts (madvise_behavior_valid).
    """
    unmapped = False
    va = start
    while va < end:
        vma = mm.vmas.find_from(va)
        if vma is None:
            raise syscall_error(errno.ENOMEM)
        if va < vma.start:
            unmapped = True
            va = vma.start
            if va >= end:
                break
        hi = min(end, vma.end)
        _advise_vma(mm, vma, va, hi, advice, max_map_count)
        va = hi
    if unmapped:
        raise syscall_error(errno.ENOMEM)


def _advise_vma(
    mm: AddressSpace, vma: Vma, start: int, end: int, advice: int, max_map_count: int
) -> None:
    """madvise_vma_behavior: one advice on the part ``[start, end)`` of ``vma``."""
    action = _ACTIONS.get(advice)
    if action is not None:
        action(mm, vma, start, end)
        return
    cleared, added = FLAG_ADVICE[advice]
    _check_flag_advice(vma, advice)
    if advice == c.MADV_MERGEABLE and vma.flags & _NOT_KSM:
        return
    flags = (int(vma.flags) & ~int(cleared)) | int(added)
    try:
        modify_flags(mm, vma, start, end, flags, max_map_count)
    except OSError as err:  # madvise says EAGAIN when a split finds no room
        raise syscall_error(
            errno.EAGAIN if err.errno == errno.ENOMEM else err.errno or errno.EINVAL
        ) from None


def _check_flag_advice(vma: Vma, advice: int) -> None:
    if advice == c.MADV_WIPEONFORK and (vma.inode is not None or vma.shared):
        raise syscall_error(errno.EINVAL)  # anonymous private memory only
    if advice in (c.MADV_KEEPONFORK, c.MADV_DODUMP) and vma.flags & VmFlag.DROPPABLE:
        raise syscall_error(errno.EINVAL)


# -- the advices that act on pages ---------------------------------------------------


def _dontneed(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    if vma.flags & VmFlag.LOCKED:
        raise syscall_error(errno.EINVAL)
    mm.zap_range(start, end)


def _dontneed_locked(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    mm.zap_range(start, end)


def _free(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    """madvise_free_single_vma: exclusive anonymous pages become clean (lazy free).

    The PTE is write-protected so that the next store faults and makes the
    page dirty again (the hardware dirty bit, in this model)."""
    if vma.flags & VmFlag.LOCKED or not vma.is_anonymous or vma.shared:
        raise syscall_error(errno.EINVAL)
    physmem, pt = mm.physmem, mm.pt
    flags, mapcount = physmem.flags, physmem.mapcount
    for vpn, pte in mm.ptes_in(start, end).items():
        pfn = pte >> PFN_SHIFT
        if flags[pfn] & PG_ANON and mapcount[pfn] == 1:
            flags[pfn] |= PG_LAZYFREE
            pt[vpn] = pte & ~(PTE_WRITE | PTE_YOUNG)


def _remove(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    """madvise_remove: fallocate(PUNCH_HOLE | KEEP_SIZE) over the range's file pages."""
    if vma.flags & VmFlag.LOCKED:
        raise syscall_error(errno.EINVAL)
    inode = vma.inode
    if inode is None:
        raise syscall_error(errno.EINVAL)
    if not (vma.shared and vma.flags & VmFlag.MAYWRITE):
        raise syscall_error(errno.EACCES)
    punch_hole(mm, inode, vma.pgoff_of(start), vma.pgoff_of(end - 1) + 1)


def punch_hole(mm: AddressSpace, inode: Inode, first: int, stop: int) -> None:
    """Pages ``[first, stop)`` of ``inode`` become a hole: unmapped everywhere
    (private copies stay, as ``truncate_pagecache_range`` leaves them), dropped
    from the page cache and zeroed on disk; the size stays.

    Preconditions: ``inode`` is a file of the page cache that ``mm`` may change
    (FALLOC_FL_PUNCH_HOLE's checks are done).
    """
    stop = min(stop, inode.pages)
    if first >= stop:
        return
    for pgoff in range(first, stop):
        pfn = inode.cache.get(pgoff)
        if pfn is None:
            continue
        for vma in list(inode.mappings):
            owner = vma.mm
            if owner is None or not vma.pgoff <= pgoff < vma.pgoff + (vma.length >> PAGE_SHIFT):
                continue
            vpn = (vma.start >> PAGE_SHIFT) + pgoff - vma.pgoff
            pte = owner.pt.get(vpn)
            if pte is not None and pte >> PFN_SHIFT == pfn:
                _zap_pte(owner, vpn)
        mm.pagecache.evict(inode, pgoff)
    lo, hi = first << PAGE_SHIFT, min(stop << PAGE_SHIFT, inode.size)
    inode.disk[lo:hi] = bytes(hi - lo)
    if inode.kind is InodeKind.REGULAR:
        inode.touch(mm.pagecache.clock.now_ns())


def _zap_pte(mm: AddressSpace, vpn: int) -> None:
    """Remove one PTE (and its reference on the frame)."""
    pfn = mm.pt.pop(vpn) >> PFN_SHIFT
    if mm.bus.active:
        mm.bus.emit(PageUnmapped(mm.pid, vpn << PAGE_SHIFT, pfn))
    mm.unmap_pfn(pfn)


def _willneed(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    """madvise_willneed: read a file's pages of the range into the page cache."""
    inode = vma.inode
    if inode is None or inode.kind is not InodeKind.REGULAR:
        return  # anonymous or shared memory: only swapped-out pages would be read
    last = min(vma.pgoff_of(end - 1) + 1, inode.pages)
    for pgoff in range(vma.pgoff_of(start), last):
        mm.pagecache.find_or_read(inode, pgoff)


def _cold(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    """madvise_cold: pages mapped by this process alone become old."""
    if vma.flags & VmFlag.LOCKED:
        raise syscall_error(errno.EINVAL)
    pt, mapcount = mm.pt, mm.physmem.mapcount
    for vpn, pte in mm.ptes_in(start, end).items():
        pfn = pte >> PFN_SHIFT
        if pfn != ZERO_PFN and mapcount[pfn] == 1:
            pt[vpn] = pte & ~PTE_YOUNG


def _pageout(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    """madvise_pageout: reclaim what only this process maps and needs no swap."""
    if vma.flags & VmFlag.LOCKED:
        raise syscall_error(errno.EINVAL)
    physmem = mm.physmem
    for vpn, pte in mm.ptes_in(start, end).items():
        pfn = pte >> PFN_SHIFT
        inode = physmem.inode.get(pfn)
        if inode is None or physmem.mapcount[pfn] != 1:
            continue  # anonymous memory would need swap; shared frames are skipped
        pgoff = physmem.pgoff[pfn]
        _zap_pte(mm, vpn)
        cached = physmem.refcount[pfn] == 1 and physmem.flags[pfn] & PG_CACHE
        if inode.kind is InodeKind.REGULAR and cached and not physmem.flags[pfn] & PG_DIRTY:
            mm.pagecache.evict(inode, pgoff)


_ACTIONS: dict[int, Callable[[AddressSpace, Vma, int, int], None]] = {
    c.MADV_DONTNEED: _dontneed,
    c.MADV_DONTNEED_LOCKED: _dontneed_locked,
    c.MADV_FREE: _free,
    c.MADV_REMOVE: _remove,
    c.MADV_WILLNEED: _willneed,
    c.MADV_COLD: _cold,
    c.MADV_PAGEOUT: _pageout,
}


def populate(mm: AddressSpace, start: int, end: int, write: bool) -> None:
    """madvise_populate: fault in every page of ``[start, end)`` as a load
    (POPULATE_READ) or a store (POPULATE_WRITE) would, breaking copy-on-write
    and dirtying shared pages for a store.

    ENOMEM for a hole, EINVAL for a VMA that forbids the access, EFAULT for a
    page beyond the end of its file.  Partial effect: the pages before the
    failure stay populated.

    Preconditions: ``start`` and ``end`` are page aligned, ``start < end``.
    """
    va = start
    while va < end:
        vma = mm.vmas.find(va)
        if vma is None:
            raise syscall_error(errno.ENOMEM)
        if not vma.flags & (VmFlag.WRITE if write else VmFlag.READ):
            raise syscall_error(errno.EINVAL)  # check_vma_flags: VM_READ itself, no FOLL_FORCE
        hi = min(end, vma.end)
        err = populate_vma_range(mm, vma, va, hi, write)
        if err:
            raise syscall_error(err)
        va = hi
