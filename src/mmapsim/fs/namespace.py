"""The file system's names: paths to inodes, directories, devices, pipes.

Simulated processes run as root (API.md), so read and write permission is
always granted, as Linux grants it to CAP_DAC_OVERRIDE; executing still needs
an execute bit.  Paths are absolute (a relative path is taken from ``/``).
"""

from __future__ import annotations

import errno
import posixpath
from collections.abc import Callable

from mmapsim.errors import syscall_error
from mmapsim.fs.inode import Clock, Inode, InodeKind
from mmapsim.fs.pagecache import PageCache

#: Directories every machine has.
STANDARD_DIRS = (
    "/",
    "/bin",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/proc",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/var",
    "/var/tmp",
)

DISK_DEV = 0x0801  # "08:01", the device of the simulated disk
SHMEM_DEV = 0x0001  # "00:01", where shared anonymous memory lives


#: Where the machine's tmpfs is mounted: its files are shmem, in memory only.
TMPFS_DIR = "/dev/shm"


def on_tmpfs(path: str) -> bool:
    """Whether the normalised ``path`` names a file of the tmpfs at /dev/shm."""
    return path.startswith(TMPFS_DIR + "/")


def normalize(path: str) -> str:
    """The absolute, normalised form of ``path``."""
    return posixpath.normpath(posixpath.join("/", path)).replace("//", "/")


class FileSystem:
    """Every inode of the machine and the names that lead to them."""

    __slots__ = ("_next_ino", "clock", "names", "on_miss", "pagecache")

    def __init__(self, pagecache: PageCache, clock: Clock) -> None:
        self.pagecache = pagecache
        self.clock = clock
        self.names: dict[str, Inode] = {}
        #: Asked for a path with no name here (host mounts make the inode on demand).
        self.on_miss: Callable[[str], Inode | None] | None = None
        self._next_ino = 2
        for d in STANDARD_DIRS:
            self._link(d, self.new_inode(InodeKind.DIRECTORY, 0o755))
        for dev in ("/dev/zero", "/dev/null"):
            self._link(dev, self.new_inode(InodeKind.CHARDEV, 0o666))
        # the root of a tmpfs of its own: inode 1 of the shmem device, sticky
        tmpfs_root = Inode(1, InodeKind.DIRECTORY, 0o1777, clock.now_ns(), SHMEM_DEV)
        self._link(TMPFS_DIR, tmpfs_root)

    def new_inode(self, kind: InodeKind, mode: int) -> Inode:
        """A fresh inode with no name."""
        dev = SHMEM_DEV if kind is InodeKind.SHMEM else DISK_DEV
        inode = Inode(self._next_ino, kind, mode, self.clock.now_ns(), dev)
        self._next_ino += 1
        return inode

    def _link(self, path: str, inode: Inode) -> None:
        self.names[path] = inode
        inode.nlink += 1
        inode.name = path

    def lookup(self, path: str) -> Inode:
        """The inode at ``path``; ENOENT or ENOTDIR as path walking gives them."""
        if not path:
            raise syscall_error(errno.ENOENT)
        trailing_slash = len(path) > 1 and path.endswith("/")
        path = normalize(path)
        inode = self.names.get(path)
        if inode is None and self.on_miss is not None:
            inode = self.on_miss(path)
        if inode is None:
            self._check_parent(path)
            raise syscall_error(errno.ENOENT)
        if trailing_slash and inode.kind is not InodeKind.DIRECTORY:
            raise syscall_error(errno.ENOTDIR)  # "f/" names a directory
        return inode

    def _check_parent(self, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent not in self.names and parent != "/":
            parent = posixpath.dirname(parent)
        if self.names[parent].kind is not InodeKind.DIRECTORY:
            raise syscall_error(errno.ENOTDIR)
        if parent != posixpath.dirname(path):
            raise syscall_error(errno.ENOENT)

    def create(self, path: str, mode: int) -> Inode:
        """A new empty regular file at ``path`` (the parent must exist)."""
        if len(path) > 1 and path.endswith("/"):
            raise syscall_error(errno.EISDIR)  # only a directory may be named "d/"
        path = normalize(path)
        self._check_parent(path)
        inode = self.new_inode(InodeKind.SHMEM if on_tmpfs(path) else InodeKind.REGULAR, mode)
        self._link(path, inode)
        return inode

    def unlink(self, path: str) -> Inode:
        """Remove the name; the inode lives on while it is open or mapped."""
        inode = self.lookup(path)
        path = normalize(path)
        if inode.kind is InodeKind.DIRECTORY:
            raise syscall_error(errno.EISDIR)
        del self.names[path]
        inode.nlink -= 1
        inode.ctime_ns = self.clock.now_ns()
        return inode

    def write_file(self, path: str, data: bytes) -> Inode:
        """Create or rewrite a file in place (same inode), as a tool outside would."""
        path = normalize(path)
        inode = self.names.get(path)
        if inode is None:
            inode = self.create(path, 0o644)
        elif not inode.is_file:
            raise syscall_error(errno.EISDIR if inode.kind is InodeKind.DIRECTORY else errno.EINVAL)
        self.pagecache.resize(inode, 0)
        self.pagecache.write(inode, 0, data)
        if inode.kind is InodeKind.REGULAR:  # tmpfs has no disk to write back to
            self.pagecache.writeback(inode)
        return inode

    def read_file(self, path: str) -> bytes:
        """The whole file as read() sees it now (page cache included)."""
        inode = self.lookup(path)
        if inode.kind is InodeKind.DIRECTORY:
            raise syscall_error(errno.EISDIR)
        if not inode.is_file:
            raise syscall_error(errno.EINVAL)
        return self.pagecache.read(inode, 0, inode.size)
