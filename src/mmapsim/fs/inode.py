"""Inodes: what a file is, apart from its names and its openers.

An inode has its bytes on "disk" (``disk``, always ``size`` bytes long: the size
is metadata and reaches the disk at once) and its page cache (``cache``: page
offset -> frame number, some of them ``dirty``: newer than the disk).  ``read()`` and
``write()`` and shared mappings all go through the cache (the unified page
cache of Linux); only writeback changes ``disk``.

``mappings`` is the inode's reverse map (Linux's ``i_mmap``): every VMA that
maps it, so truncation and writeback can find the page-table entries.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Protocol

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE
from mmapsim.fs.disk import Disk

if TYPE_CHECKING:
    from mmapsim.fs.pipe import Pipe
    from mmapsim.mm.vma import Vma


class VmOps(Protocol):
    """Linux's ``vm_operations_struct`` open and close, for an inode that needs them."""

    def vma_open(self, vma: Vma) -> None:
        """A VMA of the inode joins an address space (mmap, split, fork)."""

    def vma_close(self, vma: Vma) -> None:
        """A VMA of the inode leaves its address space (munmap, exit, execve)."""


class InodeKind(Enum):
    """The file types the machine has (st_mode's S_IFMT)."""

    REGULAR = "regular file"
    DIRECTORY = "directory"
    CHARDEV = "character device"
    FIFO = "fifo"
    SHMEM = "shared memory"  # tmpfs: MAP_SHARED|MAP_ANONYMOUS, memfd, /dev/shm, SysV


S_IFMT = {
    InodeKind.REGULAR: 0o100000,
    InodeKind.DIRECTORY: 0o040000,
    InodeKind.CHARDEV: 0o020000,
    InodeKind.FIFO: 0o010000,
    InodeKind.SHMEM: 0o100000,
}

#: Linux's MAX_LFS_FILESIZE on 64-bit: the largest file offset (what mmap checks).
MAX_LFS_FILESIZE = 2**63 - 1
#: The largest file of the simulated disk's file system (ext4 with 4 KiB blocks:
#: ``s_maxbytes``): truncate past it is EFBIG, lseek EINVAL, writes stop there.
S_MAXBYTES = 2**44 - 4096


class Inode:
    """One file's metadata, disk image and page cache.

    Invariant: ``len(disk) == size`` for regular files; ``dirty`` is exactly the
    set of page offsets whose cached frame has ``PG_DIRTY`` set; ``dirtied_ns``
    is when that set last became non-empty.
    """

    __slots__ = (
        "atime_ns",
        "cache",
        "ctime_ns",
        "dev",
        "dirtied_ns",
        "dirty",
        "disk",
        "ino",
        "kind",
        "mappings",
        "mode",
        "mtime_ns",
        "name",
        "nlink",
        "opens",
        "pipe",
        "size",
        "vm_ops",
        "writers",
    )

    def __init__(self, ino: int, kind: InodeKind, mode: int, now_ns: int, dev: int) -> None:
        self.ino = ino
        self.kind = kind
        self.mode = mode & 0o7777
        self.dev = dev
        self.size = 0
        self.disk = Disk()
        self.cache: dict[int, int] = {}  # pgoff -> pfn
        self.dirty: set[int] = set()
        #: Uptime when the inode last went from clean to dirty (Linux's
        #: ``inode->dirtied_when``): the writeback daemon's expiry is per inode.
        self.dirtied_ns = 0
        self.nlink = 0
        self.opens = 0  # live open file descriptions
        self.writers = 0  # of which open for writing (i_writecount): exec is ETXTBSY
        self.name = ""  # the path it was last linked at (for maps and traces)
        self.mtime_ns = self.ctime_ns = self.atime_ns = now_ns
        self.mappings: set[Vma] = set()
        self.pipe: Pipe | None = None
        #: What a mapping's open and close do besides counting (a System V
        #: segment's attach count); such mappings never merge, as on Linux.
        self.vm_ops: VmOps | None = None

    @property
    def st_mode(self) -> int:
        return S_IFMT[self.kind] | self.mode

    @property
    def is_regular(self) -> bool:
        return self.kind is InodeKind.REGULAR

    @property
    def is_file(self) -> bool:
        """S_ISREG: a regular file on disk, or a tmpfs file (memfd, /dev/shm)."""
        return self.kind is InodeKind.REGULAR or self.kind is InodeKind.SHMEM

    @property
    def pages(self) -> int:
        """The pages that the size covers, the last one perhaps in part.

        Linux's ``DIV_ROUND_UP(i_size_read(inode), PAGE_SIZE)``.
        """
        return (self.size + PAGE_SIZE - 1) >> PAGE_SHIFT

    @property
    def unreachable(self) -> bool:
        """No name, no opener, no mapping: its pages can be freed."""
        return self.nlink == 0 and self.opens == 0 and not self.mappings

    def touch(self, now_ns: int) -> None:
        """Mark the data changed: mtime and ctime, as a write does."""
        self.mtime_ns = self.ctime_ns = now_ns

    def __repr__(self) -> str:
        return f"<Inode {self.ino} {self.kind.value} {self.name!r} size={self.size}>"
