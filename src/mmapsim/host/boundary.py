"""The program's memory boundary: which pages of a worker a call may touch.

A HostMachine process is a real process whose address space holds two owners:

* the **program**: every page it made through the contract (``mmap``, and any
  later call that makes pages, such as ``mremap`` or ``shmat``), inherited by
  ``fork``, and nothing of the old image after ``execve``;
* the **host worker**: the Python interpreter serving the calls, its libraries,
  heaps, stacks, the fence (see ``fence``) and its bookkeeping pages.

:class:`ProgramPages` is the controller's record of the first; the second is
every other page that ``/proc/<pid>/maps`` shows.  Nothing the program may do
can reach a page of the worker: **every host call that reads, writes,
protects, unmaps, syncs, advises, locks, remaps, queries or maps with
MAP_FIXED a range of addresses must call :func:`guard` first**, in the
controller, before the request is sent to the worker::

    verdict = boundary.guard(pid, pages, Op.PROTECT, addr, length)
    # HostRefused was raised if the call would touch a page of the worker
    send the call for verdict.length bytes (usually ``length`` itself)
    if verdict.then_enomem: raise ENOMEM (the program alone stops at a hole there)

and update ``pages`` with what the kernel did (``add`` for new pages,
``remove`` for pages gone, ``move`` for mremap, ``clear`` after execve, and
:func:`mmapsim.host.growth.adopt_growth` after a load or a store that reached below one of the
program's ``MAP_GROWSDOWN`` mappings, which the kernel grew there).

The verdict follows one rule: *the answer is the one Linux gives the program
alone*, as if the worker's pages were holes, and a call whose kernel
execution would touch a worker page is refused with :class:`HostRefused`.

* A range of the program's pages, all mapped, goes to the kernel unchanged;
  so do arguments that the kernel rejects before looking at any page (a
  misaligned address, a zero or overflowing length, a range past the user
  address space for munmap).
* The worker may map memory of its own (a malloc, an arena) into a hole of the
  range between this check and the call: so a call over a hole never leaves
  the hole to the kernel's judgement.  A load or a store carries the first
  page that is not the program's (``Verdict.hole``): the worker stops there and
  takes the fault the program alone would take (``worker_memory``).  A
  *protect* or a *query* is sent for the program's prefix before its first
  hole or worker page, then fails with ENOMEM, as Linux does for the program
  alone (so ``mprotect(addr, 2**63, ...)`` is ENOMEM, as on the simulator); so
  is a *lock* before a worker page, but over a real hole it goes unchanged
  (Linux populates nothing it locked before a hole; worker memory come there
  would be locked or unlocked, never read or changed).  An *unmap*, *sync* or
  *advise* goes on past holes: it is sent with the program's ranges in it
  (``Verdict.pieces``), the only ones the worker acts on (sync and advise then
  fail with ENOMEM, as over a hole); a MAP_FIXED mmap and shmat with
  SHM_REMAP, which unmap what their ranges hold, first have the worker hold
  the holes with mappings of its own for the call to replace
  (``worker_memory.claimed``); mremap has it check them right before the call.
* A load or a store that would reach a worker page, and any call that starts
  on one, is refused; so is a load or a store whose first hole lies just below
  the worker's ``[stack]``, where the kernel would grow the stack instead of
  faulting.  An operation that goes on past holes (munmap, msync, madvise,
  mremap, a MAP_FIXED mmap) is refused if its range holds any worker page.
  Only a MAP_FIXED_NOREPLACE mapping over one of the program's pages goes on:
  its answer is EEXIST there, and the kernel changes nothing.

:class:`HostRefused` is a ``PermissionError`` (errno EPERM) that names the first
worker address the call would have touched.  The scenario language reports it
as ``file:line:col: message`` and exit status 2.
"""

from __future__ import annotations

import bisect
import enum
import errno
import os
from dataclasses import dataclass
from typing import Final

from mmapsim.constants import PAGE_SIZE
from mmapsim.errors import HostRefused as HostRefused  # its home before errors.py
from mmapsim.host import vma_query

_MASK: Final = PAGE_SIZE - 1
_U64: Final = 1 << 64


class Op(enum.Enum):
    """What a call does to the pages of its range."""

    READ = "load"
    WRITE = "store"
    PROTECT = "mprotect"
    UNMAP = "munmap"
    SYNC = "msync"
    ADVISE = "madvise"
    LOCK = "mlock"
    QUERY = "mincore"
    REMAP = "mremap"
    MAP_FIXED = "mmap with MAP_FIXED"
    ATTACH = "shmat at a fixed address"

    @property
    def stops_at_hole(self) -> bool:
        """Whether Linux stops at the first unmapped page of the range (ENOMEM or a fault)."""
        return self in _STOPS

    @property
    def aligned(self) -> bool:
        """Whether the kernel rejects a misaligned address before touching any page."""
        return self not in (Op.READ, Op.WRITE, Op.LOCK)


_STOPS: Final = frozenset({Op.READ, Op.WRITE, Op.PROTECT, Op.LOCK, Op.QUERY})


class ProgramPages:
    """The page ranges that belong to the program: sorted, disjoint ``[start, end)``."""

    __slots__ = ("_ends", "_query", "_starts")

    def __init__(self, ranges: list[tuple[int, int]] | None = None) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._query: vma_query.VmaQuery | None = None
        for start, end in ranges or ():
            self.add(start, end - start)

    @staticmethod
    def _span(addr: int, length: int) -> tuple[int, int]:
        start = addr & ~_MASK
        return start, min(_U64, (addr + length + _MASK) & ~_MASK)

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def copy(self) -> ProgramPages:
        """The pages a fork child inherits (the same ranges)."""
        return ProgramPages(self.ranges())

    def clear(self) -> None:
        """After execve: the new image holds no page of the program (and a new mm)."""
        self._starts.clear()
        self._ends.clear()
        self.close_query()

    def vma_query(self, pid: int) -> vma_query.VmaQuery | None:
        """The open maps of process ``pid`` that ``guard`` asks (None: the kernel cannot);
        opened at a guard of the live process, so bound to its address space (``vma_query``)."""
        if not vma_query.SUPPORTED:
            return None
        query = self._query
        if query is None or query.pid != pid:
            self.close_query()
            query = self._query = vma_query.VmaQuery(pid)
        return query

    def close_query(self) -> None:
        """Close the open maps (the process ended or exec'd; the next guard reopens it)."""
        if self._query is not None:
            self._query.close()
            self._query = None

    def add(self, addr: int, length: int) -> None:
        """The pages of ``[addr, addr + length)`` are now the program's."""
        start, end = self._span(addr, length)
        if start >= end:
            return
        self.remove(start, end - start)
        i = bisect.bisect_left(self._starts, start)
        if i > 0 and self._ends[i - 1] == start:  # join the range below
            i -= 1
            start = self._starts.pop(i)
            self._ends.pop(i)
        if i < len(self._starts) and self._starts[i] == end:  # and the one above
            self._starts.pop(i)
            end = self._ends.pop(i)
        self._starts.insert(i, start)
        self._ends.insert(i, end)

    def remove(self, addr: int, length: int) -> None:
        """The pages of ``[addr, addr + length)`` are no longer the program's."""
        start, end = self._span(addr, length)
        kept: list[tuple[int, int]] = []
        for s, e in self.ranges():
            if e <= start or s >= end:
                kept.append((s, e))
                continue
            if s < start:
                kept.append((s, start))
            if e > end:
                kept.append((end, e))
        self._starts = [s for s, _ in kept]
        self._ends = [e for _, e in kept]

    def move(self, old: int, old_size: int, new: int, new_size: int) -> None:
        """mremap: the old pages go, the new ones are the program's."""
        self.remove(old, old_size)
        self.add(new, new_size)

    def keep_only(self, mapped: list[tuple[int, int]]) -> None:
        """Forget pages that are no longer mapped at all (mapped: sorted ranges)."""
        kept: list[tuple[int, int]] = []
        for s, e in self.ranges():
            i = max(0, bisect.bisect_right(mapped, (s, _U64)) - 1)
            while i < len(mapped) and mapped[i][0] < e:
                lo, hi = max(s, mapped[i][0]), min(e, mapped[i][1])
                if lo < hi:
                    if kept and kept[-1][1] == lo:
                        lo = kept.pop()[0]
                    kept.append((lo, hi))
                i += 1
        self._starts = [s for s, _ in kept]
        self._ends = [e for _, e in kept]

    def keep_mapped(self, near: list[tuple[int, int]], start: int, end: int) -> None:
        """``keep_only`` within ``[start, end)``, of which ``near`` is what is mapped."""
        va = start
        for s, e in [*near, (end, end)]:
            if s > va and self._meets(va, s):
                self.remove(va, s - va)
            va = max(va, e)

    def _meets(self, start: int, end: int) -> bool:
        """Whether any page of ``[start, end)`` is the program's."""
        i = bisect.bisect_right(self._ends, start)  # the first range that ends past start
        return i < len(self._starts) and self._starts[i] < end

    def first_gap(self, start: int, end: int) -> int | None:
        """The first address of ``[start, end)`` that is not the program's, if any."""
        va = start
        i = bisect.bisect_right(self._starts, va) - 1
        while va < end:
            if i < 0 or self._ends[i] <= va:
                return va
            va = self._ends[i]
            i += 1
            if i < len(self._starts) and self._starts[i] != va:
                return va if va < end else None
            if i >= len(self._starts):
                return va if va < end else None
        return None

    def __contains__(self, va: object) -> bool:
        if not isinstance(va, int):
            return False
        i = bisect.bisect_right(self._starts, va) - 1
        return i >= 0 and va < self._ends[i]


def mapped_ranges(pid: int) -> list[tuple[int, int]]:
    """Every ``[start, end)`` that ``/proc/<pid>/maps`` shows now, in address order."""
    return vma_query.read_maps(pid, USER_SPAN)[0]  # [vsyscall], above, is every process's


def worker_ranges(mapped: list[tuple[int, int]], pages: ProgramPages) -> list[tuple[int, int]]:
    """The mapped ranges minus the program's pages: the worker's own memory."""
    out = []
    for s, e in mapped:
        va = s
        while va < e:
            if va in pages:
                gap = pages.first_gap(va, e)
                if gap is None:
                    break
                va = gap
                continue
            i = bisect.bisect_right(pages._starts, va)
            nxt = min(e, pages._starts[i]) if i < len(pages._starts) else e
            out.append((va, nxt))
            va = nxt
    return out


def _first_in(ranges: list[tuple[int, int]], start: int, end: int) -> int | None:
    """The first address of ``[start, end)`` inside one of ``ranges``."""
    for s, e in ranges:
        if e > start and s < end:
            return max(s, start)
    return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """How to send a call: for ``length`` bytes, then ENOMEM if ``then_enomem``.

    Over a hole, ``hole`` (a load or a store: the first page not the program's)
    or ``pieces`` (the program's ranges in the range) go with the call, so that
    the worker touches nothing else whatever it maps there meanwhile."""

    length: int
    then_enomem: bool = False
    hole: int | None = None
    pieces: tuple[tuple[int, int], ...] | None = None

    def finish(self) -> None:
        """Raise the ENOMEM that the program alone gets after its prefix."""
        if self.then_enomem:
            raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))


def _user_span() -> int:
    """TASK_SIZE_MAX of x86-64: 47-bit user space, or 56-bit with five-level paging."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return (1 << (56 if " la57" in flags else 47)) - PAGE_SIZE


#: The top of user space; pages above it (``[vsyscall]``) are every process's.
USER_SPAN: Final = _user_span()


def _rejected_early(op: Op, addr: int, length: int) -> bool:
    """Whether the kernel fails these arguments before looking at a page."""
    if addr & _MASK and op.aligned:
        return True
    if length == 0:
        return True
    if addr + length + _MASK >= _U64:  # the page-rounded end overflows
        return True
    if addr + length <= USER_SPAN:  # the usual case: nothing past the top
        return False
    past_top = length > USER_SPAN or addr > USER_SPAN - length
    return op in (Op.UNMAP, Op.MAP_FIXED, Op.REMAP, Op.ATTACH) and past_top


def guard(
    pid: int,
    pages: ProgramPages,
    op: Op,
    addr: int,
    length: int,
    *,
    noreplace: bool = False,
    whole: bool = False,
) -> Verdict:
    """Decide a call over ``[addr, addr + length)`` of process ``pid`` (see the module doc).

    ``noreplace``: a MAP_FIXED_NOREPLACE mapping (or shmat without SHM_REMAP),
    which the kernel refuses with EEXIST over any mapping, changing nothing; it
    goes to the kernel when the program's own pages make that EEXIST its answer.
    ``whole``: a protect that the kernel itself ends at a hole in its own way
    (PROT_GROWSDOWN), sent unchanged over real holes.

    Raises :class:`HostRefused` if the call would touch a page of the worker;
    otherwise says how much of the range to send to the kernel.
    """
    if _rejected_early(op, addr, length):
        return Verdict(length)
    start, end = addr & ~_MASK, (addr + length + _MASK) & ~_MASK
    near, below_stack = vma_query.mapped_near(pid, pages, start, end, USER_SPAN)
    if vma_query.covers(near, start, end) and pages.first_gap(start, end) is None:
        return Verdict(length)  # all mapped, all the program's: not one page of the worker
    pages.keep_mapped(near, start, end)
    worker = worker_ranges(near, pages)
    hit = _first_in(worker, start, end)
    gap = pages.first_gap(start, end)
    if op in (Op.READ, Op.WRITE) and gap is not None and (hit is None or gap < hit):
        if below_stack(gap):
            raise HostRefused.worker_page(op, gap, pid)  # the kernel would grow the stack there
        return Verdict(length, hole=gap)  # the worker stops there (``worker_memory``)
    if gap is not None and (hit is None or gap < hit) and not whole and not noreplace:
        if op in (Op.PROTECT, Op.QUERY):  # the program's prefix, then ENOMEM
            return Verdict(gap - addr, then_enomem=True)  # aligned: gap >= addr
        if hit is None and op in (Op.UNMAP, Op.SYNC, Op.ADVISE, Op.MAP_FIXED, Op.REMAP, Op.ATTACH):
            return Verdict(length, pieces=_pieces(pages, start, end))
    if hit is None:
        return Verdict(length)
    if noreplace and _first_in(pages.ranges(), start, end) is not None:
        return Verdict(length)  # EEXIST for the program's own page: the kernel changes nothing
    if op.stops_at_hole:
        gap = pages.first_gap(start, end)
        assert gap is not None  # the worker page is not the program's
        if gap < hit:
            return Verdict(length)  # the kernel stops at a real hole first
        if gap > start and op in (Op.PROTECT, Op.LOCK, Op.QUERY):
            return Verdict(gap - addr, then_enomem=True)
    raise HostRefused.worker_page(op, hit, pid)


def _pieces(pages: ProgramPages, start: int, end: int) -> tuple[tuple[int, int], ...]:
    """The program's ranges within ``[start, end)``, cut to it, in address order."""
    return tuple((max(s, start), min(e, end)) for s, e in pages.ranges() if s < end and e > start)


def program_lines(maps: str, pages: ProgramPages) -> tuple[str, int]:
    """The lines of a maps text that hold the program's pages, and how many were left out."""
    ranges = pages.ranges()
    kept, left_out = [], 0
    for line in maps.splitlines(keepends=True):
        lo, _, hi = line.split(" ", 1)[0].partition("-")
        start, end = int(lo, 16), int(hi, 16)
        if any(s < end and start < e for s, e in ranges):
            kept.append(line)
        else:
            left_out += 1
    return "".join(kept), left_out


__all__ = ["HostRefused", "Op", "ProgramPages", "Verdict", "guard"]

