"""The disk under a HostMachine's file: cachestat(2), O_DIRECT reads, fsync.

Linux keeps an ``O_DIRECT`` read coherent with the page cache: before it reads
the disk it writes the range's dirty pages back (``kiocb_write_and_wait`` in
mm/filemap.c, which ext4, xfs and btrfs all reach).  So a direct read of a file
with dirty pages would first change the very disk it means to read, and return
the new bytes.  ``cachestat(2)`` (Linux 6.5) counts a file's dirty pages without
touching them:

* no page dirty or under writeback: the cache and the disk agree, and the
  ``O_DIRECT`` read returns the bytes the disk holds;
* some page dirty: the older bytes under it are only on the block device,
  which a machine may not read (it is the whole computer's disk, outside the
  machine's private root); :class:`mmapsim.errors.NotOnThisKernel` says so.

A file system that keeps files in memory only (tmpfs, ramfs) has no disk at all.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import stat

from mmapsim.errors import NotOnThisKernel

_SYS_CACHESTAT = 451  # x86-64 and every architecture of the unified table
_IN_MEMORY = {0x01021994: "tmpfs", 0x858458F6: "ramfs"}  # statfs f_type
_CHUNK = 1 << 20
_libc = ctypes.CDLL(None, use_errno=True)


def dirty_pages(fd: int) -> int:
    """Pages of the file at ``fd`` that are dirty or under writeback (cachestat(2))."""
    counts = _cachestat(fd, 0, 0)  # offset 0, length 0: to the end of the file
    return counts[1] + counts[2]


def page_states(real: str, pages: int) -> dict[int, tuple[bool, bool]]:
    """(cached, dirty) of each of the first ``pages`` pages of the file at ``real``."""
    fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        states = {}
        for pgoff in range(pages):
            cache, dirty, writeback, *_ = _cachestat(fd, pgoff * mmap.PAGESIZE, mmap.PAGESIZE)
            states[pgoff] = (cache > 0, dirty + writeback > 0)
        return states
    finally:
        os.close(fd)


def _cachestat(fd: int, offset: int, length: int) -> list[int]:
    """cachestat(2) of a range: cache, dirty, writeback, evicted, recently evicted pages."""
    span = (ctypes.c_uint64 * 2)(offset, length)
    counts = (ctypes.c_uint64 * 5)()
    if _libc.syscall(_SYS_CACHESTAT, fd, span, counts, 0) < 0:
        code = ctypes.get_errno()
        if code == errno.ENOSYS:
            raise NotOnThisKernel("reading the disk on the host needs cachestat(2), Linux 6.5")
        raise OSError(code, os.strerror(code))
    return [int(n) for n in counts]


def _file_system(fd: int) -> str | None:
    """The name of an in-memory file system holding ``fd``, or None for a disk one."""
    buf = ctypes.create_string_buffer(256)  # struct statfs; f_type is its first word
    if _libc.fstatfs(fd, buf) < 0:
        return None
    return _IN_MEMORY.get(ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF)


def read_disk(real: str, shown: str) -> bytes:
    """The bytes on the disk of the regular file at ``real`` (``shown`` in messages)."""
    fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        memory_fs = _file_system(fd)
        if memory_fs is not None:
            raise NotOnThisKernel(
                f"{shown} is on a {memory_fs}, which keeps files in memory only: it has no disk"
            )
        dirty = dirty_pages(fd)
        if dirty:
            raise NotOnThisKernel(
                f"{shown} has {dirty} dirty page{'s' if dirty > 1 else ''} in the page cache; "
                "Linux writes dirty pages back before an O_DIRECT read, and the older bytes under "
                "them are only on the block device, so the host cannot show them "
                "(the simulator can: --kernel sim)"
            )
        return _read_direct(fd, info.st_size, shown)
    finally:
        os.close(fd)


def _read_direct(fd: int, size: int, shown: str) -> bytes:
    """``size`` bytes of ``fd`` read with O_DIRECT (page-aligned buffer and offsets)."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, os.O_RDONLY | os.O_DIRECT)
    except OSError as exc:
        raise NotOnThisKernel(f"the file system of {shown} cannot read past its cache") from exc
    out = bytearray()
    with mmap.mmap(-1, _CHUNK) as buf:
        while len(out) < size:
            got = os.preadv(fd, [buf], len(out))
            if got <= 0:
                break
            out += buf[: min(got, size - len(out))]
    return bytes(out)


def sync_tree(root: str) -> int:
    """fsync every regular file under ``root`` (never following a link); dirty pages written.

    The machine's sync(2): ``sync`` itself would write back the whole computer's
    files, which are not the machine's.
    """
    written = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
            try:
                fd = os.open(os.path.join(folder, name), flags)
            except OSError:
                continue  # a link, a device without the right to open it, a fifo's race
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    written += dirty_pages(fd)
                    os.fsync(fd)
            finally:
                os.close(fd)
    return written
