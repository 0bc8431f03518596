"""Making and removing mappings: do_mmap, placement, mmap_region, munmap, populate.

Linux semantics (mm/mmap.c, mm/vma.c, mm/gup.c):

- ``do_mmap``: the length, address-hint and offset checks, placement, the
  object's checks (:mod:`.mmap_checks`), accounting, then ``mmap_region``;
- placement: :mod:`.unmapped_area`;
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
from dataclasses import dataclass
from typing import Protocol

from mmapsim.abi import U64_MAX
from mmapsim.constants import (
    MAP_32BIT,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_STACK,
    MAP_SYNC,
    MAP_TYPE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    MapFlag,
)
from mmapsim.errors import syscall_error
from mmapsim.events import Munmapped
from mmapsim.fs.file import OpenFile
from mmapsim.fs.hugetlbfs import hugetlb_file_setup
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.fs.namespace import FileSystem
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.fault import MemoryFault, handle_fault
from mmapsim.mm.memlayout import MMAP_MIN_ADDR, TASK_SIZE
from mmapsim.mm.mmap_checks import MmapPlan, check_anon, check_file
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_WRITE
from mmapsim.mm.unmapped_area import PMD_SIZE
from mmapsim.mm.unmapped_area import get_unmapped_area as get_unmapped_area  # for mm.remap
from mmapsim.mm.vma import (
    VM_ACCESS_FLAGS,
    VM_ACCOUNT,
    VM_HUGETLB,
    VM_LOCKED,
    VM_LOCKONFAULT,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYWRITE,
    VM_NOHUGEPAGE,
    VM_NORESERVE,
    VM_PKEY_EXEC_ONLY,
    VM_SHARED,
    VM_SYNC,
    VM_WRITE,
    Vma,
    VmFlag,
)
from mmapsim.physmem import PG_REFERENCED

_PAGE_OFF = PAGE_SIZE - 1
#: The lowest address the kernel can return that is not an errno (-4095..-1).
_ERR_VALUE = U64_MAX - 4094
#: calc_vm_flag_bits: mmap flags that become VMA flags as they are.
_FLAG_BITS = ((MAP_LOCKED, VM_LOCKED), (MAP_SYNC, VM_SYNC), (MAP_STACK, VM_NOHUGEPAGE))


@dataclass(frozen=True, slots=True)
class MmapRequest:
    """One mmap(2) as the system call decoded it (gVisor's ``MMapOpts``).

    ``addr`` is the hint, or with ``fixed`` the address itself, unchecked;
    ``length`` is as given (rounded up to ``huge`` for MAP_HUGETLB memory);
    ``prot`` the PROT_* bits; ``flags`` every mmap flag as given (do_mmap
    checks some bit by bit); ``file`` the open file description, None for
    anonymous memory; ``pgoff`` the offset in pages.  ``fixed``: MAP_FIXED or
    MAP_FIXED_NOREPLACE; ``noreplace``: MAP_FIXED_NOREPLACE; ``populate``:
    MAP_POPULATE without MAP_NONBLOCK; ``huge``: the huge page size of
    anonymous MAP_HUGETLB memory, else 0.
    """

    addr: int
    length: int
    prot: int
    flags: MapFlag
    file: OpenFile | None
    pgoff: int
    fixed: bool = False
    noreplace: bool = False
    populate: bool = False
    huge: int = 0


class MmapLimits(Protocol):
    """What do_mmap needs of the machine (the Kernel is one): ``vm.max_map_count``,
    whether PROT_EXEC alone is execute-only (protection keys), and the file
    system that numbers the inodes of shared anonymous and MAP_HUGETLB memory."""

    @property
    def max_map_count(self) -> int: ...

    @property
    def pkeys(self) -> bool: ...

    @property
    def fs(self) -> FileSystem: ...


def page_align64(n: int) -> int:
    """PAGE_ALIGN on an unsigned long: it wraps to 0 within a page of 2**64."""
    return ((n + _PAGE_OFF) & ~_PAGE_OFF) & U64_MAX


def do_mmap(mm: AddressSpace, req: MmapRequest, limits: MmapLimits) -> int:
    """Implements Linux's do_mmap on x86-64: returns the address of the new mapping.

    The checks come in do_mmap's order (the order decides which errno a call
    with several mistakes gets).  MAP_HUGETLB memory is an unnamed hugetlbfs
    file; with no huge page reserved, only MAP_NORESERVE succeeds.  With
    ``limits.pkeys``, PROT_EXEC alone is execute-only memory.

    Partial effect, as on Linux: an error of the object's own mmap operation
    (MAP_SYNC on ext4, hugetlbfs's reservation) comes after a MAP_FIXED
    mapping has unmapped what was in its way.

    Preconditions: ``req`` passed sys_mmap's checks (page-aligned offset, an
    open ``file``, MAP_HUGETLB only for anonymous memory).
    """
    if req.length == 0:
        raise syscall_error(errno.EINVAL)
    addr = req.addr
    if not req.fixed:
        addr &= ~_PAGE_OFF
        if addr and addr < MMAP_MIN_ADDR:
            addr = MMAP_MIN_ADDR  # round_hint_to_min
    length = page_align64(req.length)
    if length == 0:
        raise syscall_error(errno.ENOMEM)
    if req.pgoff + (length >> PAGE_SHIFT) > U64_MAX:
        raise syscall_error(errno.EOVERFLOW)
    if len(mm.vmas) > limits.max_map_count:
        raise syscall_error(errno.ENOMEM)
    addr = _place(mm, req, addr, length)
    vm_flags = _vm_flags(mm, req, limits.pkeys)
    flags = int(req.flags)
    if req.file is not None:
        plan = check_file(req.file, req.file.inode, flags, req.prot, req.pgoff, length, vm_flags)
    elif req.huge:
        inode = hugetlb_file_setup(limits.fs, req.huge, length)
        plan = check_file(None, inode, flags, req.prot, req.pgoff, length, vm_flags)
    else:
        plan = check_anon(flags, addr, vm_flags)
    return _mmap_region(mm, req, addr, length, plan, limits.fs)


def _vm_flags(mm: AddressSpace, req: MmapRequest, pkeys: bool) -> int:
    """calc_vm_prot_bits | calc_vm_flag_bits | mm->def_flags | the VM_MAY* bits."""
    vm_flags = (req.prot & VM_ACCESS_FLAGS) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    vm_flags |= mm.def_flags  # mlockall(MCL_FUTURE): locked from the start
    if pkeys and req.prot == PROT_EXEC:
        vm_flags |= VM_PKEY_EXEC_ONLY
    flags = int(req.flags)  # plain ints: IntFlag arithmetic is slow
    for map_flag, vm_flag in _FLAG_BITS:
        if flags & map_flag:
            vm_flags |= vm_flag
    return vm_flags


def _place(mm: AddressSpace, req: MmapRequest, addr: int, length: int) -> int:
    """get_unmapped_area (hugetlbfs's for ``req.huge``), then MAP_FIXED_NOREPLACE's
    overlap check.  A MAP_FIXED address comes back as it is, and one in the
    last 4095 bytes reads as an errno: -1 is EPERM, -12 ENOMEM (the kernel's
    return-value encoding)."""
    huge = req.huge
    if length > TASK_SIZE:
        raise syscall_error(errno.ENOMEM)
    if req.fixed:
        if huge and addr & (huge - 1):
            raise syscall_error(errno.EINVAL)
        if addr >= _ERR_VALUE:
            raise syscall_error(U64_MAX + 1 - addr)
        if addr > TASK_SIZE - length:
            raise syscall_error(errno.ENOMEM)
        if addr & _PAGE_OFF:
            raise syscall_error(errno.EINVAL)
        if addr < MMAP_MIN_ADDR:
            raise syscall_error(errno.EPERM)
        if req.noreplace and mm.vmas.overlapping(addr, addr + length):
            raise syscall_error(errno.EEXIST)
        return addr
    if huge and addr:
        addr = (addr + huge - 1) & ~(huge - 1)
    # thp_get_unmapped_area: private anonymous memory of small pages
    flags = int(req.flags)
    thp = req.file is None and not huge and (flags & MAP_TYPE) == MAP_PRIVATE
    low32 = bool(flags & MAP_32BIT)
    found = get_unmapped_area(mm, addr, length, thp, low32=low32, align=huge or PAGE_SIZE)
    if found is None:
        raise syscall_error(errno.ENOMEM)
    return found


def _mmap_region(
    mm: AddressSpace, req: MmapRequest, addr: int, length: int, plan: MmapPlan, fs: FileSystem
) -> int:
    """mmap_region: unmap what is in the way, account, let the object's mmap
    operation run (a failure there leaves the hole), create shared anonymous
    memory, map, populate."""
    vm_flags, inode, pgoff, file = plan.vm_flags, plan.inode, plan.pgoff, req.file
    check_splits(mm, addr, addr + length)
    if int(req.flags) & MAP_NORESERVE:
        vm_flags |= VM_NORESERVE
    hugetlb = bool(vm_flags & VM_HUGETLB)
    if not hugetlb and (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE:
        vm_flags |= VM_ACCOUNT
        vm_enough_memory(mm, length)
    if plan.op_error:
        unmap(mm, addr, addr + length)
        raise syscall_error(plan.op_error)
    if vm_flags & VM_SHARED and inode is None:
        # MAP_SHARED|MAP_ANONYMOUS, or MAP_SHARED of /dev/zero: a hidden shmem
        # inode of the mapping's size, at the mapping's offset (shmem_zero_setup)
        inode = fs.new_inode(InodeKind.SHMEM, 0o600)
        inode.name = "/dev/zero"
        mm.pagecache.resize(inode, length)
        file = None
    vma = map_region(mm, addr, length, vm_flags, pgoff, file, inode)
    locked = vm_flags & (VM_LOCKED | VM_LOCKONFAULT) == VM_LOCKED  # ONFAULT: as used
    if req.populate or locked:
        populate(mm, vma, addr, addr + length)
    return addr


def vm_enough_memory(mm: AddressSpace, length: int) -> None:
    """The default overcommit heuristic: one charge may not exceed all of memory.

    (``__vm_enough_memory`` with ``vm.overcommit_memory = 0``; this machine has
    no swap.)  ENOMEM when ``length`` bytes are more pages than the machine has.
    """
    if length >> PAGE_SHIFT > mm.physmem.limit:
        raise syscall_error(errno.ENOMEM)


def map_region(
    mm: AddressSpace,
    start: int,
    length: int,
    flags: int,
    pgoff: int,
    file: OpenFile | None,
    inode: Inode | None,
) -> Vma:
    """mmap_region: replace ``[start, start+length)`` with a new VMA and merge it.

    Preconditions: the range is page aligned and inside user space, and the
    caller made every check (this always succeeds); ``file`` and ``inode``
    are the description and inode the VMA maps (both None: anonymous).
    """
    unmap(mm, start, start + length)
    vma = Vma(start, start + length, flags, pgoff, file, inode)
    mm.insert_vma(vma)
    return mm.try_merge(vma)


def do_munmap(mm: AddressSpace, start: int, end: int, max_map_count: int) -> None:
    """do_vmi_munmap: remove ``[start, end)``, splitting the VMAs at its ends.

    EINVAL when an end would cut a hugetlb VMA off a huge page boundary,
    ENOMEM when a split would pass ``max_map_count``; both before anything
    changes.

    Preconditions: ``start`` and ``end`` are page aligned, ``start < end <= TASK_SIZE``.
    """
    check_splits(mm, start, end)
    if splits_needed(mm, start, end) and len(mm.vmas) >= max_map_count:
        raise syscall_error(errno.ENOMEM)
    if mm.bus.active:
        touched = len(mm.vmas.overlapping(start, end))
        present = len(mm.ptes_in(start, end))
        mm.bus.emit(Munmapped(mm.pid, start, end, touched, present))
    unmap(mm, start, end)


def unmap(mm: AddressSpace, start: int, end: int) -> None:
    """Remove ``[start, end)``, splitting VMAs at its ends (never fails).

    Preconditions: ``start`` and ``end`` are page aligned, and no end cuts a
    hugetlb VMA off a huge page boundary (:func:`check_splits`).
    """
    for vma in mm.vmas.overlapping(start, end):
        if vma.start < start:
            vma = mm.split(vma, start)
        if vma.end > end:
            mm.split(vma, end)
        mm.remove_vma(vma)


def check_splits(mm: AddressSpace, start: int, end: int) -> None:
    """A hugetlb VMA splits only on a huge page boundary (``hugetlb_vm_op_split``):
    EINVAL before anything changes when ``start`` or ``end`` would cut one elsewhere.

    Preconditions: ``start`` and ``end`` are page aligned.
    """
    for at in (start, end):
        vma = mm.vmas.find(at)
        if vma is not None and vma.start < at and vma.flags & VmFlag.HUGETLB:
            size = hugetlb_page_size(vma)
            if at & (size - 1):
                raise syscall_error(errno.EINVAL)


def hugetlb_page_size(vma: Vma) -> int:
    """The page size of a hugetlb VMA (its inode's huge page size).

    Preconditions: ``vma`` has VM_HUGETLB.
    """
    size = getattr(vma.inode, "huge_page_size", None)
    return size if isinstance(size, int) else PMD_SIZE


def splits_needed(mm: AddressSpace, start: int, end: int) -> bool:
    """Whether munmap of ``[start, end)`` must cut one VMA in two (map_count check).

    Preconditions: ``start`` and ``end`` are page aligned, ``start < end``.
    """
    vma = mm.vmas.find(start)
    return vma is not None and vma.start < start and end < vma.end


def populate(mm: AddressSpace, vma: Vma, start: int, end: int) -> None:
    """Fault in every page of ``[start, end)`` now (MAP_POPULATE, MAP_LOCKED).

    Preconditions: ``[start, end)`` lies inside ``vma``, a VMA of ``mm``.
    """
    if not vma.readable and not vma.writable:  # PROT_NONE, or execute-only memory
        return
    if vma.flags & VmFlag.HUGETLB:  # no huge page to fault in
        return
    write = bool(vma.flags & VmFlag.WRITE) and not vma.shared
    if vma.inode is not None:
        end = min(end, max(start, vma.start + (vma.inode.pages - vma.pgoff) * PAGE_SIZE))
    for va in range(start, end, PAGE_SIZE):
        pte = mm.pt.get(va >> 12)
        if pte is None or (write and not pte & PTE_WRITE):
            try:
                pte = handle_fault(mm, va, write)
            except MemoryFault:
                return
        mm.physmem.flags[pte >> PFN_SHIFT] |= PG_REFERENCED  # get_user_pages marks it
