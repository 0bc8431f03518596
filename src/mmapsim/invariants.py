"""check_invariants: recompute the kernel's counts from scratch and compare.

Tests run this after every system call (``Machine(check_invariants=True)``).
Every mismatch is a bug in mmapsim, reported as a :class:`KernelPanic` named
after the invariant.  What is checked:

- frames: each frame's ``mapcount`` equals the PTEs that map it, its
  ``refcount`` that plus its page-cache slot; no frame is live with no reference;
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
from mmapsim.mm.vmaset import vm_start_gap
from mmapsim.physmem import ZERO_PFN

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
    for vpn, pte in mm.pt.items():
        va = vpn << 12
        owner = mm.vmas.find(va)
        if owner is None:
            _fail("pte outside vma", f"pid {mm.pid} va {va:#x}")
            return
        _check_pte(mm.pid, va, owner.shared, owner.readable, owner.writable, pte)
        if pte.frame.pfn != ZERO_PFN:
            mapcount[pte.frame.pfn] += 1


def _check_pte(
    pid: int, va: int, shared: bool, readable: bool, writable: bool, pte: object
) -> None:
    from mmapsim.mm.pagetable import Pte

    assert isinstance(pte, Pte)
    frame = pte.frame
    if pte.readable != readable or (pte.writable and not writable):
        _fail("pte protection", f"pid {pid} va {va:#x}: {pte!r} allows more than its vma")
    if not pte.writable:
        return
    if not shared and not (frame.is_anon and frame.mapcount == 1):
        _fail("cow", f"pid {pid} va {va:#x}: writable private pte on a shared frame {frame!r}")
    inode = frame.inode
    if shared and inode is not None and inode.kind is InodeKind.REGULAR and not frame.dirty:
        _fail("write-notify", f"pid {pid} va {va:#x}: writable pte on a clean file page")


def _check_frames(kernel: Kernel, mapcount: Counter[int], inodes: dict[int, Inode]) -> None:
    cached: set[int] = set()
    for inode in inodes.values():
        for pgoff, frame in inode.cache.items():
            if frame.inode is not inode or frame.pgoff != pgoff:
                _fail("page cache", f"{frame!r} filed at {inode!r} pgoff {pgoff}")
            cached.add(frame.pfn)
        dirty = {p for p, f in inode.cache.items() if f.dirty}
        if dirty != inode.dirty:
            _fail("dirty set", f"{inode!r}: {sorted(inode.dirty)} vs frames {sorted(dirty)}")
        if inode.kind is InodeKind.REGULAR and len(inode.disk) != inode.size:
            _fail("disk size", f"{inode!r} disk has {len(inode.disk)} bytes")
    for pfn, frame in kernel.physmem.frames.items():
        expected_ref = mapcount[pfn] + (1 if pfn in cached else 0)
        if frame.mapcount != mapcount[pfn] or frame.refcount != expected_ref:
            _fail(
                "frame counts",
                f"{frame!r}: recount map={mapcount[pfn]} ref={expected_ref}",
            )
        if expected_ref == 0:
            _fail("frame leak", f"{frame!r} is live with no reference")
    stray = set(mapcount) - set(kernel.physmem.frames)
    if stray:
        _fail("freed frame mapped", f"pfns {sorted(stray)} are mapped but free")


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
    for vpn, pte in mm.pt.items():
        frame = pte.frame
        if frame.lazyfree and (frame.inode is not None or (pte.writable and frame.mapcount == 1)):
            _fail("lazyfree", f"pid {mm.pid} va {vpn << 12:#x}: {frame!r} lazy-free and dirty")
