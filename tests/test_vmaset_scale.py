"""The VMA set and its gap index past one chunk: thousands of VMAs and of holes.

The window model (test_vmaset_property.py) never has more than a few dozen
VMAs; here a process has more VMAs than one chunk holds and more one-page holes
than a flat size class keeps, so lookups and top-down placement cross chunks.
Linux's answers are computed from ``maps()``: the VMAs in order, and the
highest free page below ``mmap_base`` for a one-page mapping.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from mmapsim import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from mmapsim.mm.gaps import FLAT_MAX
from mmapsim.mm.memlayout import MMAP_BASE
from mmapsim.mm.sorted_chunks import LOAD

pytestmark = pytest.mark.simonly

ANON = MAP_PRIVATE | MAP_ANONYMOUS
RW = PROT_READ | PROT_WRITE
#: Enough pages that the VMAs fill several chunks and the holes outgrow a flat class.
PAGES = 2 * max(2 * LOAD, FLAT_MAX) + 200


def _ranges(p: Any) -> list[tuple[int, int]]:
    """The (start, end) of every line of ``p.maps()``."""
    out = []
    for line in p.maps().splitlines():
        start, end = line.split()[0].split("-")
        out.append((int(start, 16), int(end, 16)))
    return out


def _highest_free_page(p: Any) -> int:
    """Where Linux puts a one-page mapping without a hint: the top of the highest
    free range below mmap_base."""
    below = [r for r in _ranges(p) if r[0] < MMAP_BASE]
    top = MMAP_BASE
    for start, end in reversed(below):
        if end < top:
            return top - PAGE_SIZE
        top = min(top, start)
    return top - PAGE_SIZE


def test_thousands_of_one_page_holes_fill_from_the_top() -> None:
    """With more one-page holes than a flat class holds, each one-page mmap takes
    the highest hole, munmap gives it back, and lookups agree with maps()."""
    with Machine() as m:
        p = m.spawn()
        base = p.mmap(0, PAGES * PAGE_SIZE, RW, ANON)
        for i in range(1, PAGES, 2):  # every other page: PAGES/2 VMAs, PAGES/2 - 1 holes
            p.munmap(base + i * PAGE_SIZE, PAGE_SIZE)
        vmas = m.kernel.task(p.pid).mm.vmas
        vmas.check()
        placed = []
        for step in range(60):
            expected = _highest_free_page(p)
            prot = PROT_READ if step % 2 else RW  # neighbours differ, so some do not merge
            assert p.mmap(0, PAGE_SIZE, prot, ANON) == expected, f"step {step}"
            placed.append(expected)
        for va in placed[::3]:
            p.munmap(va, PAGE_SIZE)
        assert p.mmap(0, PAGE_SIZE, RW, ANON) == max(placed[::3])
        vmas.check()
        ranges = _ranges(p)
        assert [(v.start, v.end) for v in vmas] == ranges
        for start, end in ranges[:: len(ranges) // 50]:
            vma = vmas.find(end - 1)
            assert vma is not None
            assert (vma.start, vma.end) == (start, end)
            assert vmas.overlapping(start, end) == [vma]
        span = vmas.overlapping(base, base + PAGES * PAGE_SIZE)
        assert [(v.start, v.end) for v in span] == [
            r for r in ranges if r[0] < base + PAGES * PAGE_SIZE and r[1] > base
        ]


def test_vmas_past_one_chunk_keep_their_neighbours() -> None:
    """prev_of and next_of cross chunk boundaries in order, and a VMA removed from
    the middle of a chunk leaves a gap that a MAP_FIXED mapping can take again."""
    with Machine() as m:
        p = m.spawn()
        base = p.mmap(0, PAGES * PAGE_SIZE, PROT_READ, ANON)
        for i in range(0, PAGES, 2):  # alternate protections: PAGES VMAs, none merge
            p.mprotect(base + i * PAGE_SIZE, PAGE_SIZE, RW)
        vmas = m.kernel.task(p.pid).mm.vmas
        every = list(vmas)
        assert len(every) == len(_ranges(p)) >= PAGES
        for before, after in pairwise(every):
            assert vmas.next_of(before) is after
            assert vmas.prev_of(after) is before
        middle = base + (PAGES // 2) * PAGE_SIZE
        p.munmap(middle, PAGE_SIZE)
        assert vmas.gap_at(middle) == (middle, middle + PAGE_SIZE)
        p.mmap(middle, PAGE_SIZE, PROT_WRITE, ANON | MAP_FIXED)
        assert vmas.gap_at(middle) is None
        vmas.check()
