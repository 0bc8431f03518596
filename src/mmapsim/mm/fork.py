"""fork's copy of an address space (dup_mmap, copy_page_range).

Linux semantics: the child gets a copy of every VMA (``VM_LOCKED`` is not
inherited) holding the same files.  Page-table entries are copied only for
VMAs that have anonymous pages (an ``anon_vma``); shared mappings and
untouched private file mappings are left for the child to fault in from the
page cache.  A private page that was writable becomes read-only in both
processes: the first of them to write it gets a copy (copy-on-write).  Shared
pages stay shared.  The child's copies are old (not Referenced) until used.
A ``VM_WIPEONFORK`` mapping (MAP_DROPPABLE, MADV_WIPEONFORK) reaches the child
empty; a ``VM_DONTCOPY`` one (MADV_DONTFORK) does not reach it at all.  Neither
``VM_LOCKED`` nor ``VM_LOCKONFAULT`` is inherited, nor mlockall's MCL_FUTURE.
"""

from __future__ import annotations

from itertools import repeat
from operator import and_

from mmapsim.events import Forked
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.pagetable import PTE_WRITE, PTE_YOUNG
from mmapsim.mm.vma import VM_LOCKED_MASK, AnonVma, Vma, VmFlag


def dup_mmap(parent: AddressSpace, child: AddressSpace) -> None:
    """Fill the empty ``child`` with a copy-on-write copy of ``parent``.

    Preconditions: ``child`` is a new address space with no VMA and no PTE.
    """
    child.brk_start = parent.brk_start
    child.brk = parent.brk
    child.mmap_base = parent.mmap_base
    mappings = copied = protected = left_empty = 0
    for vma in parent.vmas:
        if vma.flags & VmFlag.DONTCOPY:
            continue
        twin = vma.copy()
        twin.set_flags(int(vma.flags) & ~VM_LOCKED_MASK)
        child.insert_vma(twin)
        mappings += 1
        if vma.flags & VmFlag.WIPEONFORK:
            twin.anon_vma = None  # the child's copy starts empty (zero-filled)
        elif vma.anon_vma is not None:
            twin.anon_vma = AnonVma(forked=True)
            done, made_read_only = _copy_ptes(parent, child, vma)
            copied += done
            protected += made_read_only
        elif parent.ptes_in(vma.start, vma.end):
            left_empty += 1
    if parent.bus.active:
        parent.bus.emit(Forked(parent.pid, child.pid, mappings, copied, protected, left_empty))


def _copy_ptes(parent: AddressSpace, child: AddressSpace, vma: Vma) -> tuple[int, int]:
    """Copy ``vma``'s entries to the child; (entries copied, entries made read-only).

    In bulk: the parent's writable private entries lose PTE_WRITE, the child
    gets each entry old (PTE_YOUNG clear) and, for a private VMA, read-only;
    every frame gets one more map."""
    ptes = parent.ptes_in(vma.start, vma.end, ordered=False)
    if not ptes:
        return 0, 0
    protected = 0
    mask = ~PTE_YOUNG
    if not vma.shared:
        made_read_only = {v: p & ~PTE_WRITE for v, p in ptes.items() if p & PTE_WRITE}
        protected = len(made_read_only)
        parent.pt.update(made_read_only)
        mask = _CHILD_COW
    # pte & mask for every entry, the loop in C (map and zip over the values)
    copies = dict(zip(ptes, map(and_, ptes.values(), repeat(mask)), strict=True))
    child.pt.update(copies)
    parent.physmem.map_ptes(copies.values())
    return len(copies), protected


#: A private entry in the child: read-only (copy-on-write) and old.
_CHILD_COW = ~(PTE_WRITE | PTE_YOUNG)
