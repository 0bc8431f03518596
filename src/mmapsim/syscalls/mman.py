"""The memory system calls: mmap(2), munmap(2), msync(2), mprotect(2).

Each checks its arguments in the order Linux 6.x on x86-64 does (the order
decides which errno a call with several mistakes gets), then calls into
:mod:`mmapsim.mm`.  Arguments arrive decoded (unsigned addresses and lengths,
unsigned 32-bit flag words, a signed ``off_t``).
"""

from __future__ import annotations

import errno

from mmapsim.constants import (
    MAP_ANONYMOUS,
    MAP_DROPPABLE,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_HUGETLB,
    MAP_LOCKED,
    MAP_NONBLOCK,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_SYNC,
    MAP_TYPE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_WRITE,
    MapFlag,
    MsFlag,
    Prot,
)
from mmapsim.cvalues import U64_MAX
from mmapsim.errors import syscall_error
from mmapsim.events import Munmapped
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import MAX_LFS_FILESIZE, Inode, InodeKind
from mmapsim.kernel import Kernel, Task
from mmapsim.mm import mapping
from mmapsim.mm.layout import MMAP_MIN_ADDR, TASK_SIZE
from mmapsim.mm.msync import sync_range
from mmapsim.mm.protect import mprotect_fixup, new_flags
from mmapsim.mm.vma import (
    VM_ACCESS_FLAGS,
    VM_ACCOUNT,
    VM_DONTDUMP,
    VM_DROPPABLE,
    VM_GROWSDOWN,
    VM_LOCKED,
    VM_LOCKONFAULT,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_NORESERVE,
    VM_SHARED,
    VM_WIPEONFORK,
    VM_WRITE,
    VmFlag,
    prot_to_vm,
)

_PAGE_OFF = PAGE_SIZE - 1

#: LEGACY_MAP_MASK: the flags MAP_SHARED accepts silently and MAP_SHARED_VALIDATE checks.
LEGACY_MAP_MASK = int(
    MapFlag.SHARED
    | MapFlag.PRIVATE
    | MapFlag.FIXED
    | MapFlag.ANONYMOUS
    | MapFlag.DENYWRITE
    | MapFlag.EXECUTABLE
    | MapFlag.UNINITIALIZED
    | MapFlag.GROWSDOWN
    | MapFlag.LOCKED
    | MapFlag.NORESERVE
    | MapFlag.POPULATE
    | MapFlag.NONBLOCK
    | MapFlag.STACK
    | MapFlag.HUGETLB
    | MapFlag.BIT32
)
#: MAP_HUGE_MASK << MAP_HUGE_SHIFT: the huge page size bits, which MAP_SHARED_VALIDATE lets through.
MAP_HUGE_BITS = 0x3F << 26


def _page_align(n: int) -> int:
    """PAGE_ALIGN in 64-bit arithmetic (it wraps to 0 near 2**64)."""
    return ((n + _PAGE_OFF) & ~_PAGE_OFF) & U64_MAX


def sys_mmap(
    k: Kernel, task: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int
) -> int:
    """Implements the semantics of Linux's mmap(2) on x86-64; returns the address.

    ``flags`` stays a plain int here (checked bit by bit, as do_mmap does, and
    fast); the VMA gets its typed ``VmFlag``.

    Deviation: a MAP_FIXED address below mmap_min_addr fails with EPERM even
    though processes run as root (see docs/deviations.md).
    """
    off = offset & U64_MAX
    if off & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    pgoff = off >> PAGE_SHIFT
    file = None
    if not flags & MAP_ANONYMOUS:
        file = k.fd_file(task, fd)
        if flags & MAP_HUGETLB:
            raise syscall_error(errno.EINVAL)
    if length == 0:
        raise syscall_error(errno.EINVAL)
    if file is None and flags & MAP_HUGETLB:  # no huge page is reserved (nr_hugepages 0)
        raise syscall_error(errno.ENOMEM)
    if flags & MAP_FIXED_NOREPLACE:
        flags |= MAP_FIXED
    if not flags & MAP_FIXED:
        addr &= ~_PAGE_OFF
        if addr and addr < MMAP_MIN_ADDR:
            addr = MMAP_MIN_ADDR
    length = _page_align(length)
    if length == 0:
        raise syscall_error(errno.ENOMEM)
    if pgoff + (length >> PAGE_SHIFT) > U64_MAX:
        raise syscall_error(errno.EOVERFLOW)
    if len(task.mm.vmas) > k.max_map_count:
        raise syscall_error(errno.ENOMEM)
    thp = file is None and (flags & MAP_TYPE) == MAP_PRIVATE
    addr = _place(task, addr, length, flags, thp)
    vm_flags = (prot & VM_ACCESS_FLAGS) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    vm_flags |= task.mm.def_flags  # mlockall(MCL_FUTURE): locked from the start
    if flags & MAP_LOCKED:
        vm_flags |= VM_LOCKED
    if file is not None:
        vm_flags, inode = _check_file(file, flags, prot, pgoff, length, vm_flags)
    else:
        vm_flags, pgoff, inode = _check_anon(flags, addr, vm_flags)
    return _mmap_region(k, task, addr, length, flags, vm_flags, pgoff, file, inode)


def _place(task: Task, addr: int, length: int, flags: int, thp: bool) -> int:
    """get_unmapped_area, then MAP_FIXED_NOREPLACE's overlap check."""
    if length > TASK_SIZE:
        raise syscall_error(errno.ENOMEM)
    if flags & MAP_FIXED:
        if addr > TASK_SIZE - length:
            raise syscall_error(errno.ENOMEM)
        if addr & _PAGE_OFF:
            raise syscall_error(errno.EINVAL)
        if addr < MMAP_MIN_ADDR:
            raise syscall_error(errno.EPERM)
        if flags & MAP_FIXED_NOREPLACE and task.mm.vmas.overlapping(addr, addr + length):
            raise syscall_error(errno.EEXIST)
        return addr
    found = mapping.get_unmapped_area(task.mm, addr, length, thp)
    if found is None:
        raise syscall_error(errno.ENOMEM)
    return found


def _file_mmap_ok(inode: Inode, pgoff: int, length: int) -> bool:
    """file_mmap_ok: the mapping must end at or below the largest file offset."""
    maxsize = MAX_LFS_FILESIZE if inode.kind is InodeKind.REGULAR else U64_MAX
    if length > maxsize:
        return False
    return pgoff <= (maxsize - length) >> PAGE_SHIFT


def _check_file(
    file: OpenFile, flags: int, prot: int, pgoff: int, length: int, vm_flags: int
) -> tuple[int, Inode | None]:
    """do_mmap's checks for a file mapping; returns its flags and backing inode."""
    inode = file.inode
    if not _file_mmap_ok(inode, pgoff, length):
        raise syscall_error(errno.EOVERFLOW)
    kind = flags & MAP_TYPE
    if kind in (MAP_SHARED, MAP_SHARED_VALIDATE):
        if kind == MAP_SHARED_VALIDATE and flags & ~(LEGACY_MAP_MASK | MAP_HUGE_BITS):
            raise syscall_error(errno.EOPNOTSUPP)
        if prot & PROT_WRITE and not file.writable:
            raise syscall_error(errno.EACCES)
        vm_flags |= VM_SHARED | VM_MAYSHARE
        if not file.writable:
            vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
    elif kind != MAP_PRIVATE:
        raise syscall_error(errno.EINVAL)
    if not file.readable:
        raise syscall_error(errno.EACCES)
    if not _mappable(inode):
        raise syscall_error(errno.ENODEV)
    if flags & MAP_GROWSDOWN:
        raise syscall_error(errno.EINVAL)
    if inode.kind is InodeKind.CHARDEV:  # /dev/zero: anonymous memory
        return vm_flags, None
    if flags & MAP_SYNC:  # VM_SYNC: the file system's mmap refuses it without DAX
        raise syscall_error(errno.EOPNOTSUPP)
    return vm_flags, inode


def _mappable(inode: Inode) -> bool:
    if inode.kind is InodeKind.CHARDEV:
        return inode.name == "/dev/zero"
    return inode.kind is InodeKind.REGULAR


def _check_anon(flags: int, addr: int, vm_flags: int) -> tuple[int, int, None]:
    """do_mmap's checks for an anonymous mapping; returns flags and pgoff."""
    kind = flags & MAP_TYPE
    if kind == MAP_SHARED:
        if flags & MAP_GROWSDOWN:
            raise syscall_error(errno.EINVAL)
        return vm_flags | VM_SHARED | VM_MAYSHARE, 0, None
    if kind == MAP_DROPPABLE:
        # may vanish under memory pressure: never reserved, wiped at fork, not dumped
        if flags & (MAP_LOCKED | MAP_HUGETLB | MAP_GROWSDOWN):
            raise syscall_error(errno.EINVAL)
        vm_flags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP
        return vm_flags, addr >> PAGE_SHIFT, None
    if kind == MAP_PRIVATE:
        if flags & MAP_GROWSDOWN:
            vm_flags |= VM_GROWSDOWN
        return vm_flags, addr >> PAGE_SHIFT, None
    raise syscall_error(errno.EINVAL)


def _mmap_region(
    k: Kernel,
    task: Task,
    addr: int,
    length: int,
    flags: int,
    vm_flags: int,
    pgoff: int,
    file: OpenFile | None,
    inode: Inode | None,
) -> int:
    """mmap_region: account, create shared anonymous memory, map, populate."""
    if flags & MAP_NORESERVE:
        vm_flags |= VM_NORESERVE
    if (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE:
        vm_flags |= VM_ACCOUNT
        _vm_enough_memory(k, length)
    if vm_flags & VM_MAYSHARE and inode is None:
        # MAP_SHARED|MAP_ANONYMOUS, or MAP_SHARED of /dev/zero: a hidden shmem inode
        inode = k.fs.new_inode(InodeKind.SHMEM, 0o600)
        inode.name = "/dev/zero"
        k.pagecache.resize(inode, length)
        file, pgoff = None, 0
    vma = mapping.map_region(task.mm, addr, length, vm_flags, pgoff, file, inode)
    locked = vm_flags & (VM_LOCKED | VM_LOCKONFAULT) == VM_LOCKED  # ONFAULT: as used
    if (flags & MAP_POPULATE and not flags & MAP_NONBLOCK) or locked:
        mapping.populate(task.mm, vma, addr, addr + length)
    return addr


def _vm_enough_memory(k: Kernel, length: int) -> None:
    """The default overcommit heuristic: one charge may not exceed all of memory.

    (``__vm_enough_memory`` with ``vm.overcommit_memory = 0``; this machine has no swap.)
    """
    if length >> PAGE_SHIFT > k.physmem.limit:
        raise syscall_error(errno.ENOMEM)


def sys_munmap(k: Kernel, task: Task, addr: int, length: int) -> None:
    """Implements the semantics of Linux's munmap(2)."""
    if addr & _PAGE_OFF or addr > TASK_SIZE or length > TASK_SIZE - addr:
        raise syscall_error(errno.EINVAL)
    length = _page_align(length)
    if length == 0:
        raise syscall_error(errno.EINVAL)
    end = addr + length
    if mapping.splits_needed(task.mm, addr, end) and len(task.mm.vmas) >= k.max_map_count:
        raise syscall_error(errno.ENOMEM)
    mm = task.mm
    if mm.bus.active:
        touched = len(mm.vmas.overlapping(addr, end))
        present = len(mm.ptes_in(addr, end))
        mm.bus.emit(Munmapped(mm.pid, addr, end, touched, present))
    mapping.unmap(mm, addr, end)


def sys_msync(k: Kernel, task: Task, addr: int, length: int, flags: int) -> None:
    """Implements the semantics of Linux's msync(2).

    Partial effect, as on Linux: when the range has holes, the mapped parts
    are synced before the call fails with ENOMEM.
    """
    if flags & ~int(MsFlag.ASYNC | MsFlag.INVALIDATE | MsFlag.SYNC):
        raise syscall_error(errno.EINVAL)
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    if flags & MsFlag.ASYNC and flags & MsFlag.SYNC:
        raise syscall_error(errno.EINVAL)
    length = _page_align(length)
    end = addr + length
    if end > U64_MAX:
        raise syscall_error(errno.ENOMEM)
    if end == addr:
        return
    err = sync_range(task.mm, addr, end, MsFlag(flags))
    if err:
        raise syscall_error(err)


def sys_mprotect(k: Kernel, task: Task, addr: int, length: int, prot: int) -> None:
    """Implements the semantics of Linux's mprotect(2).

    Partial effect, as on Linux: the VMAs before a hole (ENOMEM) or before a
    VMA that forbids the protection (EACCES) keep their new protection.
    """
    grows = prot & (Prot.GROWSDOWN | Prot.GROWSUP)
    prot &= ~int(Prot.GROWSDOWN | Prot.GROWSUP)
    if grows == Prot.GROWSDOWN | Prot.GROWSUP:
        raise syscall_error(errno.EINVAL)
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    if length == 0:
        return
    end = addr + _page_align(length)
    if end <= addr or end > U64_MAX:
        raise syscall_error(errno.ENOMEM)
    if prot & ~int(Prot.READ | Prot.WRITE | Prot.EXEC | 0x8):  # PROT_SEM is allowed
        raise syscall_error(errno.EINVAL)
    mm = task.mm
    vma = mm.vmas.find_from(addr)
    if vma is None:
        raise syscall_error(errno.ENOMEM)
    if grows & Prot.GROWSDOWN:
        if vma.start >= end:
            raise syscall_error(errno.ENOMEM)
        addr = vma.start
        if not vma.flags & VmFlag.GROWSDOWN:
            raise syscall_error(errno.EINVAL)
    elif vma.start > addr:
        raise syscall_error(errno.ENOMEM)
    elif grows:
        raise syscall_error(errno.EINVAL)
    _protect_walk(k, task, addr, end, prot_to_vm(Prot(prot & 0x7)))


def _protect_walk(k: Kernel, task: Task, start: int, end: int, prot_bits: VmFlag) -> None:
    mm = task.mm
    vma = mm.vmas.find_from(start)
    while vma is not None:
        flags = new_flags(vma, prot_bits)
        access = VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC
        if (int(flags) & ~(int(flags) >> 4)) & access:
            raise syscall_error(errno.EACCES)
        upto = min(vma.end, end)
        if flags & ~vma.flags & VmFlag.ACCOUNT:  # mprotect charges what becomes writable
            _vm_enough_memory(k, upto - start)
        mprotect_fixup(mm, vma, start, upto, flags, k.max_map_count)
        start = upto
        if start >= end:
            return
        vma = mm.vmas.find_from(start)
        if vma is None or vma.start > start:
            break
    raise syscall_error(errno.ENOMEM)
