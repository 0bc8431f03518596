"""mremap(2), madvise(2), mincore(2) and the memory-locking calls, through syscall(2).

As in :mod:`mmapsim.host.libc`, the kernel itself sees the arguments and
chooses the errno; a failure raises ``OSError(errno, strerror)``.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Final

from mmapsim.host.libc import _call

SYS_MREMAP: Final = 25
SYS_MINCORE: Final = 27
SYS_MADVISE: Final = 28
SYS_MLOCK: Final = 149
SYS_MUNLOCK: Final = 150
SYS_MLOCKALL: Final = 151
SYS_MUNLOCKALL: Final = 152
SYS_MLOCK2: Final = 325

#: mincore's vector is filled this many pages at a time, from one buffer made
#: once, so that asking about a large range never makes a mapping of its own.
MINCORE_CHUNK: Final = 16384
_vec = ctypes.create_string_buffer(MINCORE_CHUNK)


def mremap(addr: int, old_len: int, new_len: int, flags: int, new_addr: int) -> int:
    """mremap(2): the new address."""
    return _call(SYS_MREMAP, addr, old_len, new_len, flags, new_addr)


def madvise(addr: int, length: int, advice: int) -> None:
    """madvise(2)."""
    _call(SYS_MADVISE, addr, length, advice)


def mlock(addr: int, length: int) -> None:
    """mlock(2)."""
    _call(SYS_MLOCK, addr, length)


def mlock2(addr: int, length: int, flags: int) -> None:
    """mlock2(2)."""
    _call(SYS_MLOCK2, addr, length, flags)


def munlock(addr: int, length: int) -> None:
    """munlock(2)."""
    _call(SYS_MUNLOCK, addr, length)


def mlockall(flags: int) -> None:
    """mlockall(2)."""
    _call(SYS_MLOCKALL, flags)


def munlockall() -> None:
    """munlockall(2)."""
    _call(SYS_MUNLOCKALL)


def mincore(addr: int, length: int, user_span: int) -> bytes:
    """mincore(2) of ``[addr, addr + length)``: one byte per page.

    The kernel's own checks come first (EINVAL for an unaligned ``addr``, ENOMEM
    for a range beyond ``user_span``, the end of user space); then the range is
    asked about in chunks of MINCORE_CHUNK pages, each a real mincore(2) call
    (ENOMEM at the first page in no VMA).
    """
    if addr & 0xFFF:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    if addr + length > user_span:
        raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))
    pages = (length + 0xFFF) >> 12
    out = bytearray()
    va = addr
    while pages > 0:
        n = min(pages, MINCORE_CHUNK)
        _call(SYS_MINCORE, va, n << 12, ctypes.addressof(_vec))
        out += _vec.raw[:n]
        va, pages = va + (n << 12), pages - n
    return bytes(out)
