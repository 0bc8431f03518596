"""The heap: the program break's mappings (Linux's ``brk`` body and ``do_brk_flags``).

Linux semantics (mm/mmap.c, ``SYSCALL_DEFINE1(brk)``):

- the call never fails: the new break, or the old one when the request
  cannot be met (below the start of the heap; colliding with the next
  mapping or its stack guard gap; no memory);
- growing maps anonymous private read-write memory (``do_brk_flags``), which
  extends the anonymous VMA that ends at the old break (the heap, or the
  ``.bss`` of a program whose data ends there);
- ``maps()`` calls ``[heap]`` each anonymous VMA that overlaps
  ``(start_brk, brk)`` (``vma_is_initial_heap``), so the ``.bss`` pages that the
  heap grew out of are ``[heap]`` too, and nothing is once the heap is empty;
- shrinking unmaps the whole pages above the new break (always allowed);
- a value below the start just asks for the current break.
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SIZE
from mmapsim.mm import mapping
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.memlayout import TASK_SIZE, page_align
from mmapsim.mm.mlock import mm_populate
from mmapsim.mm.vma import VM_LOCKED, Vma, VmFlag
from mmapsim.mm.vmaset import vm_start_gap

HEAP_FLAGS = (
    VmFlag.READ | VmFlag.WRITE | VmFlag.MAYREAD | VmFlag.MAYWRITE | VmFlag.MAYEXEC | VmFlag.ACCOUNT
)


def current_brk(mm: AddressSpace) -> int:
    """mm->brk; for an image that never set it, the end of the heap at ``brk_start``."""
    if mm.brk < mm.brk_start:
        vma = mm.vmas.find(mm.brk_start)
        mm.brk = vma.end if vma is not None and vma.name == "[heap]" else mm.brk_start
    return mm.brk


def do_brk(mm: AddressSpace, brk: int, max_map_count: int) -> int:
    """Move the break to ``brk`` if it can; returns the break after the call.

    Preconditions: ``mm.brk_start`` is set (a loader made the heap's start).
    """
    old = current_brk(mm)
    if brk < mm.brk_start or brk > TASK_SIZE:
        return old
    new_top, old_top = page_align(brk), page_align(old)
    if new_top == old_top:
        mm.brk = brk
    elif brk <= old:
        mapping.unmap(mm, new_top, old_top)
        mm.brk = brk
    elif _grow(mm, old_top, new_top, max_map_count):
        mm.brk = brk
    name_heap(mm)
    return mm.brk


def name_heap(mm: AddressSpace) -> None:
    """Name ``[heap]`` exactly the anonymous VMAs overlapping (start_brk, brk).

    Preconditions: ``mm.brk_start`` is set (a loader placed the heap).
    """
    low = max(mm.brk_start - PAGE_SIZE, 0)
    for vma in mm.vmas.overlapping(low, page_align(max(mm.brk, mm.brk_start)) + PAGE_SIZE):
        if vma.inode is None and vma.name in ("", "[heap]"):
            heap = vma.start < mm.brk and vma.end > mm.brk_start
            vma.name = "[heap]" if heap else ""


def _grow(mm: AddressSpace, old_top: int, new_top: int, max_map_count: int) -> bool:
    """do_brk_flags: map ``[old_top, new_top)`` anonymous, merged into the heap."""
    nxt = mm.vmas.find_from(old_top)
    if nxt is not None and new_top + PAGE_SIZE > vm_start_gap(nxt):
        return False
    if len(mm.vmas) >= max_map_count:
        return False
    prev = mm.vmas.find(old_top - 1)
    if prev is not None and prev.end == old_top and prev.inode is None and not prev.name:
        prev.name = "[heap]"  # so that the new pages merge into it, as do_brk_flags expands it
    flags = HEAP_FLAGS | mm.def_flags  # mlockall(MCL_FUTURE) locks the heap's growth too
    vma = Vma(old_top, new_top, flags, old_top // PAGE_SIZE, name="[heap]")
    mm.insert_vma(vma)
    mm.try_merge(vma)
    if mm.def_flags & VM_LOCKED:
        mm_populate(mm, old_top, new_top, ignore_errors=True)
    return True
