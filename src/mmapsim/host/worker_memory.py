"""The worker's side of the CPU's loads and stores, mremap, madvise, mincore and
the memory-locking calls.

A mixin of :class:`mmapsim.host.worker.Worker`: each ``op_`` is one real
system call or real CPU access in the worker (the controller has already
checked the range).  Before it touches each page, an access notes the page's
first address in the worker's fault page (``exit_status``).
"""

from __future__ import annotations

import ctypes
from typing import Final

from mmapsim.constants import PAGE_SIZE
from mmapsim.host import libc_memory
from mmapsim.host.boundary import USER_SPAN


class MemoryOps:
    """Real loads and stores, mremap(2), madvise(2), mincore(2), mlock(2) and friends."""

    word: ctypes.c_uint64  # the fault page's word (see ``exit_status.FaultPage``)

    def op_load(self, addr: int, size: int) -> bytes:
        """Read page by page, noting each page's first address before touching it."""
        if (addr & (PAGE_SIZE - 1)) + size <= PAGE_SIZE:  # within one page
            self.word.value = addr
            return _read(addr, size)
        chunks = []
        va, end, word = addr, addr + size, self.word
        while va < end:
            n = min(end, (va | (PAGE_SIZE - 1)) + 1) - va
            word.value = va
            chunks.append(_read(va, n))
            va += n
        return b"".join(chunks)

    def op_store(self, addr: int, data: bytes) -> None:
        """Write page by page, noting each page's first address before touching it."""
        src = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
        done, total, word = 0, len(data), self.word
        while done < total:
            va = addr + done
            n = min(total - done, PAGE_SIZE - (va & (PAGE_SIZE - 1)))
            word.value = va
            ctypes.memmove(va, src + done, n)
            done += n

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


def _read(va: int, n: int) -> bytes:
    """A real read of ``n`` bytes at ``va`` (string_at would not touch NULL)."""
    if va:
        return ctypes.string_at(va, n)
    buf = ctypes.create_string_buffer(n)
    ctypes.memmove(buf, va, n)
    return buf.raw


class TouchedPages:
    """The pages that the calls of one batch read or wrote without a fault.

    Such a page cannot fault again in that batch the same way, nor a written
    page on a read (x86-64 has no write-only page): nothing between the calls
    of a batch changes a mapping or a protection.  Only a call of at most
    ``SPAN_PAGES`` pages is looked up; a larger one is taken as one that could fault.
    """

    SPAN_PAGES: Final = 16

    __slots__ = ("read", "written")

    def __init__(self) -> None:
        self.read: set[int] = set()
        self.written: set[int] = set()

    @classmethod
    def _vpns(cls, args: tuple[object, ...]) -> range | None:
        addr, arg = args
        size = arg if isinstance(arg, int) else len(arg) if isinstance(arg, bytes) else -1
        if not isinstance(addr, int) or size < 0:
            return None
        if size == 0:  # touches nothing
            return range(0)
        first, last = addr >> 12, (addr + size - 1) >> 12
        return range(first, last + 1) if last - first < cls.SPAN_PAGES else None

    def cannot_fault(self, op: str, args: tuple[object, ...]) -> bool:
        """Whether the access ``op`` (``load`` or ``store``) of ``args`` only touches
        pages that earlier calls of the batch touched without a fault, as it would."""
        vpns = self._vpns(args)
        if vpns is None:
            return False
        if op == "store":
            return all(vpn in self.written for vpn in vpns)
        return all(vpn in self.read or vpn in self.written for vpn in vpns)

    def note(self, op: str, args: tuple[object, ...]) -> None:
        """The access ``op`` of ``args`` was made without a fault."""
        vpns = self._vpns(args)
        if vpns is not None:
            (self.written if op == "store" else self.read).update(vpns)
