"""The worker's side of mremap, madvise, mincore and the memory-locking calls.

A mixin of :class:`mmapsim.host.worker.Worker`: each ``op_`` is one real
system call in the worker (the controller has already checked the range).
"""

from __future__ import annotations

from mmapsim.host import libc_memory
from mmapsim.host.boundary import USER_SPAN


class MemoryOps:
    """Real mremap(2), madvise(2), mincore(2), mlock(2) and friends."""

    def op_mremap(self, addr: int, old_len: int, new_len: int, flags: int, new_addr: int) -> int:
        return libc_memory.mremap(addr, old_len, new_len, flags, new_addr)

    def op_madvise(self, addr: int, length: int, advice: int) -> None:
        libc_memory.madvise(addr, length, advice)

    def op_mincore(self, addr: int, length: int) -> bytes:
        return libc_memory.mincore(addr, length, USER_SPAN)

    def op_mlock(self, addr: int, length: int) -> None:
        libc_memory.mlock(addr, length)

    def op_mlock2(self, addr: int, length: int, flags: int) -> None:
        libc_memory.mlock2(addr, length, flags)

    def op_munlock(self, addr: int, length: int) -> None:
        libc_memory.munlock(addr, length)

    def op_mlockall(self, flags: int) -> None:
        libc_memory.mlockall(flags)

    def op_munlockall(self) -> None:
        libc_memory.munlockall()
