"""The file system's names: paths to inodes, directories, devices, pipes.

Simulated processes run as root (API.md), so read and write permission is
always granted, as Linux grants it to CAP_DAC_OVERRIDE; executing still needs
an execute bit.  Paths are absolute (a relative path is taken from ``/``).

Paths are walked as Linux's ``link_path_walk`` walks them, one component at a
time: every component before the last must exist and be a directory (ENOENT,
ENOTDIR), so ``/tmp/nothing/..`` is ENOENT, not ``/tmp``; ``..`` of ``/`` is
``/``; the empty path is ENOENT; a path of PATH_MAX bytes or a component over
NAME_MAX is ENAMETOOLONG.  A path whose last component is ``.``, ``..`` or
``/`` names a directory that cannot be created or unlinked (EISDIR).
"""

from __future__ import annotations

import errno
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from mmapsim.clock import Clock
from mmapsim.constants import PAGE_SIZE
from mmapsim.errors import syscall_error
from mmapsim.fs.inode import Inode, InodeKind
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

#: Linux's PATH_MAX (a path, its NUL included) and ext4's NAME_MAX, in bytes.
PATH_MAX = 4096
NAME_MAX = 255

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


@dataclass(frozen=True, slots=True)
class Walked:
    """Where a path walk ends (path_lookupat's nameidata before the last lookup)."""

    path: str  # the normalised path of what the name leads to (it may not exist)
    normal: bool  # the last component is a name (LAST_NORM), not '.', '..' or '/'
    trailing_slash: bool  # "f/": the name must be a directory


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

    def walk(self, path: str) -> Walked:
        """link_path_walk: follow every component but the last (ENOENT, ENOTDIR)."""
        if not path:
            raise syscall_error(errno.ENOENT)
        if len(path.encode("utf-8", "surrogateescape")) >= PATH_MAX:
            raise syscall_error(errno.ENAMETOOLONG)
        parts = [c for c in path.split("/") if c]
        stack: list[str] = []
        for comp in parts[:-1]:
            if comp == "..":
                if stack:
                    stack.pop()
            elif comp != ".":
                stack.append(comp)
                inode = self._component("/" + "/".join(stack), comp)
                if inode is None:
                    raise syscall_error(errno.ENOENT)
                if inode.kind is not InodeKind.DIRECTORY:
                    raise syscall_error(errno.ENOTDIR)
        last = parts[-1] if parts else "."
        if last == "..":
            stack = stack[:-1]
        elif last != ".":
            _check_name(last)
            stack.append(last)
        canonical = "/" + "/".join(stack)
        return Walked(canonical, last not in (".", ".."), path.endswith("/") and bool(parts))

    def _component(self, path: str, name: str) -> Inode | None:
        """The inode named ``path`` (reached by a walk), asking host mounts on a miss."""
        _check_name(name)
        inode = self.names.get(path)
        if inode is None and self.on_miss is not None:
            inode = self.on_miss(path)
        return inode

    def lookup(self, path: str) -> Inode:
        """The inode at ``path``; ENOENT or ENOTDIR as path walking gives them."""
        walked = self.walk(path)
        inode = self._component(walked.path, "")
        if inode is None:
            raise syscall_error(errno.ENOENT)
        if walked.trailing_slash and inode.kind is not InodeKind.DIRECTORY:
            raise syscall_error(errno.ENOTDIR)  # "f/" names a directory
        return inode

    def create(self, path: str, mode: int) -> Inode:
        """A new empty regular file at ``path`` (the parent must exist)."""
        walked = self.walk(path)
        if walked.trailing_slash or not walked.normal:
            raise syscall_error(errno.EISDIR)  # only a directory may be named "d/" or ".."
        kind = InodeKind.SHMEM if on_tmpfs(walked.path) else InodeKind.REGULAR
        inode = self.new_inode(kind, mode)
        self._link(walked.path, inode)
        return inode

    def directory_size(self, inode: Inode) -> tuple[int, int]:
        """``(st_size, st_blocks)`` of a directory: one ext4 block on the disk; on
        the tmpfs ``BOGO_DIRENT_SIZE`` (20) for each entry, ``.`` and ``..`` too."""
        name = inode.name
        if name != TMPFS_DIR and not name.startswith(TMPFS_DIR + "/"):
            return PAGE_SIZE, PAGE_SIZE // 512
        prefix = name.rstrip("/") + "/"
        entries = sum(1 for p in self.names if p.startswith(prefix) and "/" not in p[len(prefix) :])
        return 20 * (entries + 2), 0

    def create_unnamed(self, directory: str, mode: int) -> Inode:
        """A new regular file in ``directory`` that no name reaches (O_TMPFILE),
        called ``DIR/#INO`` as Linux's d_path calls it.

        Preconditions: ``directory`` is the canonical path of a directory.
        """
        inside = directory.rstrip("/") + "/"
        kind = InodeKind.SHMEM if on_tmpfs(inside) else InodeKind.REGULAR
        inode = self.new_inode(kind, mode)
        inode.name = f"{inside}#{inode.ino}"
        return inode

    def unlink(self, path: str) -> Inode:
        """Remove the name; the inode lives on while it is open or mapped."""
        walked = self.walk(path)
        if not walked.normal:
            raise syscall_error(errno.EISDIR)  # do_unlinkat: '.', '..' and '/' are no names
        inode = self.lookup(path)
        if inode.kind is InodeKind.DIRECTORY:
            raise syscall_error(errno.EISDIR)
        del self.names[walked.path]
        inode.nlink -= 1
        inode.ctime_ns = self.clock.now_ns()
        return inode

    def write_file(self, path: str, data: bytes) -> Inode:
        """Create or rewrite a file in place (same inode), as a tool outside would.

        ENOSPC, with nothing changed, when the disk cannot hold ``data`` once the
        file's old blocks are given back (as HostMachine's ``write_file`` checks).
        """
        walked = self.walk(path)
        inode = self._component(walked.path, "") if walked.normal else self.lookup(path)
        if inode is not None and not inode.is_file:
            raise syscall_error(errno.EISDIR if inode.kind is InodeKind.DIRECTORY else errno.EINVAL)
        held = len(inode.disk.blocks) if inode is not None else 0
        if -(-len(data) // PAGE_SIZE) > self.pagecache.space.free + held:
            raise syscall_error(errno.ENOSPC)
        if inode is None:
            inode = self.create(path, 0o644)
        self.pagecache.resize(inode, 0)
        self.pagecache.write(inode, 0, data)
        if inode.kind is InodeKind.REGULAR:  # tmpfs has no disk to write back to
            self.pagecache.writeback(inode, cause="setup")
        return inode

    def read_file(self, path: str) -> bytes:
        """The whole file as read() sees it now (page cache included)."""
        inode = self.lookup(path)
        if inode.kind is InodeKind.DIRECTORY:
            raise syscall_error(errno.EISDIR)
        if not inode.is_file:
            raise syscall_error(errno.EINVAL)
        return self.pagecache.read(inode, 0, inode.size)


def _check_name(name: str) -> None:
    """A component longer than NAME_MAX bytes is ENAMETOOLONG (ext4_lookup)."""
    if len(name) > NAME_MAX // 4 and len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise syscall_error(errno.ENAMETOOLONG)
