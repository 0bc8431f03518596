"""The VMAs of a real process, asked of the kernel one at a time (PROCMAP_QUERY).

Since Linux 6.11, an ``ioctl(PROCMAP_QUERY)`` on an open ``/proc/<pid>/maps``
answers "the VMA that covers this address, or else the next one above it"
(``do_procmap_query`` in fs/proc/task_mmu.c) from the same VMA tree that the
maps text is printed from, in about 2 µs, where reading the whole text of a
worker (some 160 lines) takes hundreds.  The program's memory boundary
(:mod:`mmapsim.host.boundary`) asks it for the few VMAs near a call's range.

The open file belongs to the address space (``mm``) that the process had when
it was opened, and the kernel pins that ``mm``: a later reuse of the pid never
redirects it.  After an execve the old ``mm`` is gone and the query fails with
ESRCH (the boundary then forgets the file and opens a new one).  A kernel
without the ioctl (ENOTTY, or EINVAL for an older layout) makes
:data:`SUPPORTED` false, and the boundary reads the maps text instead.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
from collections.abc import Callable
from typing import Final, Protocol


class _Query(ctypes.Structure):
    """struct procmap_query of <linux/fs.h> (104 bytes)."""

    _fields_ = [
        ("size", ctypes.c_uint64),
        ("query_flags", ctypes.c_uint64),
        ("query_addr", ctypes.c_uint64),
        ("vma_start", ctypes.c_uint64),
        ("vma_end", ctypes.c_uint64),
        ("vma_flags", ctypes.c_uint64),
        ("vma_page_size", ctypes.c_uint64),
        ("vma_offset", ctypes.c_uint64),
        ("inode", ctypes.c_uint64),
        ("dev_major", ctypes.c_uint32),
        ("dev_minor", ctypes.c_uint32),
        ("vma_name_size", ctypes.c_uint32),
        ("build_id_size", ctypes.c_uint32),
        ("vma_name_addr", ctypes.c_uint64),
        ("build_id_addr", ctypes.c_uint64),
    ]


#: _IOWR('f', 17, struct procmap_query): direction bits 3 (read and write) at
#: bit 30, the struct's size at bit 16, the type 'f' at bit 8, the number 17.
PROCMAP_QUERY: Final = (3 << 30) | (ctypes.sizeof(_Query) << 16) | (ord("f") << 8) | 17
#: Answer the VMA covering ``query_addr``, or else the first one above it.
COVERING_OR_NEXT_VMA: Final = 0x10
#: The name of a process's main stack, as maps prints it (a file's name starts with '/').
STACK_NAME: Final = b"[stack]"
_NAME_ROOM: Final = 16  # enough for "[stack]"; a longer name comes back cut short

#: Whether this kernel answers PROCMAP_QUERY (False once it said it does not).
SUPPORTED = True


class Unanswered(Exception):
    """The kernel gave no answer for this address space (ESRCH: its mm is gone)."""


class VmaQuery:
    """An open ``/proc/<pid>/maps``, asked one VMA at a time (see the module doc)."""

    __slots__ = ("_name", "_query", "fd", "pid")

    def __init__(self, pid: int) -> None:
        self.pid, self.fd = pid, -1  # -1 until open, so that __del__ closes nothing
        self.fd = os.open(f"/proc/{pid}/maps", os.O_RDONLY | os.O_CLOEXEC)
        self._query = _Query()
        self._query.size = ctypes.sizeof(_Query)
        self._name = ctypes.create_string_buffer(_NAME_ROOM)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()

    def _ask(self, va: int, *, name: bool = False) -> bool:
        """Fill the query for the VMA covering ``va`` or the next; False if none is left."""
        global SUPPORTED  # one kernel per run: learnt once
        q = self._query
        q.query_flags = COVERING_OR_NEXT_VMA
        q.query_addr = va
        # the kernel refuses a name size without a buffer, and a buffer without a size
        q.vma_name_size = _NAME_ROOM if name else 0
        q.vma_name_addr = ctypes.addressof(self._name) if name else 0
        try:
            fcntl.ioctl(self.fd, PROCMAP_QUERY, q)
        except OSError as exc:
            if exc.errno == errno.ENOENT:  # no VMA at or above va
                return False
            if name and exc.errno == errno.ENAMETOOLONG:  # a longer name: not "[stack]"
                found = self._ask(va)
                q.vma_name_size = 0
                return found
            if exc.errno in (errno.ENOTTY, errno.EINVAL):
                SUPPORTED = False
            raise Unanswered(exc.errno) from None
        return True

    def within(self, start: int, end: int, top: int) -> list[tuple[int, int]]:
        """The VMAs that meet ``[start, end)``, each cut to it, in address order.

        VMAs that start at ``top`` or above (``[vsyscall]``'s kind) are left out.
        """
        out = []
        va = start
        while va < end and self._ask(va):
            lo, hi = self._query.vma_start, self._query.vma_end
            if hi <= va:  # never from the kernel: ask the maps text instead
                raise Unanswered(errno.EIO)
            if lo >= end or lo >= top:
                break
            out.append((max(lo, start), min(hi, end)))
            va = hi
        return out

    def below_stack(self, va: int) -> bool:
        """Whether ``va`` lies in the hole just below the ``[stack]`` VMA.

        The next VMA at or above an unmapped ``va`` is the stack exactly when
        nothing is mapped between ``va`` and the stack's start.
        """
        if not self._ask(va, name=True):
            return False
        q = self._query
        if q.vma_start <= va:  # mapped: no hole
            return False
        return q.vma_name_size == len(STACK_NAME) + 1 and self._name.value == STACK_NAME


def covers(near: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether the sorted ranges ``near`` leave no hole in ``[start, end)``."""
    va = start
    for lo, hi in near:
        if lo > va:
            return False
        va = max(va, hi)
    return va >= end


def read_maps(pid: int, top: int) -> tuple[list[tuple[int, int]], int | None]:
    """Every ``[start, end)`` that the text of ``/proc/<pid>/maps`` shows below ``top``,
    in address order, and the start of its ``[stack]`` VMA (None if it has none)."""
    out = []
    stack = None
    with open(f"/proc/{pid}/maps", "rb") as maps:
        text = maps.read()
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        lo, _, hi = fields[0].partition(b"-")
        start = int(lo, 16)
        if start < top:
            out.append((start, int(hi, 16)))
            if stack is None and len(fields) == 6 and fields[5].rstrip() == STACK_NAME:
                stack = start
    return out, stack


class _Owner(Protocol):
    """Who keeps a process's open query (the boundary's ``ProgramPages``)."""

    def vma_query(self, pid: int) -> VmaQuery | None: ...

    def close_query(self) -> None: ...


def mapped_near(
    pid: int, owner: _Owner, start: int, end: int, top: int
) -> tuple[list[tuple[int, int]], Callable[[int], bool]]:
    """What the kernel has mapped in ``[start, end)`` below ``top`` now (each VMA cut to
    the range), and a test of "this unmapped address lies in the hole just below the
    ``[stack]``", where an access grows the stack instead of faulting.

    Asked VMA by VMA where the kernel can, else read from the whole maps text.
    """
    query = owner.vma_query(pid)
    if query is not None:
        try:
            near = query.within(start, end, top)
        except Unanswered:
            owner.close_query()
        else:

            def below_stack(va: int) -> bool:
                try:
                    return query.below_stack(va)
                except Unanswered:
                    owner.close_query()
                    return _below_stack_text(pid, va, top)

            return near, below_stack
    mapped, stack = read_maps(pid, top)
    near = [(max(s, start), min(e, end)) for s, e in mapped if s < end and e > start]
    return near, lambda va: _in_hole_below(mapped, stack, va)


def _in_hole_below(mapped: list[tuple[int, int]], stack: int | None, va: int) -> bool:
    """Whether ``va`` lies between the last mapping below ``stack`` and ``stack``."""
    if stack is None:
        return False
    return max((e for _, e in mapped if e <= stack), default=0) <= va < stack


def _below_stack_text(pid: int, va: int, top: int) -> bool:
    """``VmaQuery.below_stack``, from the maps text."""
    mapped, stack = read_maps(pid, top)
    return _in_hole_below(mapped, stack, va)
