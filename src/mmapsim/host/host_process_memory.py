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
from mmapsim.constants import PAGE_SIZE
from mmapsim.contract import MemoryAPI
from mmapsim.host.boundary import Op, ProgramPages, Verdict

#: PROT_GROWSDOWN and PROT_GROWSUP: an mprotect that the kernel ends in its own way.
GROWS: Final = c.PROT_GROWSDOWN | c.PROT_GROWSUP

#: Advices that would poison or offline a real page of this computer's RAM:
#: refused with EPERM, as for a process without CAP_SYS_ADMIN (the simulator agrees).
MEMORY_FAILURE: Final = frozenset({c.MADV_HWPOISON, c.MADV_SOFT_OFFLINE})


class MemoryCalls:
    """mremap(2), madvise(2), mincore(2), mlock(2) and friends, on the real kernel."""

    def _syscall(self, op: str, *args: object) -> object:  # pragma: no cover - HostProcess's
        raise NotImplementedError

    def _guard(
        self, op: Op, addr: int, length: int, *, noreplace: bool = False, whole: bool = False
    ) -> Verdict:
        raise NotImplementedError  # pragma: no cover - HostProcess's

    pid: int

    def _holes(self, verdict: Verdict, addr: int, length: int) -> tuple[object, ...]:
        """The extra argument of a load or a store over a hole: each page that is not
        the program's that the access reaches, with whether the kernel grows one of
        the program's ``MAP_GROWSDOWN`` mappings there (``worker_memory._through``)."""
        if verdict.hole is None:
            return ()
        return (access_holes(self.pid, self.pages, verdict.hole, addr + length),)

    @property
    def pages(self) -> ProgramPages:
        raise NotImplementedError  # pragma: no cover - HostProcess's

    def mremap(
        self, old_addr: int, old_size: int, new_size: int, flags: int = 0, new_addr: int = 0
    ) -> int:
        """Implements mremap(2) on the real kernel; returns the new address."""
        args = abi.decode("mremap", old_addr, old_size, new_size, flags, new_addr)
        addr, old_len, new_len, flags, new = args
        verdict = self._guard(Op.REMAP, addr, old_len)  # a shrink unmaps its tail across holes
        holes = claims(verdict, addr, old_len)
        if flags & c.MREMAP_FIXED:
            verdict = self._guard(Op.REMAP, new, new_len)  # unmapped first, as MAP_FIXED
            holes += claims(verdict, new, new_len)
        result = self._syscall("mremap", addr, old_len, new_len, flags, new, *holes)
        assert isinstance(result, int)
        if flags & c.MREMAP_DONTUNMAP:
            self.pages.add(result, new_len)  # the old range stays the program's
        else:
            self.pages.move(addr, old_len, result, new_len)
        return result

    def madvise(self, addr: int, length: int, advice: int) -> None:
        """Implements madvise(2) on the real kernel (never MADV_HWPOISON: EPERM)."""
        addr, length, advice = abi.decode("madvise", addr, length, advice)
        verdict = self._guard(Op.ADVISE, addr, length)
        if advice in MEMORY_FAILURE:
            _refuse_memory_failure(addr, length)
        self._syscall("madvise", addr, length, advice, *_pieces(verdict))

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
        addr, length = _lock_span(*abi.decode("mlock", addr, length))
        verdict = self._guard(Op.LOCK, addr, length)
        self._syscall("mlock", addr, verdict.length)
        verdict.finish()

    def mlock2(self, addr: int, length: int, flags: int) -> None:
        """Implements mlock2(2) on the real kernel."""
        addr, length, flags = abi.decode("mlock2", addr, length, flags)
        addr, length = _lock_span(addr, length)
        verdict = self._guard(Op.LOCK, addr, length)
        self._syscall("mlock2", addr, verdict.length, flags)
        verdict.finish()

    def munlock(self, addr: int, length: int) -> None:
        """Implements munlock(2) on the real kernel."""
        addr, length = _lock_span(*abi.decode("munlock", addr, length))
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


def _pieces(verdict: Verdict) -> tuple[object, ...]:
    """The extra argument of a munmap, msync or madvise over holes (``Verdict.pieces``)."""
    return () if verdict.pieces is None else (verdict.pieces,)


def claims(verdict: Verdict, addr: int, length: int) -> tuple[tuple[int, int], ...]:
    """The holes of a range that a MAP_FIXED mmap or mremap would unmap: the worker
    holds them first (``worker_memory.claimed``).  None for a range without holes."""
    if verdict.pieces is None:
        return ()
    start, end = addr & ~(PAGE_SIZE - 1), (addr + length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    out, va = [], start
    for s, e in (*verdict.pieces, (end, end)):
        if s > va:
            out.append((va, s))
        va = max(va, e)
    return tuple(out)


def access_holes(
    pid: int, pages: ProgramPages, hole: int, end: int
) -> tuple[tuple[int, bool], ...]:
    """The pages that are not the program's that an access from below ``hole`` up to
    ``end`` reaches, from ``hole`` on: past one where the kernel grows a
    ``MAP_GROWSDOWN`` mapping of the program (the first VMA above it, whose top page
    is the program's, ``expand_downwards``) the access goes on, to the next."""
    out: list[tuple[int, bool]] = []
    vmas: list[tuple[int, int, bool]] | None = None
    gap: int | None = hole
    while gap is not None:
        above = next((s for s, _ in pages.ranges() if s > gap), None)
        grows = False
        if above is not None:
            vmas = _vmas(pid) if vmas is None else vmas
            first = next(((s, e, gd) for s, e, gd in vmas if e > gap), None)
            grows = first is not None and first[0] == above and first[2]
            grows = grows and first is not None and (first[1] - PAGE_SIZE) in pages
        out.append((gap, grows))
        if not grows or above is None:
            break
        gap = pages.first_gap(above, (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    return tuple(out)


def _vmas(pid: int) -> list[tuple[int, int, bool]]:
    """Each VMA of ``pid``: ``[start, end)`` and whether its smaps VmFlags hold ``gd``."""
    found: list[tuple[int, int, bool]] = []
    with open(f"/proc/{pid}/smaps", "rb") as smaps:
        for line in smaps:
            head = line.split(b" ", 1)[0]
            if b"-" in head and not head.endswith(b":"):
                low, high = head.split(b"-")
                found.append((int(low, 16), int(high, 16), False))
            elif head == b"VmFlags:" and found and b" gd" in line:
                found[-1] = (found[-1][0], found[-1][1], True)
    return found


def _refuse_memory_failure(addr: int, length: int) -> None:
    """madvise's checks before CAP_SYS_ADMIN's: EINVAL for an unaligned or
    wrapping range, nothing for an empty one, then EPERM."""
    aligned = ((length + 0xFFF) & ~0xFFF) & abi.U64_MAX
    if addr & 0xFFF or (length and not aligned) or addr + aligned > abi.U64_MAX:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    if aligned:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))


def hugetlb_extent(flags: int, length: int) -> int:
    """The bytes an anonymous MAP_HUGETLB mapping of ``length`` covers: the kernel
    rounds the length up to the huge page size (``ksys_mmap_pgoff``), so the
    boundary must guard, and the program owns, all of it."""
    if flags & 0x40020 != 0x40020:  # MAP_HUGETLB | MAP_ANONYMOUS
        return length
    size = {0: 1 << 21, 21: 1 << 21, 30: 1 << 30}.get((flags >> 26) & 0x3F)
    if size is None:  # no such huge page size: EINVAL before anything is touched
        return length
    return ((length + size - 1) & ~(size - 1)) % (1 << 64) or length


#: API.md's memory calls on the real kernel, checked by mypy (mmapsim.contract).
_contract: type[MemoryAPI] = MemoryCalls


def _lock_span(addr: int, length: int) -> tuple[int, int]:
    """The range mlock, mlock2 and munlock act on, as the kernel computes it
    (``len = PAGE_ALIGN(len + offset_in_page(start)); start &= PAGE_MASK``), so
    that the boundary decides the pages the kernel will lock: ``mlock(addr, 0)``
    of an address inside a page locks that page.  A range whose end wraps is
    left as it is, for the kernel's EINVAL."""
    off = addr & (PAGE_SIZE - 1)
    span = (length + off + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) & (2**64 - 1)
    start = addr - off
    if start + span > 2**64 - 1:
        return addr, length
    return start, span

