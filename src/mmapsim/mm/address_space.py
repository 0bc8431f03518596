"""A process's address space: its VMA set and page table, and what the CPU does.

``load`` and ``store`` are the CPU: one dictionary look-up and a slice when the
page is resident and the access allowed, a page fault otherwise
(:mod:`mmapsim.mm.fault`).  The operations behind the memory system calls live
in their own modules (:mod:`.mapping`, :mod:`.protect`, :mod:`.msync`,
:mod:`.fork`); this module holds the shared bookkeeping: which PTEs a range
has, how a PTE is removed, and how a VMA joins or leaves the address space.
"""

from __future__ import annotations

import errno
from typing import Protocol

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE
from mmapsim.errors import syscall_error
from mmapsim.events import AddressSpaceEmptied, EventBus, FrameFreed, PageUnmapped
from mmapsim.fs.file import OpenFile
from mmapsim.fs.pagecache import PageCache
from mmapsim.mm.fault import handle_fault
from mmapsim.mm.memlayout import MMAP_BASE
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_READ, PTE_WRITE, PTE_YOUNG, PageTable
from mmapsim.mm.vma import Vma, VmFlag
from mmapsim.mm.vmaset import VmaSet
from mmapsim.physmem import BANK_MASK, BANK_SHIFT, PhysicalMemory

_OFF = PAGE_SIZE - 1
#: A PTE's frame, in the CPU's arithmetic: ``pte >> PFN_SHIFT`` is the pfn, so
#: ``pte >> _PTE_BANK_SHIFT`` is its bank and ``pte & _IN_BANK`` the byte offset
#: of the frame in that bank (the pfn's low BANK_SHIFT bits, already times 4096).
_PTE_BANK_SHIFT = PFN_SHIFT + BANK_SHIFT
_IN_BANK = BANK_MASK << PFN_SHIFT


class FileRefs(Protocol):
    """How a VMA takes and drops its reference on an open file description."""

    def get_file(self, ofd: OpenFile) -> None: ...

    def put_file(self, ofd: OpenFile) -> None: ...


class AddressSpace:
    """The memory of one process (Linux's ``mm_struct``).

    Invariant: every PTE lies inside a VMA and each mapped frame's ``mapcount``
    counts it; every VMA is in its inode's ``mappings`` and holds a reference
    on its open file description.
    """

    __slots__ = (
        "banks",
        "brk",
        "brk_start",
        "bus",
        "def_flags",
        "files",
        "mmap_base",
        "pagecache",
        "physmem",
        "pid",
        "pt",
        "vmas",
    )

    def __init__(
        self,
        pid: int,
        physmem: PhysicalMemory,
        pagecache: PageCache,
        bus: EventBus,
        files: FileRefs,
    ) -> None:
        self.pid = pid
        self.physmem = physmem
        self.banks = physmem.banks  # the RAM as the CPU reaches it (see load and store)
        self.pagecache = pagecache
        self.bus = bus
        self.files = files
        self.vmas = VmaSet()
        self.pt: PageTable = {}
        self.brk_start = 0
        self.brk = 0  # the program break (mm->brk); 0 until a loader sets it
        self.mmap_base = MMAP_BASE  # where top-down placement starts (mm->mmap_base)
        self.def_flags = 0  # flags every new VMA gets (mm->def_flags: mlockall's MCL_FUTURE)

    # -- the CPU ------------------------------------------------------------

    def load(self, va: int, size: int) -> bytes:
        """Read ``size`` bytes at ``va``, faulting pages in as needed."""
        off = va & _OFF
        if off + size <= PAGE_SIZE:
            vpn = va >> PAGE_SHIFT
            pte = self.pt.get(vpn)
            if pte is None or not pte & PTE_READ:
                pte = handle_fault(self, va, False)
            if not pte & PTE_YOUNG:
                self.pt[vpn] = pte | PTE_YOUNG
            at = (pte & _IN_BANK) | off
            return self.banks[pte >> _PTE_BANK_SHIFT][at : at + size]
        out = bytearray()
        end = va + size
        while va < end:
            n = min(PAGE_SIZE - (va & _OFF), end - va)
            out += self.load(va, n)
            va += n
        return bytes(out)

    def store(self, va: int, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` at ``va``, faulting pages in (and copying them) as needed."""
        size = len(data)
        off = va & _OFF
        if off + size <= PAGE_SIZE:
            vpn = va >> PAGE_SHIFT
            pte = self.pt.get(vpn)
            if pte is None or not pte & PTE_WRITE:
                pte = handle_fault(self, va, True)
            elif not pte & PTE_YOUNG:
                self.pt[vpn] = pte | PTE_YOUNG
            at = (pte & _IN_BANK) | off
            self.banks[pte >> _PTE_BANK_SHIFT][at : at + size] = data
            return
        view = memoryview(data)
        pos = 0
        while pos < size:
            n = min(PAGE_SIZE - ((va + pos) & _OFF), size - pos)
            self.store(va + pos, view[pos : pos + n])
            pos += n

    # -- page-table bookkeeping --------------------------------------------

    def ptes_in(self, start: int, end: int, ordered: bool = True) -> dict[int, int]:
        """The entries ``vpn -> pte`` of ``[start, end)``, lowest first (or in
        the table's own order when not ``ordered``: the caller needs no order)."""
        first, last = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        pt = self.pt
        if last - first <= len(pt) >> 1:
            return {v: pt[v] for v in range(first, last) if v in pt}
        if first <= min(pt, default=first) and max(pt, default=first) < last:
            found = dict(pt)  # the range holds the whole table (a process of one big VMA)
        else:
            found = {v: p for v, p in pt.items() if first <= v < last}
        return found if not ordered else {v: found[v] for v in sorted(found)}

    def unmap_pfn(self, pfn: int) -> None:
        """Drop the reference one PTE held on frame ``pfn``."""
        if self.physmem.unmap(pfn) and self.bus.active:
            self.bus.emit(FrameFreed(pfn))

    def zap_range(self, start: int, end: int) -> None:
        """Remove every PTE of ``[start, end)`` (zap_page_range).

        Preconditions: ``start`` and ``end`` are page aligned, ``start <= end``.
        """
        ptes = self.ptes_in(start, end)
        if not ptes:
            return
        pt = self.pt
        if not self.bus.active:
            for vpn in ptes:
                del pt[vpn]
            self.physmem.unmap_many([pte >> PFN_SHIFT for pte in ptes.values()])
            return
        for vpn, pte in ptes.items():
            del pt[vpn]
            self.bus.emit(PageUnmapped(self.pid, vpn << PAGE_SHIFT, pte >> PFN_SHIFT))
            self.unmap_pfn(pte >> PFN_SHIFT)

    # -- VMAs joining and leaving ------------------------------------------

    def insert_vma(self, vma: Vma) -> None:
        """Add ``vma`` to the VMA set and take its file and inode references
        (Linux's ``vma_link``: the VMA joins the tree and its file's ``i_mmap``).

        Preconditions: ``vma`` lies in free space and has no page-table entries.
        """
        self.vmas.insert(vma)
        self._take_refs(vma)

    def remove_vma(self, vma: Vma) -> None:
        """Remove ``vma``: its page-table entries, its place in the set and its
        references (``unmap_region`` then ``remove_vma``).

        Preconditions: ``vma`` is in this address space's VMA set.
        """
        self.zap_range(vma.start, vma.end)
        self.vmas.remove(vma)
        self._drop_refs(vma)

    def _take_refs(self, vma: Vma) -> None:
        """Make ``vma`` (already in the VMA set) hold its file and inode references."""
        vma.mm = self
        if vma.inode is not None:
            vma.inode.mappings.add(vma)
            if vma.inode.vm_ops is not None:
                vma.inode.vm_ops.vma_open(vma)
        if vma.file is not None:
            self.files.get_file(vma.file)

    def _drop_refs(self, vma: Vma) -> None:
        """Release what ``_take_refs`` took (the VMA has left the set)."""
        vma.mm = None
        if vma.inode is not None:
            vma.inode.mappings.discard(vma)
            if vma.inode.vm_ops is not None:
                vma.inode.vm_ops.vma_close(vma)
        if vma.file is not None:
            self.files.put_file(vma.file)
        elif vma.inode is not None and vma.inode.unreachable:
            self.pagecache.release(vma.inode)

    def split(self, vma: Vma, at: int) -> Vma:
        """Split ``vma`` at ``at``; the new high part takes its references and is returned.

        A hugetlb VMA splits only on a huge page boundary (EINVAL, as
        ``hugetlb_vm_op_split``).

        Preconditions: ``vma`` is in this address space and ``vma.start < at < vma.end``,
        ``at`` page aligned.
        """
        if vma.flags & VmFlag.HUGETLB:
            size = getattr(vma.inode, "huge_page_size", 1 << 21)
            if at & (size - 1):
                raise syscall_error(errno.EINVAL)
        high = self.vmas.split(vma, at)
        self._take_refs(high)
        return high

    def try_merge(self, vma: Vma) -> Vma:
        """Merge ``vma`` with its neighbours where Linux would; returns the survivor."""
        prev = self.vmas.prev_of(vma)
        if prev is not None and vma.can_merge_after(prev):
            self._drop_refs(self.vmas.merge_next(prev))
            vma = prev
        nxt = self.vmas.next_of(vma)
        if nxt is not None and nxt.can_merge_after(vma):
            self._drop_refs(self.vmas.merge_next(vma))
        return vma

    def teardown(self, why: str = "exit") -> None:
        """Remove every mapping (``why``: exit, execve, signal, crash, close)."""
        if self.bus.active:
            vmas = list(self.vmas)
            self.bus.emit(AddressSpaceEmptied(self.pid, why, len(vmas), len(self.pt)))
        elif self.pt:  # no one watches: the whole table goes at once, in vpn order
            pt = self.pt
            self.physmem.unmap_many([pt[vpn] >> PFN_SHIFT for vpn in sorted(pt)])
            pt.clear()
        for vma in self.vmas:
            self.remove_vma(vma)
