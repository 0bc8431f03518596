"""do_mmap's checks of the mapped object.

Linux 6.x on x86-64 (mm/mmap.c ``do_mmap``, fs/hugetlbfs
``hugetlbfs_file_mmap``), for :func:`mmapsim.mm.mapping.do_mmap`.  A check
here either fails at once (``syscall_error``), or is an error of the object's
own ``mmap`` operation, which Linux reports only after a MAP_FIXED mapping has
unmapped what was in its way (``MmapPlan.op_error``: the hole is the
contract).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from mmapsim.abi import U64_MAX
from mmapsim.constants import (
    MAP_DROPPABLE,
    MAP_GROWSDOWN,
    MAP_HUGETLB,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_SYNC,
    MAP_TYPE,
    PAGE_SHIFT,
    PROT_WRITE,
    MapFlag,
)
from mmapsim.errors import syscall_error
from mmapsim.fs.file import OpenFile
from mmapsim.fs.hugetlbfs import hugetlb_inode_page_size
from mmapsim.fs.inode import MAX_LFS_FILESIZE, Inode, InodeKind
from mmapsim.mm.vma import (
    VM_DONTDUMP,
    VM_DONTEXPAND,
    VM_DROPPABLE,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_HUGETLB,
    VM_LOCKED,
    VM_MAYEXEC,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_NORESERVE,
    VM_SHARED,
    VM_WIPEONFORK,
)

MAP_ABOVE4G = 0x80
#: MAP_HUGE_2MB | MAP_HUGE_1GB: the huge page size bits LEGACY_MAP_MASK lets through.
MAP_HUGE_BITS = (21 << 26) | (30 << 26)
#: LEGACY_MAP_MASK: the flags MAP_SHARED accepts silently and MAP_SHARED_VALIDATE checks.
LEGACY_MAP_MASK = (
    int(
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
    | MAP_ABOVE4G
    | MAP_HUGE_BITS
)


@dataclass(slots=True)
class MmapPlan:
    """What do_mmap decided about the object: flags, backing, the op's error."""

    vm_flags: int
    inode: Inode | None
    pgoff: int
    op_error: int = 0


def file_mmap_ok(inode: Inode, pgoff: int, length: int) -> bool:
    """file_mmap_ok: the mapping must end at or below the largest file offset."""
    regular = inode.kind in (InodeKind.REGULAR, InodeKind.SHMEM)
    maxsize = MAX_LFS_FILESIZE if regular else U64_MAX
    if length > maxsize:
        return False
    return pgoff <= (maxsize - length) >> PAGE_SHIFT


def check_file(
    file: OpenFile | None,
    inode: Inode,
    flags: int,
    prot: int,
    pgoff: int,
    length: int,
    vm_flags: int,
) -> MmapPlan:
    """do_mmap's checks for a file mapping (``file`` None: a MAP_HUGETLB file).

    Preconditions: ``length`` is page aligned and not 0; ``vm_flags`` are
    do_mmap's (protection, VM_MAY* bits, the mm's default flags).
    """
    writable = file is None or file.writable
    if not file_mmap_ok(inode, pgoff, length):
        raise syscall_error(errno.EOVERFLOW)
    kind = flags & MAP_TYPE
    if kind in (MAP_SHARED, MAP_SHARED_VALIDATE):
        mask = LEGACY_MAP_MASK
        if inode.kind is InodeKind.REGULAR:  # ext4 declares FOP_MMAP_SYNC
            mask |= MAP_SYNC
        if kind == MAP_SHARED_VALIDATE and flags & ~mask:
            raise syscall_error(errno.EOPNOTSUPP)
        if prot & PROT_WRITE and not writable:
            raise syscall_error(errno.EACCES)
        vm_flags |= VM_SHARED | VM_MAYSHARE
        if not writable:
            vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
    elif kind != MAP_PRIVATE:
        raise syscall_error(errno.EINVAL)
    if file is not None and not file.readable:
        raise syscall_error(errno.EACCES)
    if inode.kind is InodeKind.FIFO:  # pipefs is mounted noexec
        if vm_flags & VM_EXEC:
            raise syscall_error(errno.EPERM)
        vm_flags &= ~VM_MAYEXEC
    if not _mappable(inode):
        raise syscall_error(errno.ENODEV)
    if flags & MAP_GROWSDOWN:
        raise syscall_error(errno.EINVAL)
    if inode.kind is InodeKind.CHARDEV:  # /dev/zero: anonymous memory
        return MmapPlan(vm_flags, None, pgoff)
    huge = hugetlb_inode_page_size(inode)
    if huge is not None:
        return _hugetlbfs_mmap(flags, vm_flags, inode, pgoff, huge)
    op_error = errno.EOPNOTSUPP if flags & MAP_SYNC else 0  # ext4_file_mmap: no DAX
    return MmapPlan(vm_flags, inode, pgoff, op_error)


def _hugetlbfs_mmap(flags: int, vm_flags: int, inode: Inode, pgoff: int, huge: int) -> MmapPlan:
    """hugetlbfs_file_mmap: an aligned offset, and huge pages reserved unless
    MAP_NORESERVE (this machine reserves none: ENOMEM).  Never locked."""
    vm_flags = (vm_flags | VM_HUGETLB | VM_DONTEXPAND) & ~VM_LOCKED
    if flags & MAP_NORESERVE:
        vm_flags |= VM_NORESERVE
    op_error = 0
    if pgoff & ((huge >> PAGE_SHIFT) - 1):
        op_error = errno.EINVAL
    elif not flags & MAP_NORESERVE:
        op_error = errno.ENOMEM
    return MmapPlan(vm_flags, inode, pgoff, op_error)


def _mappable(inode: Inode) -> bool:
    if inode.kind is InodeKind.CHARDEV:
        return inode.name == "/dev/zero"
    return inode.kind in (InodeKind.REGULAR, InodeKind.SHMEM)


def check_anon(flags: int, addr: int, vm_flags: int) -> MmapPlan:
    """do_mmap's checks for an anonymous mapping.

    Preconditions: ``addr`` is where the mapping goes (its page offset is the
    address's page number); ``vm_flags`` are do_mmap's.
    """
    kind = flags & MAP_TYPE
    if kind == MAP_SHARED:
        if flags & MAP_GROWSDOWN:
            raise syscall_error(errno.EINVAL)
        return MmapPlan(vm_flags | VM_SHARED | VM_MAYSHARE, None, 0)
    if kind == MAP_DROPPABLE:
        # may vanish under memory pressure: never reserved, wiped at fork, not dumped
        if flags & (MAP_LOCKED | MAP_HUGETLB | MAP_GROWSDOWN):
            raise syscall_error(errno.EINVAL)
        vm_flags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP
        return MmapPlan(vm_flags, None, addr >> PAGE_SHIFT)
    if kind == MAP_PRIVATE:
        if flags & MAP_GROWSDOWN:
            vm_flags |= VM_GROWSDOWN
        return MmapPlan(vm_flags, None, addr >> PAGE_SHIFT)
    raise syscall_error(errno.EINVAL)
