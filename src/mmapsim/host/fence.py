"""Fence off the interpreter's own part of a worker's address space.

A worker is a Python interpreter, and its libraries and heaps already sit in the
mmap area.  Left alone, the kernel would put a program's first small mapping in
a hole between two libraries, or right below an anonymous region of the
interpreter, and ``maps()`` would show the two merged.  So the master process,
before it forks anything, fills every hole of its mmap area and puts one page
below the lowest mapping, all with PROT_NONE private mappings of a memfd.  A
file mapping never merges with an anonymous one, nor with another file's, so
every mapping a program makes afterwards starts below the fence, alone.
"""

from __future__ import annotations

import itertools
import os
from typing import Final

from mmapsim.constants import MAP_FIXED_NOREPLACE, MAP_PRIVATE, PAGE_SIZE, PROT_NONE
from mmapsim.host import libc

_ROUNDS: Final = 16


def _ranges() -> list[tuple[int, int, str]]:
    """(start, end, name) of every mapping of this process, in address order."""
    out = []
    with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            out.append((start, end, fields[5].strip() if len(fields) > 5 else ""))
    return out


def _mmap_area(ranges: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """The mappings of the mmap area: above the largest gap over the heap, below the stack."""
    stack = next(start for start, _end, name in ranges if name == "[stack]")
    floor = max((end for _s, end, name in ranges if name == "[heap]"), default=ranges[0][1])
    spans = [(s, e) for s, e, _n in ranges if floor <= s and e <= stack]
    gaps = [spans[i][0] - (spans[i - 1][1] if i else floor) for i in range(len(spans))]
    return spans[gaps.index(max(gaps)) :]


def _fill(fd: int, start: int, end: int) -> None:
    libc.mmap(start, end - start, PROT_NONE, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0)


def build_fence() -> None:
    """Fill the holes of the mmap area and fence its bottom (see the module doc)."""
    fd = os.memfd_create("mmapsim-fence", os.MFD_CLOEXEC)
    try:
        for _ in range(_ROUNDS):
            area = _mmap_area(_ranges())
            for (_s, end), (start, _e) in itertools.pairwise(area):
                if end < start:
                    _fill(fd, end, start)
            fence = libc.mmap(0, PAGE_SIZE, PROT_NONE, MAP_PRIVATE, fd, 0)
            if fence == area[0][0] - PAGE_SIZE:
                return
            # placed top-down in a gap above the area (below mmap_base): fill that gap
            below = max((end for _s, end in area if end <= fence), default=fence)
            if below < fence:
                _fill(fd, below, fence)
    finally:
        os.close(fd)
    raise RuntimeError("build_fence: the mmap area keeps holes")
