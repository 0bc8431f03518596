"""The file system calls: open, close, read, write, pread, pwrite, lseek,
ftruncate, fsync, unlink, pipe, chmod, fstat.

POSIX semantics as Linux implements them, through the page cache: a
``write()`` is visible at once to every shared mapping of the file, and a store
through a shared mapping at once to ``read()``.  Processes run as root: read
and write permission is always granted.
"""

from __future__ import annotations

import errno
import posixpath
from dataclasses import dataclass

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE, OpenFlag
from mmapsim.errors import syscall_error
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import S_MAXBYTES, Inode, InodeKind
from mmapsim.fs.namespace import normalize
from mmapsim.fs.pipe import Pipe
from mmapsim.kernel import Kernel, Task
from mmapsim.mm.memlayout import TASK_SIZE

UMASK = 0o022
MAX_RW_COUNT = 0x7FFFF000
MAX_SSIZE = 2**63 - 1
SEEK_DATA, SEEK_HOLE = 3, 4


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
    inode = _open_inode(k, path, oflags, mode)
    acc = oflags & OpenFlag.ACCMODE
    writes = acc != OpenFlag.RDONLY or oflags & (OpenFlag.CREAT | OpenFlag.TRUNC)
    if inode.kind is InodeKind.DIRECTORY and writes:  # may_open: MAY_WRITE on a directory
        raise syscall_error(errno.EISDIR)
    if oflags & OpenFlag.DIRECTORY and inode.kind is not InodeKind.DIRECTORY:
        raise syscall_error(errno.ENOTDIR)
    if oflags & OpenFlag.TRUNC and inode.is_file:
        k.pagecache.resize(inode, 0)
        inode.touch(k.clock.now_ns())
    ofd = OpenFile(inode, oflags, inode.name)
    return k.install_fd(task, ofd, bool(oflags & OpenFlag.CLOEXEC))


def _open_inode(k: Kernel, path: str, flags: OpenFlag, mode: int) -> Inode:
    if flags & OpenFlag.CREAT and len(path) > 1 and path.endswith("/"):
        # open_last_lookups: O_CREAT on a name with a trailing slash is EISDIR
        # once the parent is found, whatever the name is
        k.fs.lookup(posixpath.dirname(normalize(path)).rstrip("/") + "/")
        raise syscall_error(errno.EISDIR)
    try:
        inode = k.fs.lookup(path)
    except OSError as e:
        if e.errno != errno.ENOENT or not flags & OpenFlag.CREAT:
            raise
        return k.fs.create(path, mode & ~UMASK & 0o7777)
    if flags & OpenFlag.CREAT and flags & OpenFlag.EXCL:
        raise syscall_error(errno.EEXIST)
    return inode


def sys_close(k: Kernel, task: Task, fd: int) -> None:
    """Implements close(2): the fd goes; mappings of the file stay."""
    entry = task.fds.entries.pop(fd, None)
    if entry is None:
        raise syscall_error(errno.EBADF)
    k.drop_fd(entry.file)


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


def _verify_area(ofd: OpenFile, pos: int, count: int) -> None:
    """rw_verify_area: the range ``[pos, pos + count)`` must fit in an off_t."""
    if count > MAX_SSIZE:
        raise syscall_error(errno.EINVAL)
    if ofd.inode.pipe is None and pos + count > MAX_SSIZE:
        raise syscall_error(errno.EINVAL)


def _read_at(k: Kernel, ofd: OpenFile, count: int, offset: int) -> bytes:
    inode = ofd.inode
    _access_ok(count)
    _verify_area(ofd, offset, count)
    count = min(count, MAX_RW_COUNT)
    if inode.kind is InodeKind.DIRECTORY:
        raise syscall_error(errno.EISDIR)
    if inode.pipe is not None:
        return inode.pipe.read(count)
    if inode.kind is InodeKind.CHARDEV:
        return bytes(count) if inode.name == "/dev/zero" else b""
    if offset >= inode.size:
        return b""
    return k.pagecache.read(inode, offset, count)


def _write_at(k: Kernel, ofd: OpenFile, data: bytes | bytearray | memoryview, offset: int) -> int:
    inode = ofd.inode
    _verify_area(ofd, offset, len(data))
    data = data[:MAX_RW_COUNT]
    if inode.pipe is not None:
        return inode.pipe.write(data)
    if inode.kind is InodeKind.CHARDEV:
        return len(data)
    if ofd.append:
        offset = inode.size
        _verify_area(ofd, offset, len(data))
    if data and offset >= S_MAXBYTES:  # generic_write_check_limits
        raise syscall_error(errno.EFBIG)
    return k.pagecache.write(inode, offset, bytes(data[: S_MAXBYTES - offset]))


def sys_read(k: Kernel, task: Task, fd: int, count: int) -> bytes:
    """Implements read(2) at the file position, which advances."""
    ofd = _readable(k, task, fd)
    data = _read_at(k, ofd, count, ofd.pos)
    if ofd.inode.is_file:
        ofd.pos += len(data)
    return data


def sys_write(k: Kernel, task: Task, fd: int, data: bytes | bytearray | memoryview) -> int:
    """Implements write(2) at the file position (at the end with O_APPEND)."""
    ofd = _writable(k, task, fd)
    n = _write_at(k, ofd, data, ofd.pos)
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
    return _read_at(k, _readable(k, task, fd), count, offset)


def sys_pwrite(
    k: Kernel, task: Task, fd: int, data: bytes | bytearray | memoryview, offset: int
) -> int:
    """Implements pwrite(2); with O_APPEND Linux appends whatever the offset."""
    _positional(k, task, fd, offset)
    return _write_at(k, _writable(k, task, fd), data, offset)


def sys_lseek(k: Kernel, task: Task, fd: int, offset: int, whence: int) -> int:
    """Implements lseek(2) with SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE.

    ksys_lseek refuses a whence above SEEK_MAX (EINVAL) before the file's own
    llseek runs (a pipe's ESPIPE).  SEEK_DATA and SEEK_HOLE follow ext4
    (iomap_seek_data/iomap_seek_hole): an offset outside ``[0, size)`` is ENXIO,
    and the holes are the pages that have no data on disk and no dirty page in
    the page cache (delayed allocation counts as data).
    """
    ofd = k.fd_file(task, fd)
    inode = ofd.inode
    if not 0 <= whence <= SEEK_HOLE:
        raise syscall_error(errno.EINVAL)
    if inode.pipe is not None:
        raise syscall_error(errno.ESPIPE)
    if inode.kind is InodeKind.CHARDEV:
        ofd.pos = 0
        return 0
    if whence in (SEEK_DATA, SEEK_HOLE):
        if offset < 0 or offset >= inode.size:
            raise syscall_error(errno.ENXIO)
        new = _seek_data(inode, offset) if whence == SEEK_DATA else _seek_hole(inode, offset)
    else:
        new = (0, ofd.pos, inode.size)[whence] + offset
    if new < 0 or new > S_MAXBYTES:
        raise syscall_error(errno.EINVAL)
    ofd.pos = new
    return new


def _has_data(inode: Inode, pgoff: int) -> bool:
    return pgoff in inode.disk.pages or pgoff in inode.dirty


def _seek_data(inode: Inode, offset: int) -> int:
    """The first byte at or after ``offset`` in a page with data (ENXIO: none)."""
    last = (inode.size - 1) >> PAGE_SHIFT
    pages = [p for p in (*inode.disk.pages, *inode.dirty) if offset >> PAGE_SHIFT <= p <= last]
    if not pages:
        raise syscall_error(errno.ENXIO)
    return max(offset, min(pages) << PAGE_SHIFT)


def _seek_hole(inode: Inode, offset: int) -> int:
    """The first byte at or after ``offset`` in a hole, or the end of the file."""
    pgoff = offset >> PAGE_SHIFT
    if not _has_data(inode, pgoff):
        return offset
    while (pgoff + 1) << PAGE_SHIFT < inode.size and _has_data(inode, pgoff + 1):
        pgoff += 1
    return min(inode.size, (pgoff + 1) << PAGE_SHIFT)


def sys_ftruncate(k: Kernel, task: Task, fd: int, length: int) -> None:
    """Implements ftruncate(2); shrinking a mapped file makes the cut pages SIGBUS."""
    if length < 0:
        raise syscall_error(errno.EINVAL)
    ofd = k.fd_file(task, fd)
    if not ofd.inode.is_file or not ofd.writable:
        raise syscall_error(errno.EINVAL)
    if length > S_MAXBYTES:  # inode_newsize_ok
        raise syscall_error(errno.EFBIG)
    k.pagecache.resize(ofd.inode, length)
    ofd.inode.touch(k.clock.now_ns())


def sys_fsync(k: Kernel, task: Task, fd: int) -> None:
    """Implements fsync(2): every dirty page of the file reaches the disk."""
    ofd = k.fd_file(task, fd)
    if ofd.inode.kind in (InodeKind.FIFO, InodeKind.CHARDEV):
        raise syscall_error(errno.EINVAL)
    if ofd.inode.is_regular:
        k.pagecache.writeback(ofd.inode)


def sys_unlink(k: Kernel, task: Task, path: str) -> None:
    """Implements unlink(2); an open or mapped file lives on, '(deleted)'."""
    inode = k.fs.unlink(path)
    if inode.unreachable:
        k.pagecache.release(inode)


def sys_pipe(k: Kernel, task: Task) -> tuple[int, int]:
    """Implements pipe(2): returns (read end, write end)."""
    inode = k.fs.new_inode(InodeKind.FIFO, 0o600)
    inode.name = f"pipe:[{inode.ino}]"
    inode.nlink = 1  # its one link is in pipefs, which has no names
    inode.pipe = Pipe()
    rfd = k.install_fd(task, OpenFile(inode, OpenFlag.RDONLY, inode.name), False)
    try:
        wfd = k.install_fd(task, OpenFile(inode, OpenFlag.WRONLY, inode.name), False)
    except OSError:
        sys_close(k, task, rfd)
        raise
    return rfd, wfd


def sys_chmod(k: Kernel, task: Task, path: str, mode: int) -> None:
    """Implements chmod(2)."""
    inode = k.fs.lookup(path)
    inode.mode = mode & 0o7777
    inode.ctime_ns = k.clock.now_ns()


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
