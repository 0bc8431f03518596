"""Open file descriptions and per-process fd tables.

An open file description (``OpenFile``, Linux's ``struct file``) holds the
access mode, the O_APPEND flag and the file position; ``dup``/``fork`` share it.
A mapping keeps its own reference to the description, so ``close(fd)`` never
removes a mapping: the description lives while a VMA or an fd refers to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmapsim.constants import OpenFlag
from mmapsim.fs.inode import Inode


class OpenFile:
    """One open file description."""

    __slots__ = ("flags", "inode", "path", "pos", "refs")

    def __init__(self, inode: Inode, flags: OpenFlag, path: str) -> None:
        self.inode = inode
        self.flags = flags
        self.path = path
        self.pos = 0
        self.refs = 0  # fds and VMAs that hold it

    @property
    def readable(self) -> bool:
        """FMODE_READ: opened O_RDONLY or O_RDWR (an O_PATH description neither)."""
        if self.flags & OpenFlag.PATH:
            return False
        return (self.flags & OpenFlag.ACCMODE) in (OpenFlag.RDONLY, OpenFlag.RDWR)

    @property
    def writable(self) -> bool:
        """FMODE_WRITE: opened O_WRONLY or O_RDWR (an O_PATH description neither)."""
        if self.flags & OpenFlag.PATH:
            return False
        return (self.flags & OpenFlag.ACCMODE) in (OpenFlag.WRONLY, OpenFlag.RDWR)

    @property
    def path_only(self) -> bool:
        """FMODE_PATH (O_PATH): names the file, gives no access to it; only
        close, dup, dup2 and fstat take it (``fget_raw``), every other call EBADF."""
        return bool(self.flags & OpenFlag.PATH)

    @property
    def append(self) -> bool:
        return bool(self.flags & OpenFlag.APPEND)

    def __repr__(self) -> str:
        return f"<OpenFile {self.path!r} flags={int(self.flags):#o} pos={self.pos}>"


@dataclass(slots=True)
class FdEntry:
    """One slot of an fd table: the description and the close-on-exec flag."""

    file: OpenFile
    cloexec: bool = False


@dataclass(slots=True)
class FdTable:
    """A process's file descriptors: the lowest free number is handed out first."""

    entries: dict[int, FdEntry] = field(default_factory=dict)
    limit: int = 1024  # RLIMIT_NOFILE

    def lowest_free(self) -> int | None:
        for fd in range(self.limit):
            if fd not in self.entries:
                return fd
        return None

    def get(self, fd: int) -> OpenFile | None:
        entry = self.entries.get(fd)
        return None if entry is None else entry.file
