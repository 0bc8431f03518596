"""read, write and lseek on an open file description (Linux's fs/read_write.c).

Through the page cache: a ``write()`` is visible at once to every shared
mapping of the file, and a store through a shared mapping at once to
``read()``.  A pipe reads and writes its buffer; ``/dev/zero`` reads zeros and
``/dev/null`` nothing, and both swallow writes.  The file position is the
system call's (``ksys_read`` keeps it); these take an explicit offset.
"""

from __future__ import annotations

import errno

from mmapsim.constants import PAGE_SHIFT
from mmapsim.errors import syscall_error
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import S_MAXBYTES, Inode, InodeKind
from mmapsim.fs.pagecache import PageCache

#: The most one read or write moves (``MAX_RW_COUNT``: INT_MAX rounded down to a page).
MAX_RW_COUNT = 0x7FFFF000
MAX_SSIZE = 2**63 - 1
SEEK_DATA, SEEK_HOLE = 3, 4


def verify_area(ofd: OpenFile, pos: int, count: int) -> None:
    """rw_verify_area: the range ``[pos, pos + count)`` must fit in an off_t (EINVAL)."""
    if count > MAX_SSIZE:
        raise syscall_error(errno.EINVAL)
    if ofd.inode.pipe is None and pos + count > MAX_SSIZE:
        raise syscall_error(errno.EINVAL)


def vfs_read(pagecache: PageCache, ofd: OpenFile, count: int, offset: int) -> bytes:
    """vfs_read after its mode check: up to ``count`` bytes at ``offset``.

    EINVAL for a range beyond an off_t, EISDIR for a directory.

    Preconditions: ``ofd`` is open for reading.
    """
    inode = ofd.inode
    verify_area(ofd, offset, count)
    count = min(count, MAX_RW_COUNT)
    if inode.kind is InodeKind.DIRECTORY:
        raise syscall_error(errno.EISDIR)
    if inode.pipe is not None:
        return inode.pipe.read(count)
    if inode.kind is InodeKind.CHARDEV:
        return bytes(count) if inode.name == "/dev/zero" else b""
    if offset >= inode.size:
        return b""
    return pagecache.read(inode, offset, count)


def vfs_write(
    pagecache: PageCache, ofd: OpenFile, data: bytes | bytearray | memoryview, offset: int
) -> int:
    """vfs_write after its mode check: write ``data`` at ``offset`` (the end with
    O_APPEND); returns the bytes written.

    EINVAL for a range beyond an off_t; EFBIG at or past the file system's
    largest file (``generic_write_check_limits``), where a write stops short.

    Preconditions: ``ofd`` is open for writing.
    """
    inode = ofd.inode
    verify_area(ofd, offset, len(data))
    data = data[:MAX_RW_COUNT]
    if inode.pipe is not None:
        return inode.pipe.write(data)
    if inode.kind is InodeKind.CHARDEV:
        return len(data)
    if ofd.append:
        offset = inode.size
        verify_area(ofd, offset, len(data))
    if data and offset >= S_MAXBYTES:
        raise syscall_error(errno.EFBIG)
    return pagecache.write(inode, offset, bytes(data[: S_MAXBYTES - offset]))


def vfs_llseek(ofd: OpenFile, offset: int, whence: int) -> int:
    """The file's llseek: move the position; returns it.

    SEEK_DATA and SEEK_HOLE follow ext4 (iomap_seek_data/iomap_seek_hole): an
    offset outside ``[0, size)`` is ENXIO, and the holes are the pages that
    have no data on disk and no dirty page in the page cache (delayed
    allocation counts as data).  A pipe is ESPIPE; a device stays at 0.

    Preconditions: ``whence`` is at most SEEK_HOLE (ksys_lseek's check).
    """
    inode = ofd.inode
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
