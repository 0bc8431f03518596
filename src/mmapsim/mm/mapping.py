"""Making and removing mappings: placement, mmap_region, munmap, populate.

Linux semantics:

- placement (``arch_get_unmapped_area_topdown``): a free hint is used exactly
  (rounded down to a page); otherwise the highest free gap below ``mmap_base``
  that fits, and if none does, the lowest gap above ``TASK_UNMAPPED_BASE``;
- ``mmap_region``: a MAP_FIXED mapping first unmaps whatever was there, then
  the new VMA merges with compatible neighbours;
- ``munmap``: any page-aligned range, across holes and several VMAs, splitting
  the VMAs at its ends; the page cache keeps the data of shared pages;
- populate (MAP_POPULATE, MAP_LOCKED): faults every page in now, writing for a
  private writable mapping; errors (such as pages beyond end of file) are
  ignored, as ``mm_populate`` ignores them.
"""

from __future__ import annotations

import errno

from mmapsim.constants import PAGE_SIZE
from mmapsim.errors import syscall_error
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import Inode
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.fault import MemoryFault, handle_fault
from mmapsim.mm.memlayout import MMAP_LEGACY_BASE, MMAP_MIN_ADDR, TASK_SIZE
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_WRITE
from mmapsim.mm.vma import Vma, VmFlag
from mmapsim.mm.vmaset import vm_start_gap
from mmapsim.physmem import PG_REFERENCED

#: The size of a huge page (PMD) on x86-64.
PMD_SIZE = 2 * 1024 * 1024
#: Where MAP_32BIT mappings go on x86-64.
LOW32_BEGIN, LOW32_END = 0x40000000, 0x80000000


def hint_is_free(mm: AddressSpace, addr: int, length: int) -> bool:
    """Whether a hint can be used as it is (mmap_address_hint_valid + find_vma)."""
    if addr < MMAP_MIN_ADDR or TASK_SIZE - length < addr:
        return False
    nxt = mm.vmas.find_from(addr)
    return nxt is None or addr + length <= vm_start_gap(nxt)


def get_unmapped_area(
    mm: AddressSpace,
    addr: int,
    length: int,
    thp: bool,
    *,
    low32: bool = False,
    align: int = PAGE_SIZE,
) -> int | None:
    """Where a new non-fixed mapping of ``length`` bytes goes, or None if nowhere.

    ``thp``: a private anonymous mapping, which Linux places on a 2 MiB boundary
    when its length is a multiple of 2 MiB and there is no hint
    (``thp_get_unmapped_area``).  ``low32``: MAP_32BIT, searched bottom-up in
    ``[1 GiB, 2 GiB)`` (``find_start_end``; without the randomised start that
    Linux adds under ASLR).  ``align``: a huge page size (hugetlbfs's
    ``vm_unmapped_area`` with an alignment mask).
    """
    if length > TASK_SIZE:
        return None
    if low32:
        if addr and LOW32_END - length >= addr and _free_at(mm, addr, length):
            return addr

        def search(n: int) -> int | None:
            return _bottomup(mm, n, LOW32_BEGIN, LOW32_END)
    else:
        if addr and hint_is_free(mm, addr, length):
            return addr

        def search(n: int) -> int | None:
            return _search(mm, n)

    if align > PAGE_SIZE:
        padded = length + align - PAGE_SIZE
        found = search(padded)
        if found is None:
            return None
        if low32:
            return (found + align - 1) & ~(align - 1)
        return (found + padded - length) & ~(align - 1)
    if thp and not addr and length % PMD_SIZE == 0:
        padded_at = search(length + PMD_SIZE)
        if padded_at is not None:
            off_sub = -padded_at & (PMD_SIZE - 1)
            return padded_at + (PMD_SIZE if off_sub == 0 else off_sub)
    return search(length)


def _free_at(mm: AddressSpace, addr: int, length: int) -> bool:
    nxt = mm.vmas.find_from(addr)
    return nxt is None or addr + length <= vm_start_gap(nxt)


def _search(mm: AddressSpace, length: int) -> int | None:
    found = _topdown(mm, length, max(PAGE_SIZE, MMAP_MIN_ADDR), mm.mmap_base)
    if found is None:
        found = _bottomup(mm, length, MMAP_LEGACY_BASE, TASK_SIZE)
    return found


def _topdown(mm: AddressSpace, length: int, low: int, high: int) -> int | None:
    straddling = mm.vmas.gap_at(high - 1)
    if straddling is not None:
        gap_start, _ = straddling
        if high - max(gap_start, low) >= length:
            return high - length
    end = mm.vmas.gaps.highest_fit(length, low, high)
    return None if end is None else end - length


def _bottomup(mm: AddressSpace, length: int, low: int, high: int) -> int | None:
    for gap_start, gap_end in mm.vmas.gaps.all():
        start = max(gap_start, low)
        if min(gap_end, high) - start >= length:
            return start
    return None


def map_region(
    mm: AddressSpace,
    start: int,
    length: int,
    flags: int,
    pgoff: int,
    file: OpenFile | None,
    inode: Inode | None,
) -> Vma:
    """mmap_region: replace ``[start, start+length)`` with a new VMA and merge it."""
    unmap(mm, start, start + length)
    vma = Vma(start, start + length, flags, pgoff, file, inode)
    mm.insert_vma(vma)
    return mm.try_merge(vma)


def unmap(mm: AddressSpace, start: int, end: int) -> None:
    """do_munmap: remove ``[start, end)``, splitting VMAs at its ends."""
    for vma in mm.vmas.overlapping(start, end):
        if vma.start < start:
            vma = mm.split(vma, start)
        if vma.end > end:
            mm.split(vma, end)
        mm.remove_vma(vma)


def check_splits(mm: AddressSpace, start: int, end: int) -> None:
    """A hugetlb VMA splits only on a huge page boundary (``hugetlb_vm_op_split``):
    EINVAL before anything changes when ``start`` or ``end`` would cut one elsewhere."""
    for at in (start, end):
        vma = mm.vmas.find(at)
        if vma is not None and vma.start < at and vma.flags & VmFlag.HUGETLB:
            size = hugetlb_page_size(vma)
            if at & (size - 1):
                raise syscall_error(errno.EINVAL)


def hugetlb_page_size(vma: Vma) -> int:
    """The page size of a hugetlb VMA (its inode's huge page size)."""
    size = getattr(vma.inode, "huge_page_size", None)
    return size if isinstance(size, int) else PMD_SIZE


def splits_needed(mm: AddressSpace, start: int, end: int) -> bool:
    """Whether munmap of ``[start, end)`` must cut one VMA in two (map_count check)."""
    vma = mm.vmas.find(start)
    return vma is not None and vma.start < start and end < vma.end


def populate(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    """Fault in every page of ``[start, end)`` now (MAP_POPULATE, MAP_LOCKED)."""
    if not vma.readable and not vma.writable:  # PROT_NONE, or execute-only memory
        return
    if vma.flags & VmFlag.HUGETLB:  # no huge page to fault in
        return
    write = bool(vma.flags & VmFlag.WRITE) and not vma.shared
    if vma.inode is not None:
        file_pages = (vma.inode.size + PAGE_SIZE - 1) // PAGE_SIZE
        end = min(end, max(start, vma.start + (file_pages - vma.pgoff) * PAGE_SIZE))
    for va in range(start, end, PAGE_SIZE):
        pte = mm.pt.get(va >> 12)
        if pte is None or (write and not pte & PTE_WRITE):
            try:
                pte = handle_fault(mm, va, write)
            except MemoryFault:
                return
        mm.physmem.flags[pte >> PFN_SHIFT] |= PG_REFERENCED  # get_user_pages marks it
