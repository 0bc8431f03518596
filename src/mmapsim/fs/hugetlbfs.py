"""hugetlbfs: the unnamed file that MAP_HUGETLB of anonymous memory maps.

Linux 6.x on x86-64 (fs/hugetlbfs/inode.c ``hugetlb_file_setup``,
mm/hugetlb.c ``hstate_sizelog``).  This machine reserves no huge page
(``nr_hugepages`` 0), so only a MAP_NORESERVE mapping of such a file
succeeds, and its first access is SIGBUS (see :mod:`mmapsim.mm.mmap_checks`).
"""

from __future__ import annotations

import errno

from mmapsim.errors import syscall_error
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.fs.namespace import FileSystem

#: The device of the hugetlbfs mount that MAP_HUGETLB's files live on ("00:11").
HUGETLBFS_DEV = 0x0011
#: The huge page sizes of this machine (2 MiB, and 1 GiB: the CPU has pdpe1gb),
#: by the log2 that MAP_HUGE_SHIFT's bits name; 0 names the default size.
HUGE_PAGE_SIZES = {0: 1 << 21, 21: 1 << 21, 30: 1 << 30}


def huge_page_size(flags: int) -> int:
    """hstate_sizelog: the huge page size MAP_HUGETLB asks for (EINVAL: none).

    The size is the log2 in bits 26..31 of the mmap flags (MAP_HUGE_SHIFT).
    """
    size = HUGE_PAGE_SIZES.get((flags >> 26) & 0x3F)
    if size is None:
        raise syscall_error(errno.EINVAL)
    return size


def hugetlb_inode_page_size(inode: Inode | None) -> int | None:
    """The huge page size of a hugetlbfs inode, None for anything else."""
    return getattr(inode, "huge_page_size", None)


class HugetlbInode(Inode):
    """The unnamed hugetlbfs file that MAP_HUGETLB of anonymous memory maps
    (``hugetlb_file_setup``): shown as ``/anon_hugepage (deleted)``."""

    __slots__ = ("huge_page_size",)

    huge_page_size: int


def hugetlb_file_setup(fs: FileSystem, huge: int, length: int) -> HugetlbInode:
    """hugetlb_file_setup: a new unnamed file of ``length`` bytes in pages of ``huge``.

    Its inode number comes from the file system's counter, so later inodes
    are numbered as if it were one of them.
    """
    ino = fs.new_inode(InodeKind.REGULAR, 0o600).ino  # a number of its own
    inode = HugetlbInode(ino, InodeKind.REGULAR, 0o600, fs.clock.now_ns(), HUGETLBFS_DEV)
    inode.huge_page_size, inode.name, inode.size = huge, "/anon_hugepage", length
    inode.disk.resize(length)
    return inode
