"""The file system calls: open, close, read, write, pread, pwrite, lseek,
ftruncate, fsync, unlink, pipe, chmod, fstat.

POSIX semantics as Linux implements them, through the page cache: a
``write()`` is visible at once to every shared mapping of the file, and a store
through a shared mapping at once to ``read()``.  Processes run as root: read
and write permission is always granted.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from mmapsim.constants import PAGE_SIZE, OpenFlag
from mmapsim.errors import syscall_error
from mmapsim.fs import open as fs_open
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import S_MAXBYTES, Inode, InodeKind
from mmapsim.fs.read_write import SEEK_HOLE, vfs_llseek, vfs_read, vfs_write
from mmapsim.kernel import Kernel, Task
from mmapsim.mm.memlayout import TASK_SIZE


@dataclass(frozen=True, slots=True)
class StatResult:
    """What fstat(2) reports (the fields of ``os.stat_result`` that matter here)."""

    st_mode: int
    st_ino: int
    st_dev: int
    st_nlink: int
    st_size: int
    st_blocks: int
    st_atime_ns: int
    st_mtime_ns: int
    st_ctime_ns: int


def sys_open(k: Kernel, task: Task, path: str, flags: int, mode: int) -> int:
    """Implements open(2) (flags O_RDONLY/WRONLY/RDWR, CREAT, EXCL, TRUNC, APPEND,
    DIRECTORY, CLOEXEC)."""
    oflags = OpenFlag(flags)
    inode = fs_open.open_inode(k.fs, path, oflags, mode)
    ofd = OpenFile(inode, oflags, inode.name)
    return k.install_fd(task, ofd, bool(oflags & OpenFlag.CLOEXEC))


def sys_close(k: Kernel, task: Task, fd: int) -> None:
    """Implements close(2): the fd goes; mappings of the file stay."""
    k.close_fd(task, fd)


def _readable(k: Kernel, task: Task, fd: int) -> OpenFile:
    """vfs_read's first check: the fd must be open for reading."""
    ofd = k.fd_file(task, fd)
    if not ofd.readable:
        raise syscall_error(errno.EBADF)
    return ofd


def _writable(k: Kernel, task: Task, fd: int) -> OpenFile:
    """vfs_write's first check: the fd must be open for writing."""
    ofd = k.fd_file(task, fd)
    if not ofd.writable:
        raise syscall_error(errno.EBADF)
    return ofd


def _access_ok(count: int) -> None:
    """access_ok: a buffer of ``count`` bytes must fit in user space (else EFAULT)."""
    if count > TASK_SIZE:
        raise syscall_error(errno.EFAULT)


def sys_read(k: Kernel, task: Task, fd: int, count: int) -> bytes:
    """Implements read(2) at the file position, which advances."""
    ofd = _readable(k, task, fd)
    _access_ok(count)
    data = vfs_read(k.pagecache, ofd, count, ofd.pos)
    if ofd.inode.is_file:
        ofd.pos += len(data)
    return data


def sys_write(k: Kernel, task: Task, fd: int, data: bytes | bytearray | memoryview) -> int:
    """Implements write(2) at the file position (at the end with O_APPEND)."""
    ofd = _writable(k, task, fd)
    n = vfs_write(k.pagecache, ofd, data, ofd.pos)
    if ofd.inode.is_file:
        ofd.pos = ofd.inode.size if ofd.append else ofd.pos + n
    return n


def _positional(k: Kernel, task: Task, fd: int, offset: int) -> OpenFile:
    """ksys_pread64/pwrite64: a negative offset, then the fd, then a pipe's ESPIPE."""
    if offset < 0:
        raise syscall_error(errno.EINVAL)
    ofd = k.fd_file(task, fd)
    if ofd.inode.pipe is not None:
        raise syscall_error(errno.ESPIPE)
    return ofd


def sys_pread(k: Kernel, task: Task, fd: int, count: int, offset: int) -> bytes:
    """Implements pread(2): the file position does not move."""
    _positional(k, task, fd, offset)
    ofd = _readable(k, task, fd)
    _access_ok(count)
    return vfs_read(k.pagecache, ofd, count, offset)


def sys_pwrite(
    k: Kernel, task: Task, fd: int, data: bytes | bytearray | memoryview, offset: int
) -> int:
    """Implements pwrite(2); with O_APPEND Linux appends whatever the offset."""
    _positional(k, task, fd, offset)
    return vfs_write(k.pagecache, _writable(k, task, fd), data, offset)


def sys_lseek(k: Kernel, task: Task, fd: int, offset: int, whence: int) -> int:
    """Implements lseek(2) with SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE.

    ksys_lseek refuses a whence above SEEK_MAX (EINVAL) before the file's own
    llseek runs (a pipe's ESPIPE).  SEEK_DATA and SEEK_HOLE follow ext4
    (iomap_seek_data/iomap_seek_hole): an offset outside ``[0, size)`` is ENXIO,
    and the holes are the pages that have no data on disk and no dirty page in
    the page cache (delayed allocation counts as data).
    """
    ofd = k.fd_file(task, fd)
    if not 0 <= whence <= SEEK_HOLE:
        raise syscall_error(errno.EINVAL)
    return vfs_llseek(ofd, offset, whence)


def sys_ftruncate(k: Kernel, task: Task, fd: int, length: int) -> None:
    """Implements ftruncate(2); shrinking a mapped file makes the cut pages SIGBUS."""
    if length < 0:
        raise syscall_error(errno.EINVAL)
    ofd = k.fd_file(task, fd)
    if not ofd.inode.is_file or not ofd.writable:
        raise syscall_error(errno.EINVAL)
    if length > S_MAXBYTES:  # inode_newsize_ok
        raise syscall_error(errno.EFBIG)
    fs_open.do_truncate(k.fs, ofd.inode, length)


def sys_fsync(k: Kernel, task: Task, fd: int) -> None:
    """Implements fsync(2): every dirty page of the file reaches the disk."""
    ofd = k.fd_file(task, fd)
    if ofd.inode.kind in (InodeKind.FIFO, InodeKind.CHARDEV):
        raise syscall_error(errno.EINVAL)
    if ofd.inode.is_regular:
        k.pagecache.writeback(ofd.inode)


def sys_unlink(k: Kernel, task: Task, path: str) -> None:
    """Implements unlink(2); an open or mapped file lives on, '(deleted)'."""
    fs_open.unlink(k.fs, path)


def sys_pipe(k: Kernel, task: Task) -> tuple[int, int]:
    """Implements pipe(2): returns (read end, write end)."""
    inode = fs_open.new_pipe(k.fs)
    rfd = k.install_fd(task, OpenFile(inode, OpenFlag.RDONLY, inode.name), False)
    try:
        wfd = k.install_fd(task, OpenFile(inode, OpenFlag.WRONLY, inode.name), False)
    except OSError:
        sys_close(k, task, rfd)
        raise
    return rfd, wfd


def sys_chmod(k: Kernel, task: Task, path: str, mode: int) -> None:
    """Implements chmod(2)."""
    fs_open.chmod(k.fs, path, mode)


def sys_fstat(k: Kernel, task: Task, fd: int) -> StatResult:
    """Implements fstat(2)."""
    return stat_inode(k.fd_file(task, fd).inode)


def sys_stat(k: Kernel, path: str) -> StatResult:
    """Implements stat(2) of ``path`` (the machine has no symbolic links to follow)."""
    return stat_inode(k.fs.lookup(path))


def stat_inode(inode: Inode) -> StatResult:
    """What stat(2) and fstat(2) report of ``inode``."""
    return StatResult(
        st_mode=inode.st_mode,
        st_ino=inode.ino,
        st_dev=inode.dev,
        st_nlink=inode.nlink,
        st_size=inode.size,  # 0 for a pipe, whatever it holds (pipefs)
        st_blocks=inode.disk.allocated_pages * (PAGE_SIZE // 512),
        st_atime_ns=inode.atime_ns,
        st_mtime_ns=inode.mtime_ns,
        st_ctime_ns=inode.ctime_ns,
    )
