"""Host mounts: the host's programs and libraries, visible read-only in a machine.

``Machine(host_mounts=("/usr", "/lib", "/lib64"))`` makes every file under
those host paths appear at the same path in the simulated file system, so that
``execve("/usr/bin/cat")`` loads the host's real binary.  Nothing is copied up
front: a file becomes an inode of the machine the first time a path walk
reaches it (open, execve, the loader's own look-ups), and its bytes are then
read once from the host into the inode's disk image.  The device and inode
numbers are the machine's own (API.md).

Host symbolic links are followed on the host: the inode is made at the target's
path (which is then what ``maps()`` shows, as Linux shows the path the file was
reached at after resolution) and the link's path becomes a second name of the
same inode.  A link whose target lies outside every mount is treated as absent.

Read-only: the host is never written.  A simulated process may still change its
machine's copy (processes run as root); that change stays inside the machine.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat

from mmapsim.errors import syscall_error
from mmapsim.fs.disk import Disk
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.fs.namespace import FileSystem, normalize


class HostMounts:
    """The host paths a machine shows, and the look-up that brings files in."""

    __slots__ = ("fs", "roots")

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.roots: list[str] = []
        fs.on_miss = self.resolve

    def mount(self, host_path: str) -> None:
        """Show the host's ``host_path`` (a directory or a file) at the same path."""
        path = normalize(host_path)
        if not os.path.exists(path):
            raise syscall_error(errno.ENOENT)
        if path not in self.roots:
            self.roots.append(path)

    def covers(self, path: str) -> bool:
        """Whether ``path`` lies under one of the mounted host paths."""
        return any(path == r or path.startswith(r.rstrip("/") + "/") for r in self.roots)

    def resolve(self, path: str) -> Inode | None:
        """The inode for ``path`` (normalised), made from the host; None if absent."""
        if not self.covers(path):
            return None
        real = os.path.realpath(path)
        if not self.covers(real):
            return None
        inode = self.fs.names.get(real)
        if inode is None:
            inode = self._materialize(real)
            if inode is None:
                return None
        if path != real:
            self._ensure_dirs(posixpath.dirname(path))
            self.fs.names[path] = inode  # a second name; inode.name stays the target's
            inode.nlink += 1
        return inode

    def _materialize(self, real: str) -> Inode | None:
        """Make the inode of the host file ``real`` (no symbolic links in it)."""
        try:
            st = os.stat(real)
        except OSError:
            return None
        if stat.S_ISDIR(st.st_mode):
            kind = InodeKind.DIRECTORY
        elif stat.S_ISREG(st.st_mode):
            kind = InodeKind.REGULAR
        else:
            return None  # devices, sockets and fifos of the host stay outside
        data = b""
        if kind is InodeKind.REGULAR:
            try:
                with open(real, "rb") as f:
                    data = f.read()
            except PermissionError:
                raise syscall_error(errno.EACCES) from None
        self._ensure_dirs(posixpath.dirname(real))
        inode = self.fs.new_inode(kind, st.st_mode & 0o7777)
        inode.disk = Disk(data)
        inode.size = len(data)
        self.fs.names[real] = inode
        inode.nlink += 1
        inode.name = real
        return inode

    def _ensure_dirs(self, path: str) -> None:
        """Make the directories on the way to ``path`` that the machine lacks."""
        missing: list[str] = []
        while path not in self.fs.names:
            missing.append(path)
            path = posixpath.dirname(path)
        for d in reversed(missing):
            inode = self.fs.new_inode(InodeKind.DIRECTORY, 0o755)
            self.fs.names[d] = inode
            inode.nlink += 1
            inode.name = d
