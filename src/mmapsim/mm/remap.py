"""mremap's work on an address space (mm/mremap.c, Linux 6.18).

Linux semantics:

- **shrink**: the tail ``[addr + new_len, addr + old_len)`` is unmapped, in
  place; only ``addr`` must lie in a VMA (the tail may cross holes);
- **grow in place** when ``[addr, addr + old_len)`` ends where its VMA ends
  and the pages after it are free: the VMA is extended (and merges with a
  compatible next VMA);
- otherwise, with ``MREMAP_MAYMOVE``, **move**: a new VMA at a free place (or
  exactly at ``new_addr`` with ``MREMAP_FIXED``, which first unmaps whatever
  was there) gets the same flags, file and file offset, and the page-table
  entries themselves move to it, so the same frames appear at the new address
  (``move_page_tables``); the old range is then unmapped.  An anonymous VMA
  that has no pages yet takes the new address as its offset, so that it can
  merge at its new place;
- ``MREMAP_DONTUNMAP`` (same size): the old VMA stays, empty (a private page
  reads zero or the file again, a shared page the page cache), unlocked;
- ``MREMAP_FIXED`` with ``old_len == new_len`` moves every VMA of the range,
  keeping the holes between them (Linux 6.17); a hole at its start is EFAULT;
- a grown locked VMA has its new pages faulted in.

Errors after the argument checks: EFAULT when ``addr`` is in no VMA or the
range to grow or move passes the VMA's end; ENOMEM when a growth cannot be
done in place without ``MREMAP_MAYMOVE``, or no room is left; EINVAL when
``old_len`` is 0 for a private mapping.  Partial effects, as on Linux: the
destination of ``MREMAP_FIXED`` is unmapped and a shrink done before a later
failure.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from mmapsim.constants import PAGE_SHIFT
from mmapsim.errors import syscall_error
from mmapsim.mm import mapping
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.memlayout import MMAP_MIN_ADDR, TASK_SIZE
from mmapsim.mm.mlock import mm_populate
from mmapsim.mm.vma import VM_LOCKED_MASK, Vma, VmFlag

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4


@dataclass
class Remap:
    """One mremap request (Linux's ``vma_remap_struct``), lengths page aligned."""

    addr: int
    old_len: int
    new_len: int
    flags: int
    new_addr: int
    max_map_count: int
    charge: Callable[[int], None]  # accounts a new writable private range (ENOMEM)

    @property
    def implies_new_addr(self) -> bool:
        return bool(self.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))


def do_mremap(mm: AddressSpace, req: Remap) -> int:
    """mremap after its argument checks; returns the new address.

    Preconditions: ``req`` passed sys_mremap's checks (aligned ``addr``, known flags,
    page-aligned lengths, MREMAP_FIXED's range).
    """
    if req.flags & MREMAP_FIXED and req.old_len == req.new_len:
        return _remap_move(mm, req)
    vma = _check_prep_vma(mm.vmas.find(req.addr), req)
    if req.implies_new_addr:
        return _mremap_to(mm, req)
    return _mremap_at(mm, vma, req)


def _check_prep_vma(vma: Vma | None, req: Remap) -> Vma:
    """check_prep_vma: what the VMA at ``addr`` must allow; returns it."""
    if vma is None:
        raise syscall_error(errno.EFAULT)
    if req.new_len <= req.old_len and not req.implies_new_addr:
        return vma  # a shrink or nothing, in place: no more checks
    if req.old_len == 0 and not vma.flags & (VmFlag.SHARED | VmFlag.MAYSHARE):
        raise syscall_error(errno.EINVAL)  # "duplicating" a private mapping
    needed = min(req.old_len, req.new_len)
    if needed > vma.end - req.addr:
        raise syscall_error(errno.EFAULT)
    return vma


def _shrink(mm: AddressSpace, req: Remap) -> None:
    """Unmap the tail that a shrink gives up (do_vmi_munmap, across holes)."""
    start, end = req.addr + req.new_len, req.addr + req.old_len
    if start > TASK_SIZE or end - start > TASK_SIZE - start:
        raise syscall_error(errno.EINVAL)  # do_vmi_munmap's check of the tail
    if mapping.splits_needed(mm, start, end) and len(mm.vmas) >= req.max_map_count:
        raise syscall_error(errno.ENOMEM)
    mapping.unmap(mm, start, end)


def _mremap_at(mm: AddressSpace, vma: Vma, req: Remap) -> int:
    if req.new_len == req.old_len:
        return req.addr
    if req.new_len < req.old_len:
        _shrink(mm, req)
        return req.addr
    delta = req.new_len - req.old_len
    if req.addr + req.old_len == vma.end and _expandable(mm, vma, delta):
        _expand_in_place(mm, vma, delta, req)
        return req.addr
    if not req.flags & MREMAP_MAYMOVE:
        raise syscall_error(errno.ENOMEM)
    return _move_vma(mm, vma, req, _new_place(mm, vma, req))


def _expandable(mm: AddressSpace, vma: Vma, delta: int) -> bool:
    """vma_expandable: the ``delta`` bytes after the VMA are free and in user space."""
    end = vma.end + delta
    return end <= TASK_SIZE and not mm.vmas.overlapping(vma.end, end)


def _expand_in_place(mm: AddressSpace, vma: Vma, delta: int, req: Remap) -> None:
    """vma_merge_extend: the VMA grows over the free pages after it."""
    old_end = vma.end
    if vma.flags & VmFlag.ACCOUNT:
        req.charge(delta)
    tail = vma.copy()
    tail.start, tail.end, tail.pgoff = old_end, old_end + delta, vma.pgoff_of(old_end)
    mm.insert_vma(tail)
    grown = mm.try_merge(tail)
    if grown.flags & VmFlag.LOCKED:
        mm_populate(mm, old_end, old_end + delta, ignore_errors=True)


def _new_place(mm: AddressSpace, vma: Vma, req: Remap) -> int:
    """vrm_set_new_addr: where the moved VMA goes (exactly ``new_addr`` if FIXED)."""
    if req.flags & MREMAP_FIXED:
        if req.new_addr < MMAP_MIN_ADDR:
            raise syscall_error(errno.EPERM)
        return req.new_addr
    hint = req.new_addr if req.implies_new_addr else 0
    thp = vma.is_anonymous and not vma.may_share
    found = mapping.get_unmapped_area(mm, hint & ~0xFFF, req.new_len, thp)
    if found is None:
        raise syscall_error(errno.ENOMEM)
    return found


def _mremap_to(mm: AddressSpace, req: Remap) -> int:
    """mremap_to: MREMAP_FIXED (unmapping the destination first) or DONTUNMAP."""
    if req.flags & MREMAP_FIXED:
        mapping.unmap(mm, req.new_addr, req.new_addr + req.new_len)
    if req.new_len < req.old_len:
        _shrink(mm, req)
        req.old_len = req.new_len
    vma = mm.vmas.find(req.addr)
    if vma is None:  # cannot happen: the destination never overlaps the source
        raise syscall_error(errno.EFAULT)
    return _move_vma(mm, vma, req, _new_place(mm, vma, req))


def _move_vma(mm: AddressSpace, vma: Vma, req: Remap, new_addr: int) -> int:
    """move_vma: copy the VMA to ``new_addr``, move its PTEs, drop the old range."""
    if len(mm.vmas) >= req.max_map_count - 3:
        raise syscall_error(errno.ENOMEM)
    if vma.flags & VmFlag.ACCOUNT:
        req.charge(req.new_len)
    addr, old_len, new_len = req.addr, req.old_len, req.new_len
    moved = _copy_vma(mm, vma, addr, new_addr, new_len)
    _move_ptes(mm, addr, new_addr, old_len)
    if req.flags & MREMAP_DONTUNMAP:
        _empty_source(mm, vma, addr, old_len)
    elif old_len:
        mapping.unmap(mm, addr, addr + old_len)
    moved = mm.try_merge(moved)
    if moved.flags & VmFlag.LOCKED and new_len > old_len:
        mm_populate(mm, new_addr + old_len, new_addr + new_len, ignore_errors=True)
    return new_addr


def _copy_vma(mm: AddressSpace, vma: Vma, addr: int, new_addr: int, new_len: int) -> Vma:
    """copy_vma: a VMA like ``vma`` at ``new_addr``, mapping what ``addr`` maps."""
    copy = vma.copy()
    copy.start, copy.end = new_addr, new_addr + new_len
    copy.pgoff = vma.pgoff_of(addr)
    if vma.is_anonymous and vma.anon_vma is None:
        copy.pgoff = new_addr >> PAGE_SHIFT  # nothing faulted yet: free to merge there
    mm.insert_vma(copy)
    return copy


def _move_ptes(mm: AddressSpace, addr: int, new_addr: int, length: int) -> None:
    """move_page_tables: each PTE of the old range now maps the new address."""
    shift = (new_addr - addr) >> PAGE_SHIFT
    pt = mm.pt
    moved = mm.ptes_in(addr, addr + length)
    for vpn in moved:
        del pt[vpn]
    pt.update({vpn + shift: pte for vpn, pte in moved.items()})


def _empty_source(mm: AddressSpace, vma: Vma, addr: int, old_len: int) -> None:
    """MREMAP_DONTUNMAP: the old VMA stays, its pages gone, and is never locked."""
    source = mm.vmas.find(addr)
    if source is None:
        return
    source.set_flags(int(source.flags) & ~VM_LOCKED_MASK)
    if source.start == addr and source.end == addr + old_len:
        source.anon_vma = None  # unlink_anon_vmas: its anonymous pages all moved
    mm.try_merge(source)


def _remap_move(mm: AddressSpace, req: Remap) -> int:
    """remap_move: MREMAP_FIXED of the same size moves every VMA of the range,
    the holes between them kept; returns where the first one went."""
    start, end = req.addr, req.addr + req.old_len
    target = req.new_addr
    result: int | None = None
    va = start
    while va < end:
        vma = mm.vmas.find_from(va)
        if vma is None or vma.start >= end:
            break
        if result is None and start < vma.start:
            raise syscall_error(errno.EFAULT)
        # the hole before this VMA is kept (a DONTUNMAP source stays, so go on from va)
        lo, hi = max(vma.start, va), min(end, vma.end)
        offset = lo - va if result is not None else 0
        piece = Remap(
            lo, hi - lo, hi - lo, req.flags, target + offset, req.max_map_count, req.charge
        )
        got = _mremap_to(mm, piece)
        result = got if result is None else result
        target = got + piece.new_len
        va = hi
    if result is None:
        raise syscall_error(errno.EFAULT)
    return result
