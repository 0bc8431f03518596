"""Page faults: what the kernel does when a load or store finds no usable PTE.

Linux semantics (mm/memory.c), per kind of VMA:

- private anonymous: a read maps the shared zero frame read-only; a write
  allocates a zeroed frame (``do_anonymous_page``);
- private file: a read maps the page-cache frame read-only, so the process sees
  later changes to the file; a write copies it into a new anonymous frame
  (``do_cow_fault``); a later write to a read-only private page copies it
  unless this process alone maps an anonymous frame, which is reused
  (``do_wp_page``);
- shared file: the page-cache frame is mapped; a write marks it dirty and
  updates the file's mtime (``page_mkwrite``); a clean page is mapped
  read-only so that its first write is noticed (write-notify);
- shared anonymous: as shared file, over the hidden shmem inode, with no
  write-notify;
- a read fault on a file or shared anonymous page also maps the neighbouring
  pages already in the page cache (fault-around, 64 KiB aligned);
- a page wholly beyond end of file gives SIGBUS; an address in no VMA, or an
  access the VMA forbids, gives SIGSEGV; PROT_WRITE implies read (x86);
- when no frame is left, the faulting process is killed (SIGKILL), as the
  OOM killer would choose it.

A stack VMA grows down when an access lands below it, within RLIMIT_STACK and
not closer than the guard gap to the VMA below.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from mmapsim.constants import PAGE_MASK, PAGE_SHIFT
from mmapsim.errors import KernelPanic
from mmapsim.events import (
    AnonPageAllocated,
    CowCopy,
    CowReuse,
    FaultAround,
    FrameFreed,
    PageFault,
    SignalSent,
    ZeroPageMapped,
)
from mmapsim.fs.inode import InodeKind
from mmapsim.mm.memlayout import STACK_GUARD_GAP, STACK_RLIMIT
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_READ, PTE_RWY, PTE_WRITE, PTE_YOUNG
from mmapsim.mm.vma import VM_HUGETLB, AnonVma, Vma, VmFlag
from mmapsim.physmem import PG_ANON, PG_LAZYFREE, ZERO_PFN, OutOfMemory

if TYPE_CHECKING:
    from mmapsim.mm.address_space import AddressSpace


#: fault_around_bytes (64 KiB) in pages, and the entries of one page table.
FAULT_AROUND_PAGES = 16
PTRS_PER_PTE = 512

_RY = PTE_READ | PTE_YOUNG
#: What a load of untouched anonymous memory maps: the zero frame, read-only.
_ZERO_PTE = ZERO_PFN << PFN_SHIFT | _RY


class MemoryFault(Exception):
    """The kernel answers an access with a signal (raised inside the kernel only)."""

    def __init__(self, sig: signal.Signals, va: int, reason: str) -> None:
        super().__init__(f"{sig.name} at {va:#x}: {reason}")
        self.signal = sig
        self.va = va
        self.reason = reason


def _kill(mm: AddressSpace, sig: signal.Signals, va: int, reason: str) -> MemoryFault:
    if mm.bus.active:
        mm.bus.emit(SignalSent(mm.pid, sig.name, va, reason))
    return MemoryFault(sig, va, reason)


def handle_fault(mm: AddressSpace, va: int, write: bool) -> int:
    """Resolve a fault at ``va`` and return the PTE now there, or raise MemoryFault.

    The common faults take three calls: this one, the VMA look-up and the frame
    allocation (a private anonymous write) or the page-cache look-up.
    """
    vma = mm.vmas.find(va)
    if (
        vma is None
        or not (vma.writable if write else vma.readable)
        or (vma.inode is not None and int(vma.flags) & VM_HUGETLB)
    ):
        vma = _bad_access(mm, vma, va, write)
    vpn = va >> PAGE_SHIFT
    pt = mm.pt
    pte = pt.get(vpn)
    if mm.bus.active:  # the cause first, then what resolving it does
        mm.bus.emit(PageFault(mm.pid, va & PAGE_MASK, write, _reads_disk(vma, va, pte)))
    try:
        if pte is not None:
            if write:
                pte = pt[vpn] = _fault_write_protected(mm, vma, va, pte)
            return pte
        if write and vma.inode is None:  # do_anonymous_page, a store
            pfn = mm.physmem.alloc(PG_ANON, 1)  # mapped by the PTE made below
            if vma.anon_vma is None:
                vma.anon_vma = _mergeable_anon_vma(mm, vma) or AnonVma()
            if mm.bus.active:
                mm.bus.emit(AnonPageAllocated(mm.pid, va & PAGE_MASK, pfn))
            pte = pt[vpn] = pfn << PFN_SHIFT | PTE_RWY
            return pte
        pte = pt[vpn] = _fault_missing(mm, vma, va, write)
        return pte
    except OutOfMemory:
        raise _kill(mm, signal.SIGKILL, va, "out of memory: the OOM killer chose it") from None


def _bad_access(mm: AddressSpace, vma: Vma | None, va: int, write: bool) -> Vma:
    """The slow checks of an access: a stack to grow, or the signal to send."""
    if vma is None:
        vma = _expand_stack(mm, va)
        if vma is None:
            raise _kill(mm, signal.SIGSEGV, va, "no mapping at this address")
    if not (vma.writable if write else vma.readable):
        raise _kill(mm, signal.SIGSEGV, va, "access not allowed by the mapping's protection")
    if int(vma.flags) & VM_HUGETLB:
        raise _kill(mm, signal.SIGBUS, va, "no huge page is reserved for this hugetlb mapping")
    return vma


def _reads_disk(vma: Vma, va: int, pte: int | None) -> bool:
    """Whether resolving this fault reads the file's page from disk (a major fault)."""
    inode = vma.inode
    if pte is not None or inode is None:
        return False
    pgoff = vma.pgoff_of(va)
    return pgoff < inode.pages and pgoff not in inode.cache


def _fault_missing(mm: AddressSpace, vma: Vma, va: int, write: bool) -> int:
    """No PTE yet: fill it from the zero frame, a new frame or the page cache."""
    inode = vma.inode
    if inode is None:  # a load of untouched anonymous memory
        if mm.bus.active:
            mm.bus.emit(ZeroPageMapped(mm.pid, va & PAGE_MASK, ZERO_PFN))
        return _ZERO_PTE
    pgoff = vma.pgoff + ((va - vma.start) >> PAGE_SHIFT)
    if pgoff >= inode.pages:
        raise _kill(mm, signal.SIGBUS, va, "page wholly beyond the end of the file")
    cache = inode.cache
    if not write and len(cache) > (pgoff in cache):  # a neighbour may be cached
        _fault_around(mm, vma, va)
    pfn = cache.get(pgoff)
    if pfn is None:
        pfn = mm.pagecache.find_or_read(inode, pgoff)[0]
    physmem = mm.physmem
    if vma.shared:
        # a read maps the page read-only, shmem too: its first store dirties it
        # (Linux's hardware dirty bit, which smaps reads)
        if write:
            _dirty(mm, pfn, va)
        physmem.map(pfn)
        return pfn << PFN_SHIFT | (PTE_RWY if write else _RY)
    if not write:
        physmem.map(pfn)
        return pfn << PFN_SHIFT | _RY
    return _copy(mm, vma, va, pfn) << PFN_SHIFT | PTE_RWY


def _fault_around(mm: AddressSpace, vma: Vma, va: int) -> None:
    """do_fault_around: map the neighbours of a read-faulted file page that are
    already in the page cache, in the 16-page window aligned in the address space,
    clipped to the VMA, the page table and the end of the file."""
    inode = vma.inode
    if inode is None:
        raise KernelPanic("_fault_around", f"{vma!r} maps no file")
    vpn = va >> PAGE_SHIFT
    pte_off = vpn & (PTRS_PER_PTE - 1)
    vma_off = vpn - (vma.start >> PAGE_SHIFT)
    vma_pages = (vma.end - vma.start) >> PAGE_SHIFT
    from_pte = max(pte_off & ~(FAULT_AROUND_PAGES - 1), pte_off - min(pte_off, vma_off))
    to_pte = min(from_pte + FAULT_AROUND_PAGES, PTRS_PER_PTE, pte_off + vma_pages - vma_off)
    last_pgoff = inode.pages - 1
    cache, pt = inode.cache, mm.pt
    base = vma.pgoff - (vma.start >> PAGE_SHIFT)  # pgoff = vpn + base
    found = {}
    for near in range(vpn - pte_off + from_pte, vpn - pte_off + to_pte):
        pgoff = near + base
        pfn = cache.get(pgoff)
        if near == vpn or pfn is None or pgoff > last_pgoff or near in pt:
            continue
        found[near] = pfn << PFN_SHIFT | _RY
    if found:
        pt.update(found)
        mm.physmem.map_many([pte >> PFN_SHIFT for pte in found.values()])
        if mm.bus.active:
            mm.bus.emit(FaultAround(mm.pid, va & PAGE_MASK, len(found)))


def _fault_write_protected(mm: AddressSpace, vma: Vma, va: int, pte: int) -> int:
    """A store to a present read-only PTE in a writable VMA (do_wp_page); the new PTE."""
    pfn = pte >> PFN_SHIFT
    physmem = mm.physmem
    if vma.shared:
        _dirty(mm, pfn, va)
        return pte | PTE_WRITE | PTE_YOUNG
    if physmem.reusable(pfn):
        physmem.flags[pfn] &= ~PG_LAZYFREE  # written again after MADV_FREE: dirty, kept
        if mm.bus.active:
            mm.bus.emit(CowReuse(mm.pid, va & PAGE_MASK, pfn))
        return pte | PTE_WRITE | PTE_YOUNG
    copy = physmem.alloc(PG_ANON, 1, pfn)  # as _copy does, inline: the common COW fault
    if vma.anon_vma is None:
        vma.anon_vma = _mergeable_anon_vma(mm, vma) or AnonVma()
    freed = physmem.unmap(pfn)
    if mm.bus.active:
        mm.bus.emit(CowCopy(mm.pid, va & PAGE_MASK, pfn, copy))
        if freed:
            mm.bus.emit(FrameFreed(pfn))
    return copy << PFN_SHIFT | (pte & PTE_READ) | PTE_WRITE | PTE_YOUNG


def _copy(mm: AddressSpace, vma: Vma, va: int, pfn: int) -> int:
    """Copy-on-write: a new anonymous frame, mapped once, with ``pfn``'s bytes."""
    copy = mm.physmem.alloc(PG_ANON, 1, pfn)
    if vma.anon_vma is None:
        vma.anon_vma = _mergeable_anon_vma(mm, vma) or AnonVma()
    if mm.bus.active:
        mm.bus.emit(CowCopy(mm.pid, va & PAGE_MASK, pfn, copy))
    return copy


def _mergeable_anon_vma(mm: AddressSpace, vma: Vma) -> AnonVma | None:
    """find_mergeable_anon_vma: a neighbour's anon_vma that ``vma`` may share, so
    that the two can merge later (next first, then prev, as mm/rmap.c tries)."""
    nxt = mm.vmas.next_of(vma)
    if nxt is not None and _anon_vma_compatible(vma, nxt) and _reusable(nxt.anon_vma):
        return nxt.anon_vma
    prev = mm.vmas.prev_of(vma)
    if prev is not None and _anon_vma_compatible(prev, vma) and _reusable(prev.anon_vma):
        return prev.anon_vma
    return None


def _anon_vma_compatible(a: Vma, b: Vma) -> bool:
    """anon_vma_compatible: adjacent, same backing, flags equal but for rwx, contiguous."""
    access = int(VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC)
    return (
        a.end == b.start
        and a.file is b.file
        and a.inode is b.inode
        and not (int(a.flags) ^ int(b.flags)) & ~access
        and b.pgoff == a.pgoff + ((a.end - a.start) >> PAGE_SHIFT)
    )


def _reusable(anon_vma: AnonVma | None) -> AnonVma | None:
    """reusable_anon_vma: not one that fork chained to a parent's."""
    return anon_vma if anon_vma is not None and not anon_vma.forked else None


def _dirty(mm: AddressSpace, pfn: int, va: int) -> None:
    """page_mkwrite: the first store to a clean shared page dirties it (and
    reserves its block: SIGBUS when the disk is full, as ext4 answers)."""
    physmem = mm.physmem
    inode = physmem.inode.get(pfn)
    if inode is None:
        return
    if not mm.pagecache.reserve(inode, physmem.pgoff[pfn]):
        raise _kill(mm, signal.SIGBUS, va, "no space left on the disk for this page")
    mm.pagecache.set_dirty(pfn)
    if inode.kind is InodeKind.REGULAR:
        inode.touch(mm.pagecache.clock.now_ns())


def _expand_stack(mm: AddressSpace, va: int) -> Vma | None:
    """Grow a VM_GROWSDOWN VMA down to cover ``va``, as expand_downwards does."""
    stack = mm.vmas.find_from(va)
    if stack is None or not stack.flags & VmFlag.GROWSDOWN:
        return None
    new_start = va & PAGE_MASK
    if stack.end - new_start > STACK_RLIMIT:
        return None
    prev = mm.vmas.prev_of(stack)
    if prev is not None and new_start - prev.end < STACK_GUARD_GAP:
        return None
    if stack.anon_vma is None:  # expand_downwards prepares the anon_vma first
        stack.anon_vma = _mergeable_anon_vma(mm, stack) or AnonVma()
    mm.vmas.extend_down(stack, new_start)
    return stack
