"""HostProcess's mremap, madvise, mincore and memory-locking calls (API.md).

A mixin of :class:`mmapsim.host.host_process.HostProcess`.  Arguments are decoded
here, in the controller, before anything reaches the worker, and every range
passes the program's memory boundary first (:func:`mmapsim.host.boundary.guard`):
a range that would touch the worker's own memory is refused with HostRefused.
mremap then tells the boundary where the program's pages went.

mlockall and munlockall have no range: they lock (and with MCL_CURRENT fault
in) the worker's own pages too, which reads and changes none of them.
"""

from __future__ import annotations

import errno
import os
from typing import Final

from mmapsim import abi
from mmapsim import constants as c
from mmapsim.contract import MemoryAPI
from mmapsim.host.boundary import Op, ProgramPages, Verdict

#: Advices that would poison or offline a real page of this computer's RAM:
#: refused with EPERM, as for a process without CAP_SYS_ADMIN (the simulator agrees).
MEMORY_FAILURE: Final = frozenset({c.MADV_HWPOISON, c.MADV_SOFT_OFFLINE})


class MemoryCalls:
    """mremap(2), madvise(2), mincore(2), mlock(2) and friends, on the real kernel."""

    def _syscall(self, op: str, *args: object) -> object:  # pragma: no cover - HostProcess's
        raise NotImplementedError

    def _guard(self, op: Op, addr: int, length: int, *, noreplace: bool = False) -> Verdict:
        raise NotImplementedError  # pragma: no cover - HostProcess's

    @property
    def pages(self) -> ProgramPages:
        raise NotImplementedError  # pragma: no cover - HostProcess's

    def mremap(
        self, old_addr: int, old_size: int, new_size: int, flags: int = 0, new_addr: int = 0
    ) -> int:
        """Implements mremap(2) on the real kernel; returns the new address."""
        args = abi.decode("mremap", old_addr, old_size, new_size, flags, new_addr)
        addr, old_len, new_len, flags, new = args
        self._guard(Op.REMAP, addr, old_len)  # a shrink unmaps its tail across holes
        if flags & c.MREMAP_FIXED:
            self._guard(Op.REMAP, new, new_len)  # unmapped first, as MAP_FIXED
        result = self._syscall("mremap", addr, old_len, new_len, flags, new)
        assert isinstance(result, int)
        if flags & c.MREMAP_DONTUNMAP:
            self.pages.add(result, new_len)  # the old range stays the program's
        else:
            self.pages.move(addr, old_len, result, new_len)
        return result

    def madvise(self, addr: int, length: int, advice: int) -> None:
        """Implements madvise(2) on the real kernel (never MADV_HWPOISON: EPERM)."""
        addr, length, advice = abi.decode("madvise", addr, length, advice)
        self._guard(Op.ADVISE, addr, length)
        if advice in MEMORY_FAILURE:
            _refuse_memory_failure(addr, length)
        self._syscall("madvise", addr, length, advice)

    def mincore(self, addr: int, length: int) -> bytes:
        """Implements mincore(2) on the real kernel: one byte per page."""
        addr, length = abi.decode("mincore", addr, length)
        verdict = self._guard(Op.QUERY, addr, length)
        result = self._syscall("mincore", addr, verdict.length)
        assert isinstance(result, bytes)
        verdict.finish()
        return result

    def mlock(self, addr: int, length: int) -> None:
        """Implements mlock(2) on the real kernel."""
        addr, length = abi.decode("mlock", addr, length)
        verdict = self._guard(Op.LOCK, addr, length)
        self._syscall("mlock", addr, verdict.length)
        verdict.finish()

    def mlock2(self, addr: int, length: int, flags: int) -> None:
        """Implements mlock2(2) on the real kernel."""
        addr, length, flags = abi.decode("mlock2", addr, length, flags)
        verdict = self._guard(Op.LOCK, addr, length)
        self._syscall("mlock2", addr, verdict.length, flags)
        verdict.finish()

    def munlock(self, addr: int, length: int) -> None:
        """Implements munlock(2) on the real kernel."""
        addr, length = abi.decode("munlock", addr, length)
        verdict = self._guard(Op.LOCK, addr, length)
        self._syscall("munlock", addr, verdict.length)
        verdict.finish()

    def mlockall(self, flags: int) -> None:
        """Implements mlockall(2) on the real kernel (the worker's own memory is
        locked too, which changes nothing it relies on)."""
        self._syscall("mlockall", *abi.decode("mlockall", flags))

    def munlockall(self) -> None:
        """Implements munlockall(2) on the real kernel."""
        self._syscall("munlockall")


def _refuse_memory_failure(addr: int, length: int) -> None:
    """madvise's checks before CAP_SYS_ADMIN's: EINVAL for an unaligned or
    wrapping range, nothing for an empty one, then EPERM."""
    aligned = ((length + 0xFFF) & ~0xFFF) & abi.U64_MAX
    if addr & 0xFFF or (length and not aligned) or addr + aligned > abi.U64_MAX:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    if aligned:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))


#: API.md's memory calls on the real kernel, checked by mypy (mmapsim.contract).
_contract: type[MemoryAPI] = MemoryCalls
