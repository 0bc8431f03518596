"""HostProcess's mremap, madvise, mincore and memory-locking calls (API.md).

A mixin of :class:`mmapsim.host.process.HostProcess`.  Arguments are decoded
here, in the controller, before anything reaches the worker, and every range
passes :meth:`MemoryCalls._check_boundary` first: the place where the
program's memory boundary refuses a range that would touch the worker's own
memory.
"""

from __future__ import annotations

import errno
import os
from typing import Final

from mmapsim import constants as c
from mmapsim import cvalues

#: Advices that would poison or offline a real page of this computer's RAM:
#: refused with EPERM, as for a process without CAP_SYS_ADMIN (the simulator agrees).
MEMORY_FAILURE: Final = frozenset({c.MADV_HWPOISON, c.MADV_SOFT_OFFLINE})


class MemoryCalls:
    """mremap(2), madvise(2), mincore(2), mlock(2) and friends, on the real kernel."""

    def _syscall(self, op: str, *args: object) -> object:  # pragma: no cover - HostProcess's
        raise NotImplementedError

    def _check_boundary(self, op: str, addr: int, length: int) -> None:
        """The program's memory boundary: ``[addr, addr + length)`` must be the
        program's own pages (a range the kernel refuses before touching
        anything may pass).  HostProcess routes every range through here."""

    def mremap(
        self, old_addr: int, old_size: int, new_size: int, flags: int = 0, new_addr: int = 0
    ) -> int:
        """Implements mremap(2) on the real kernel; returns the new address."""
        addr = cvalues.address("old_addr", old_addr)
        old_len, new_len = cvalues.u64("old_size", old_size), cvalues.u64("new_size", new_size)
        flags, new = cvalues.cint("flags", flags), cvalues.address("new_addr", new_addr)
        self._check_boundary("mremap", addr, max(old_len, new_len))
        if flags & c.MREMAP_FIXED:
            self._check_boundary("mremap-fixed", new, new_len)
        result = self._syscall("mremap", addr, old_len, new_len, flags, new)
        assert isinstance(result, int)
        return result

    def madvise(self, addr: int, length: int, advice: int) -> None:
        """Implements madvise(2) on the real kernel (never MADV_HWPOISON: EPERM)."""
        addr, length = cvalues.address("addr", addr), cvalues.u64("length", length)
        advice = cvalues.cint("advice", advice)
        if advice in MEMORY_FAILURE:
            _refuse_memory_failure(addr, length)
        self._check_boundary("madvise", addr, length)
        self._syscall("madvise", addr, length, advice)

    def mincore(self, addr: int, length: int) -> bytes:
        """Implements mincore(2) on the real kernel: one byte per page."""
        addr, length = cvalues.address("addr", addr), cvalues.u64("length", length)
        result = self._syscall("mincore", addr, length)
        assert isinstance(result, bytes)
        return result

    def mlock(self, addr: int, length: int) -> None:
        """Implements mlock(2) on the real kernel."""
        addr, length = cvalues.address("addr", addr), cvalues.u64("length", length)
        self._check_boundary("mlock", addr, length)
        self._syscall("mlock", addr, length)

    def mlock2(self, addr: int, length: int, flags: int) -> None:
        """Implements mlock2(2) on the real kernel."""
        addr, length = cvalues.address("addr", addr), cvalues.u64("length", length)
        flags = cvalues.cint("flags", flags)
        self._check_boundary("mlock2", addr, length)
        self._syscall("mlock2", addr, length, flags)

    def munlock(self, addr: int, length: int) -> None:
        """Implements munlock(2) on the real kernel."""
        addr, length = cvalues.address("addr", addr), cvalues.u64("length", length)
        self._check_boundary("munlock", addr, length)
        self._syscall("munlock", addr, length)

    def mlockall(self, flags: int) -> None:
        """Implements mlockall(2) on the real kernel (the worker's own memory is
        locked too, which changes nothing it relies on)."""
        self._syscall("mlockall", cvalues.cint("flags", flags))

    def munlockall(self) -> None:
        """Implements munlockall(2) on the real kernel."""
        self._syscall("munlockall")


def _refuse_memory_failure(addr: int, length: int) -> None:
    """madvise's checks before CAP_SYS_ADMIN's: EINVAL for an unaligned or
    wrapping range, nothing for an empty one, then EPERM."""
    aligned = ((length + 0xFFF) & ~0xFFF) & cvalues.U64_MAX
    if addr & 0xFFF or (length and not aligned) or addr + aligned > cvalues.U64_MAX:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    if aligned:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))
