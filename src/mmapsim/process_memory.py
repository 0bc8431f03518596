"""API.md's mremap, madvise, mincore and the memory-locking calls on the simulator.

A mixin of :class:`mmapsim.process.Process`: each method decodes its Python
arguments into the C types of the system call (:mod:`mmapsim.abi`) and makes
one system call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from mmapsim import abi
from mmapsim.contract import MemoryAPI
from mmapsim.syscalls import madvise, memlock, mremap

T = TypeVar("T")


class MemoryCalls:
    """mremap(2), madvise(2), mincore(2), mlock(2) and friends, for a Process."""

    def _call(self, fn: Callable[..., T], *a: Any) -> T:  # pragma: no cover - Process's
        raise NotImplementedError

    def mremap(
        self, old_addr: int, old_size: int, new_size: int, flags: int = 0, new_addr: int = 0
    ) -> int:
        """mremap(2): grow, shrink or move a mapping; returns the new address."""
        args = abi.decode("mremap", old_addr, old_size, new_size, flags, new_addr)
        return self._call(mremap.sys_mremap, *args)

    def madvise(self, addr: int, length: int, advice: int) -> None:
        """madvise(2)."""
        self._call(madvise.sys_madvise, *abi.decode("madvise", addr, length, advice))

    def mincore(self, addr: int, length: int) -> bytes:
        """mincore(2): one byte per page, bit 0 set where the page is resident."""
        return self._call(memlock.sys_mincore, *abi.decode("mincore", addr, length))

    def mlock(self, addr: int, length: int) -> None:
        """mlock(2)."""
        self._call(memlock.sys_mlock, *abi.decode("mlock", addr, length))

    def mlock2(self, addr: int, length: int, flags: int) -> None:
        """mlock2(2)."""
        self._call(memlock.sys_mlock2, *abi.decode("mlock2", addr, length, flags))

    def munlock(self, addr: int, length: int) -> None:
        """munlock(2)."""
        self._call(memlock.sys_munlock, *abi.decode("munlock", addr, length))

    def mlockall(self, flags: int) -> None:
        """mlockall(2)."""
        self._call(memlock.sys_mlockall, *abi.decode("mlockall", flags))

    def munlockall(self) -> None:
        """munlockall(2)."""
        self._call(memlock.sys_munlockall)


#: API.md's memory calls, checked by mypy (mmapsim.contract).
_contract: type[MemoryAPI] = MemoryCalls
