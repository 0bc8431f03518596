"""The file calls of a worker: open(2), read(2), write(2) and friends, on the real kernel.

A read is made in chunks of READ_CHUNK bytes, so that a huge count costs no
memory of the worker before the kernel has said what it gives; the checks that
the chunks would hide from the kernel (``_check_count``) are made here.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Final

from mmapsim.constants import O_CLOEXEC
from mmapsim.host import libc
from mmapsim.host.boundary import USER_SPAN, HostRefused

MAX_RW_COUNT: Final = 0x7FFFF000
READ_CHUNK: Final = 1 << 20
LLONG_MAX: Final = 2**63 - 1


class FileOps:
    """open, close, read, write, pread, pwrite, lseek, ftruncate, fsync, fstat,
    unlink, chmod and pipe, each on the worker's own descriptors."""

    def _fd(self, fd: int) -> int:
        raise NotImplementedError  # the worker's: refuses its channel's descriptor

    def op_open(self, path: str, flags: int, mode: int) -> int:
        fd = os.open(path, flags, mode)
        if not flags & O_CLOEXEC:  # Python adds O_CLOEXEC; open(2) does not
            os.set_inheritable(fd, True)
        return fd

    def op_close(self, fd: int) -> None:
        os.close(self._fd(fd))

    def op_read(self, fd: int, n: int, cap: int) -> bytes:
        """read(2) into a buffer of ``n`` bytes, in chunks (see ``_check_count``).

        At most ``cap`` bytes (the machine's max_io_bytes) come back: a read
        that would give more is refused once ``cap`` bytes were read.
        """
        fd = self._fd(fd)
        if n > READ_CHUNK:
            _check_count(fd, n, None)
        n = _capped(n, cap)
        if n <= READ_CHUNK or not _is_seekable_data(fd):
            return _within(os.read(fd, min(n, READ_CHUNK)), cap)
        chunks = []
        while n > 0:
            chunk = os.read(fd, min(n, READ_CHUNK))
            chunks.append(chunk)
            n -= len(chunk)
            if len(chunk) < READ_CHUNK:
                break
        return _within(b"".join(chunks), cap)

    def op_write(self, fd: int, data: bytes) -> int:
        return os.write(self._fd(fd), data)

    def op_pread(self, fd: int, n: int, offset: int, cap: int) -> bytes:
        """pread(2) into a buffer of ``n`` bytes, in chunks (see ``_check_count``, ``op_read``)."""
        fd = self._fd(fd)
        if n > READ_CHUNK:
            _check_count(fd, n, offset)
        n = _capped(n, cap)
        chunks = []
        while True:
            chunk = os.pread(fd, min(n, READ_CHUNK), offset)
            chunks.append(chunk)
            n, offset = n - len(chunk), offset + len(chunk)
            if n <= 0 or len(chunk) < READ_CHUNK:
                return _within(b"".join(chunks), cap)

    def op_pwrite(self, fd: int, data: bytes, offset: int) -> int:
        return os.pwrite(self._fd(fd), data, offset)

    def op_lseek(self, fd: int, offset: int, whence: int) -> int:
        return os.lseek(self._fd(fd), offset, whence)

    def op_ftruncate(self, fd: int, length: int) -> None:
        os.ftruncate(self._fd(fd), length)

    def op_fsync(self, fd: int) -> None:
        fd = self._fd(fd)
        if fd < 0:  # os.fsync raises ValueError for these; fsync(2) says EBADF
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        os.fsync(fd)

    def op_fstat(self, fd: int) -> os.stat_result:
        return os.fstat(self._fd(fd))

    def op_unlink(self, path: str) -> None:
        os.unlink(path)

    def op_chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def op_pipe(self) -> tuple[int, int]:
        """pipe2(O_NONBLOCK): a call never blocks the one-call-at-a-time controller."""
        rfd, wfd = os.pipe2(os.O_NONBLOCK)
        os.set_inheritable(rfd, True)
        os.set_inheritable(wfd, True)
        return rfd, wfd


def _check_count(fd: int, count: int, pos: int | None) -> None:
    """What the kernel says of a read count that the chunks would not show it.

    A program's buffer of ``count`` bytes is implicit here.  No buffer can reach
    past user space: then the real kernel is asked with a scratch buffer, and it
    fails before copying (access_ok gives EFAULT).  Below that, rw_verify_area
    rejects a range whose end passes LLONG_MAX with EINVAL; the chunks read less
    at a time, so that one check is made here, from the file's real position.
    """
    if count >= USER_SPAN:
        libc.refuse_read(fd, count, pos)
    if pos is None:
        try:
            pos = os.lseek(fd, 0, os.SEEK_CUR)
        except OSError:  # a pipe or socket has no position, and no such check
            return
    if pos >= 0 and pos + count > LLONG_MAX:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))


def _capped(n: int, cap: int) -> int:
    """The count to read: the kernel's MAX_RW_COUNT, and one byte past ``cap`` to see more."""
    return min(n, MAX_RW_COUNT, cap + 1)


def _within(data: bytes, cap: int) -> bytes:
    """``data``, unless it passes the per-call limit ``cap``."""
    if len(data) > cap:
        raise HostRefused(
            f"a read of more than {cap} bytes refused: one call of this HostMachine moves "
            "at most that many (HostMachine(max_io_bytes=...))"
        )
    return data


def _is_seekable_data(fd: int) -> bool:
    """True for regular files and devices, whose reads fill the whole count."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))
