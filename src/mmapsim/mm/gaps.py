"""The free gaps of an address space, indexed for top-down placement.

Linux finds room for a new mapping with an augmented tree that knows the
largest gap below every node (``vm_unmapped_area``).  This index gives the same
answers in a way that stays cheap with tens of thousands of VMAs: gaps are kept
in size classes (class ``c`` holds gaps of ``[2**(c-1), 2**c)`` pages), each a
sorted list of gap ends.  Every gap of a class above the request's class fits;
only the request's own class needs a scan.
"""

from __future__ import annotations

from bisect import bisect_right, insort

from mmapsim.constants import PAGE_SHIFT
from mmapsim.errors import KernelPanic


def _size_class(length: int) -> int:
    return (length >> PAGE_SHIFT).bit_length()


class GapIndex:
    """Disjoint free ranges ``[start, end)``, keyed by their end.

    Invariant: every gap has ``start < end``; ``_start_of`` and ``_ends`` hold the
    same gaps.
    """

    __slots__ = ("_ends", "_start_of")

    def __init__(self) -> None:
        self._start_of: dict[int, int] = {}
        self._ends: list[list[int]] = [[] for _ in range(64)]

    def add(self, start: int, end: int) -> None:
        """Record a free range (empty or inverted ranges are ignored)."""
        if start >= end:
            return
        if end in self._start_of:
            raise KernelPanic("GapIndex.add", f"gap ending at {end:#x} exists")
        self._start_of[end] = start
        insort(self._ends[_size_class(end - start)], end)

    def remove(self, start: int, end: int) -> None:
        """Forget a free range previously added (empty ranges are ignored)."""
        if start >= end:
            return
        if self._start_of.pop(end, None) != start:
            raise KernelPanic("GapIndex.remove", f"no gap {start:#x}-{end:#x}")
        ends = self._ends[_size_class(end - start)]
        del ends[bisect_right(ends, end) - 1]

    def all(self) -> list[tuple[int, int]]:
        """Every gap, lowest first (for checks and pictures)."""
        return sorted((s, e) for e, s in self._start_of.items())

    def highest_fit(self, length: int, low: int, high: int) -> int | None:
        """The end of the highest gap part inside ``[low, high)`` of ``length`` bytes.

        The caller has already tried the gap that straddles ``high``; here only
        gaps that end at or below ``high`` are considered.
        """
        best: int | None = None
        for cls in range(_size_class(length), 64):
            ends = self._ends[cls]
            if not ends:
                continue
            i = bisect_right(ends, high) - 1
            while i >= 0:
                end = ends[i]
                if end <= low or (best is not None and end <= best):
                    break
                if end - max(self._start_of[end], low) >= length:
                    best = end
                    break
                i -= 1
        return best
