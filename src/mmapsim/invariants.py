"""check_invariants: recompute the kernel's counts from scratch and compare.

Tests run this after every system call (``Machine(check_invariants=True)``).
Every mismatch is a bug in mmapsim, reported as a :class:`KernelPanic` named
after the invariant.  What is checked:

- frames: each frame's ``mapcount`` equals the PTEs that map it, its
  ``refcount`` that plus its page-cache slot; its ``PG_CACHE`` and ``PG_DIRTY``
  flags match the caches' slots and dirty sets; a frame is anonymous or a
  file's, never both; no frame is live with no reference, a free one has no
  flags, counts or owner; ``nr_used`` counts the live ones; the zero frame is
  pinned, unmapped in its counts, and all zeros;
- page caches: ``dirty`` sets match the frames' dirty bits; a cached frame
  knows its inode and offset; a regular file's disk image is ``size`` bytes;
- address spaces: VMAs sorted, disjoint, aligned, non-empty, registered with
  their inode; the gap index holds exactly the free ranges; every PTE lies in
  a VMA and allows no more than it; a writable private PTE maps an anonymous
  frame that no one else maps; a writable PTE of a shared file page maps a
  dirty page (write-notify);
- open file descriptions: ``refs`` equals the fds and VMAs that hold them;
- disk space: the blocks in use are those of the reachable files, each dirty
  page of a file on the disk holds one, and none lies beyond end of file;
- writeback: while a file has dirty data the writeback daemon's timer is armed;
- locked memory: ``VM_LOCKONFAULT`` only with ``VM_LOCKED``, in VMAs and in
  ``def_flags`` (which holds nothing else); droppable memory is never locked;
  a page made clean by MADV_FREE is anonymous and mapped read-only until written;
- System V segments (:mod:`.invariants_ipc`): filed under their id, their
  attach count equals the VMAs that map them, a marked segment is attached,
  the namespace's page total is their sum; zombies hold nothing, and their
  parent runs.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from mmapsim.errors import KernelPanic
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.invariants_ipc import check_segments, check_zombies
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.memlayout import TASK_SIZE
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_READ, PTE_WRITE, describe
from mmapsim.mm.vma import Vma
from mmapsim.mm.vmaset import vm_start_gap
from mmapsim.physmem import (
    FIRST_PFN,
    PG_ANON,
    PG_CACHE,
    PG_DIRTY,
    PG_LAZYFREE,
    PG_REFERENCED,
    ZERO_PFN,
    PhysicalMemory,
)

if TYPE_CHECKING:
    from mmapsim.kernel import Kernel
    from mmapsim.machine import Machine


def _fail(what: str, message: str) -> None:
    raise KernelPanic(f"check_invariants: {what}", message)


def check_invariants(machine: Machine) -> None:
    """Raise KernelPanic if any cached count or state disagrees with a recount."""
    kernel = machine.kernel
    mapcount: Counter[int] = Counter()
    ofd_refs: Counter[int] = Counter()
    ofds: dict[int, OpenFile] = {}
    inodes: dict[int, Inode] = {}
    for task in kernel.tasks.values():
        if not task.alive:
            if len(task.mm.vmas) or task.mm.pt or task.fds.entries:
                _fail("dead task", f"pid {task.pid} still holds memory or files")
            continue
        _check_mm(task.mm, mapcount, ofd_refs, ofds, inodes)
        for entry in task.fds.entries.values():
            ofd_refs[id(entry.file)] += 1
            ofds[id(entry.file)] = entry.file
            inodes[id(entry.file.inode)] = entry.file.inode
    writers: Counter[int] = Counter()
    for ofd_id, ofd in ofds.items():
        if ofd.refs != ofd_refs[ofd_id]:
            _fail("ofd refs", f"{ofd!r} has refs={ofd.refs}, recount {ofd_refs[ofd_id]}")
        writers[id(ofd.inode)] += ofd.writable
    for inode in inodes.values():
        if inode.writers != writers[id(inode)]:
            _fail("writers", f"{inode!r} has writers={inode.writers}, recount {writers[id(inode)]}")
    inodes.update({id(i): i for i in kernel.fs.names.values()})
    inodes.update({id(s.inode): s.inode for s in kernel.shm.segments.values()})
    check_segments(kernel)
    check_zombies(kernel)
    _check_frames(kernel, mapcount, inodes)
    _check_blocks(kernel, inodes)
    _check_flusher(kernel)


def _check_blocks(kernel: Kernel, inodes: dict[int, Inode]) -> None:
    cache = kernel.pagecache
    used = 0
    for inode in inodes.values():
        if inode.kind is not InodeKind.REGULAR or inode.dev != cache.disk_dev:
            continue
        blocks = inode.disk.blocks
        used += len(blocks)
        if not inode.dirty.issubset(blocks.union(inode.disk.pages)):
            _fail("blocks", f"{inode!r} has a dirty page without a block")
        if blocks and max(blocks) >= (inode.size + 4095) >> 12:
            _fail("blocks", f"{inode!r} holds a block beyond its end")
    if used != cache.space.used:
        _fail("blocks", f"{cache.space.used} blocks in use, recount {used}")


def _check_flusher(kernel: Kernel) -> None:
    """While a file has dirty data, the writeback daemon's timer is armed, in the future."""
    flusher = kernel.flusher
    if not flusher.interval_ns or not any(i.dirty for i in kernel.file_inodes()):
        return
    if flusher.armed_ns is None or flusher.armed_ns < kernel.clock.uptime_ns:
        _fail("flusher", f"dirty data, but the writeback timer is {flusher.armed_ns}")


def _check_mm(
    mm: AddressSpace,
    mapcount: Counter[int],
    ofd_refs: Counter[int],
    ofds: dict[int, OpenFile],
    inodes: dict[int, Inode],
) -> None:
    vmas = list(mm.vmas)
    mm.vmas.check()  # the tree under the VMA set and the gap index's size classes
    _check_locks(mm)
    gaps = []
    prev_end = 0
    for vma in vmas:
        if vma.start >= vma.end or vma.start % 4096 or vma.end % 4096 or vma.start < prev_end:
            _fail("vma order", f"{vma!r} after end {prev_end:#x}")
        if vma.mm is not mm:
            _fail("vma owner", f"{vma!r} does not point at its address space")
        if vma.inode is not None:
            inodes[id(vma.inode)] = vma.inode
            if vma not in vma.inode.mappings:
                _fail("i_mmap", f"{vma!r} missing from its inode's mappings")
        if vma.file is not None:
            ofd_refs[id(vma.file)] += 1
            ofds[id(vma.file)] = vma.file
        gaps.append((prev_end, vm_start_gap(vma)))
        prev_end = vma.end
    gaps.append((prev_end, TASK_SIZE))
    if [g for g in gaps if g[0] < g[1]] != mm.vmas.gaps.all():
        _fail("gap index", f"pid {mm.pid}: gaps differ from a recount")
    physmem = mm.physmem
    for vpn, pte in mm.pt.items():
        va = vpn << 12
        owner = mm.vmas.find(va)
        if owner is None:
            _fail("pte outside vma", f"pid {mm.pid} va {va:#x}")
            return
        _check_pte(physmem, mm.pid, va, owner, pte)
        pfn = pte >> PFN_SHIFT
        if pfn != ZERO_PFN:
            mapcount[pfn] += 1


def _check_pte(physmem: PhysicalMemory, pid: int, va: int, vma: Vma, pte: int) -> None:
    pfn = pte >> PFN_SHIFT
    if bool(pte & PTE_READ) != vma.readable or (pte & PTE_WRITE and not vma.writable):
        _fail("pte protection", f"pid {pid} va {va:#x}: {describe(pte)} allows more than its vma")
    if pfn >= physmem.next_pfn:
        _fail("pte pfn", f"pid {pid} va {va:#x}: {describe(pte)} maps no frame")
    if not pte & PTE_WRITE:
        return
    frame = physmem.describe(pfn)
    if not vma.shared and not (physmem.flags[pfn] & PG_ANON and physmem.mapcount[pfn] == 1):
        _fail("cow", f"pid {pid} va {va:#x}: writable private pte on a shared frame {frame}")
    inode = physmem.inode.get(pfn)
    clean = not physmem.flags[pfn] & PG_DIRTY
    if vma.shared and inode is not None and inode.kind is InodeKind.REGULAR and clean:
        _fail("write-notify", f"pid {pid} va {va:#x}: writable pte on a clean file page")


def _check_frames(kernel: Kernel, mapcount: Counter[int], inodes: dict[int, Inode]) -> None:
    """Every frame's counts and flags against a recount from the page tables and caches."""
    physmem = kernel.physmem
    cached: set[int] = set()
    dirty: set[int] = set()
    for inode in inodes.values():
        for pgoff, pfn in inode.cache.items():
            if physmem.inode.get(pfn) is not inode or physmem.pgoff.get(pfn) != pgoff:
                _fail("page cache", f"{physmem.describe(pfn)} filed at {inode!r} pgoff {pgoff}")
            cached.add(pfn)
        if not inode.dirty.issubset(inode.cache):
            _fail("dirty set", f"{inode!r}: dirty pages {sorted(inode.dirty)} not all cached")
        dirty.update(inode.cache[p] for p in inode.dirty)
        if inode.kind is InodeKind.REGULAR and len(inode.disk) != inode.size:
            _fail("disk size", f"{inode!r} disk has {len(inode.disk)} bytes")
    _check_zero_frame(physmem)
    free = set(physmem.free_pfns)
    if len(free) != len(physmem.free_pfns):
        _fail("free list", "a frame is on the free list twice")
    for pfn in range(FIRST_PFN, physmem.next_pfn):
        _check_frame(physmem, pfn, mapcount[pfn], pfn in cached, pfn in dirty, pfn in free)
    if physmem.nr_used != physmem.next_pfn - FIRST_PFN - len(free):
        _fail("frames in use", f"nr_used {physmem.nr_used}, recount {len(physmem.live_pfns())}")
    stray = {pfn for pfn in mapcount if pfn in free or pfn >= physmem.next_pfn}
    if stray:
        _fail("freed frame mapped", f"pfns {sorted(stray)} are mapped but free")


def _check_frame(
    physmem: PhysicalMemory, pfn: int, maps: int, cached: bool, dirty: bool, free: bool
) -> None:
    """One frame: ``refcount == mapcount + cached``, its flags and owner."""
    frame = physmem.describe(pfn)
    flags = physmem.flags[pfn]
    expected_ref = maps + cached
    if physmem.mapcount[pfn] != maps or physmem.refcount[pfn] != expected_ref:
        _fail("frame counts", f"{frame}: recount map={maps} ref={expected_ref}")
    if free:
        if flags or pfn in physmem.inode or pfn in physmem.pgoff:
            _fail("free frame", f"{frame} is free with flags {flags:#x} or an inode")
        return
    if expected_ref == 0:
        _fail("frame leak", f"{frame} is live with no reference")
    if bool(flags & PG_CACHE) != cached or bool(flags & PG_DIRTY) != dirty:
        _fail("frame flags", f"{frame} flags {flags:#x}: cached={cached} dirty={dirty}")
    if bool(flags & PG_ANON) == (pfn in physmem.inode) or (pfn in physmem.inode) != (
        pfn in physmem.pgoff
    ):
        _fail("frame owner", f"{frame} flags {flags:#x}: anonymous or a file's, not both")


def _check_zero_frame(physmem: PhysicalMemory) -> None:
    # populate may mark even the zero frame referenced (smaps never counts it)
    flags = physmem.flags[ZERO_PFN] & ~PG_REFERENCED
    if physmem.refcount[ZERO_PFN] != 1 or physmem.mapcount[ZERO_PFN] or flags:
        _fail("zero frame", f"counts or flags changed: {physmem.describe(ZERO_PFN)}")
    if physmem.page(ZERO_PFN) != bytes(4096):
        _fail("zero frame", "the zero frame was written")


def _check_locks(mm: AddressSpace) -> None:
    """mlock's state: the lock flags of VMAs and of mlockall's MCL_FUTURE."""
    from mmapsim.mm.vma import VM_DROPPABLE, VM_LOCKED, VM_LOCKED_MASK, VM_LOCKONFAULT

    if mm.def_flags & ~VM_LOCKED_MASK or mm.def_flags == VM_LOCKONFAULT:
        _fail("def_flags", f"pid {mm.pid}: def_flags {mm.def_flags:#x}")
    for vma in mm.vmas:
        flags = int(vma.flags)
        if flags & VM_LOCKONFAULT and not flags & VM_LOCKED:
            _fail("lockonfault", f"{vma!r} is VM_LOCKONFAULT without VM_LOCKED")
        if flags & VM_DROPPABLE and flags & VM_LOCKED:
            _fail("locked droppable", f"{vma!r} is droppable memory and locked")
    physmem = mm.physmem
    page_flags, mapcount = physmem.flags, physmem.mapcount
    for vpn, pte in mm.pt.items():
        pfn = pte >> PFN_SHIFT
        if page_flags[pfn] & PG_LAZYFREE and (
            pfn in physmem.inode or (pte & PTE_WRITE and mapcount[pfn] == 1)
        ):
            frame = physmem.describe(pfn)
            _fail("lazyfree", f"pid {mm.pid} va {vpn << 12:#x}: {frame} lazy-free and dirty")
