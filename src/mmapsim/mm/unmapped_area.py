"""Where a new mapping goes: get_unmapped_area.

Linux semantics (``arch_get_unmapped_area_topdown`` on x86-64): a free hint
is used exactly (rounded down to a page); otherwise the highest free gap
below ``mmap_base`` that fits, and if none does, the lowest gap above
``TASK_UNMAPPED_BASE``.
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SIZE
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.memlayout import MMAP_LEGACY_BASE, MMAP_MIN_ADDR, TASK_SIZE
from mmapsim.mm.vmaset import vm_start_gap

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

    Preconditions: ``length`` is page aligned and not 0; ``align`` is a power
    of two, at least a page.
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
