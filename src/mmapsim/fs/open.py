"""Opening, truncating, changing and removing files, and the files without a name.

Linux's fs/open.c, fs/namei.c (``path_openat``, ``do_unlinkat``), fs/pipe.c
(``create_pipe_files``) and mm/memfd.c.  Processes run as root: read and
write permission is always granted (CAP_DAC_OVERRIDE).
"""

from __future__ import annotations

import errno
import posixpath

from mmapsim.constants import OpenFlag
from mmapsim.errors import syscall_error
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.fs.namespace import FileSystem, normalize
from mmapsim.fs.pipe import Pipe

#: The umask of every simulated process.
UMASK = 0o022


def open_inode(fs: FileSystem, path: str, flags: OpenFlag, mode: int) -> Inode:
    """do_filp_open: the inode that open(2) of ``path`` opens, created or truncated.

    O_CREAT makes a missing regular file (``mode`` less the umask); O_EXCL makes
    an existing one EEXIST; a name ending in ``/`` with O_CREAT is EISDIR.  A
    directory opened for writing (or O_CREAT, O_TRUNC) is EISDIR; O_DIRECTORY
    on anything else ENOTDIR.  O_TRUNC empties a file.
    """
    inode = _lookup_or_create(fs, path, flags, mode)
    acc = flags & OpenFlag.ACCMODE
    writes = acc != OpenFlag.RDONLY or flags & (OpenFlag.CREAT | OpenFlag.TRUNC)
    if inode.kind is InodeKind.DIRECTORY and writes:  # may_open: MAY_WRITE on a directory
        raise syscall_error(errno.EISDIR)
    if flags & OpenFlag.DIRECTORY and inode.kind is not InodeKind.DIRECTORY:
        raise syscall_error(errno.ENOTDIR)
    if flags & OpenFlag.TRUNC and inode.is_file:
        do_truncate(fs, inode, 0)
    return inode


def _lookup_or_create(fs: FileSystem, path: str, flags: OpenFlag, mode: int) -> Inode:
    if flags & OpenFlag.CREAT and len(path) > 1 and path.endswith("/"):
        # open_last_lookups: O_CREAT on a name with a trailing slash is EISDIR
        # once the parent is found, whatever the name is
        fs.lookup(posixpath.dirname(normalize(path)).rstrip("/") + "/")
        raise syscall_error(errno.EISDIR)
    try:
        inode = fs.lookup(path)
    except OSError as e:
        if e.errno != errno.ENOENT or not flags & OpenFlag.CREAT:
            raise
        return fs.create(path, mode & ~UMASK & 0o7777)
    if flags & OpenFlag.CREAT and flags & OpenFlag.EXCL:
        raise syscall_error(errno.EEXIST)
    return inode


def do_truncate(fs: FileSystem, inode: Inode, length: int) -> None:
    """do_truncate: the file becomes ``length`` bytes long; mtime and ctime change.

    Shrinking a mapped file makes the cut pages SIGBUS.

    Preconditions: ``inode`` is a file (``is_file``) and ``length`` is within
    the file system's largest file.
    """
    fs.pagecache.resize(inode, length)
    inode.touch(fs.clock.now_ns())


def chmod(fs: FileSystem, path: str, mode: int) -> None:
    """chmod_common: the permission bits of ``path`` become ``mode``'s; ctime changes."""
    inode = fs.lookup(path)
    inode.mode = mode & 0o7777
    inode.ctime_ns = fs.clock.now_ns()


def unlink(fs: FileSystem, path: str) -> None:
    """do_unlinkat: the name goes; an open or mapped file lives on, '(deleted)',
    and one that nothing holds loses its pages."""
    inode = fs.unlink(path)
    if inode.unreachable:
        fs.pagecache.release(inode)


def new_pipe(fs: FileSystem) -> Inode:
    """create_pipe_files' inode: a FIFO of pipefs, named ``pipe:[ino]``, with an empty buffer."""
    inode = fs.new_inode(InodeKind.FIFO, 0o600)
    inode.name = f"pipe:[{inode.ino}]"
    inode.nlink = 1  # its one link is in pipefs, which has no names
    inode.pipe = Pipe()
    return inode


def new_memfd(fs: FileSystem, name: str, mode: int) -> Inode:
    """memfd_create's file: a shmem inode with no name (``nlink`` 0), shown as
    ``/memfd:NAME (deleted)``."""
    inode = fs.new_inode(InodeKind.SHMEM, mode)
    inode.name = f"/memfd:{name}"
    return inode
