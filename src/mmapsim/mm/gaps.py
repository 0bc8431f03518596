"""The free gaps of an address space, indexed for top-down placement.

Linux finds room for a new mapping with an augmented tree that knows the
largest gap below every node (``vm_unmapped_area``).  This index gives the same
answers in a way that stays cheap with tens of thousands of VMAs: gaps are kept
in size classes (class ``c`` holds gaps of ``[2**(c-1), 2**c)`` pages), each a
sorted sequence of gap ends.  Every gap of a class above the request's class
fits; only the request's own class needs a scan.

A class is a flat sorted list while it holds up to ``FLAT_MAX`` gaps (an
``insort`` in C is faster than any walk in Python at that size and moves at
most 8 KiB); past that it becomes a :class:`SortedChunks`, so adding and
removing a gap stays cheap however many gaps share a class (65,000 one-page
holes, say).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator

from mmapsim.constants import PAGE_SHIFT
from mmapsim.errors import KernelPanic
from mmapsim.mm.sorted_chunks import SortedChunks

#: Size classes: a gap of n pages is in class n.bit_length(), below 64 on x86-64.
CLASSES = 64

#: The most gaps a class keeps in a flat list before it turns into sorted chunks.
FLAT_MAX = 1024


def _size_class(length: int) -> int:
    return (length >> PAGE_SHIFT).bit_length()


class GapIndex:
    """Disjoint free ranges ``[start, end)``, keyed by their end.

    Invariant: every gap has ``start < end``; ``_start_of`` maps each gap's end
    to its start, and the gap's size class in ``_ends`` holds its end (a flat
    list of ends, or sorted chunks of ends with their starts); nothing else is
    in either.  Bit ``c`` of ``_held`` is set when class ``c`` is not empty.
    """

    __slots__ = ("_ends", "_held", "_start_of")

    def __init__(self) -> None:
        self._start_of: dict[int, int] = {}
        self._ends: list[list[int] | SortedChunks[int]] = [[] for _ in range(CLASSES)]
        self._held = 0

    def add(self, start: int, end: int) -> None:
        """Record a free range (empty or inverted ranges are ignored)."""
        if start >= end:
            return
        if end in self._start_of:
            raise KernelPanic("GapIndex.add", f"gap ending at {end:#x} exists")
        self._start_of[end] = start
        cls = ((end - start) >> PAGE_SHIFT).bit_length()  # _size_class, inline: a hot path
        ends = self._ends[cls]
        if isinstance(ends, list):
            insort(ends, end)
            if len(ends) > FLAT_MAX:
                self._ends[cls] = self._chunked(ends)
        else:
            ends.insert(end, start)
        self._held |= 1 << cls

    def _chunked(self, ends: list[int]) -> SortedChunks[int]:
        """A class grown past FLAT_MAX, as sorted chunks of its ends and starts."""
        chunks: SortedChunks[int] = SortedChunks()
        for end in ends:  # ascending: each lands at the end of the last chunk
            chunks.insert(end, self._start_of[end])
        return chunks

    def remove(self, start: int, end: int) -> None:
        """Forget a free range previously added (empty ranges are ignored)."""
        if start >= end:
            return
        if self._start_of.pop(end, None) != start:
            raise KernelPanic("GapIndex.remove", f"no gap {start:#x}-{end:#x}")
        cls = ((end - start) >> PAGE_SHIFT).bit_length()  # _size_class
        ends = self._ends[cls]
        if isinstance(ends, list):
            i = bisect_left(ends, end)
            if i == len(ends) or ends[i] != end:
                raise KernelPanic("GapIndex.remove", f"gap {start:#x}-{end:#x} not in its class")
            del ends[i]
        else:
            ends.remove(end)
        if not len(ends):
            self._held &= ~(1 << cls)

    def all(self) -> list[tuple[int, int]]:
        """Every gap, lowest first (for checks and pictures)."""
        return sorted((s, e) for e, s in self._start_of.items())

    def highest_fit(self, length: int, low: int, high: int) -> int | None:
        """The end of the highest gap part inside ``[low, high)`` of ``length`` bytes.

        The caller has already tried the gap that straddles ``high``; here only
        gaps that end at or below ``high`` are considered.
        """
        best: int | None = None
        # the classes that hold gaps, from the request's own class up
        held = self._held >> _size_class(length) << _size_class(length)
        while held:
            lowest = held & -held  # the lowest set bit: two's complement keeps only it
            held ^= lowest
            ends = self._ends[lowest.bit_length() - 1]
            if not isinstance(ends, list):
                best = _highest_in(ends.descending(high), length, low, best)
                continue
            # a flat class, walked in place (the usual case: no iterator to build)
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

    def check(self) -> None:
        """Recount the index from its size classes; KernelPanic on a mismatch."""
        seen: dict[int, int] = {}
        for cls, ends in enumerate(self._ends):
            if isinstance(ends, list):
                items = [(end, self._start_of.get(end, end)) for end in ends]
                if ends != sorted(set(ends)) or len(ends) > FLAT_MAX:
                    raise KernelPanic("GapIndex.check", f"class {cls}: a bad flat list")
            else:
                ends.check()
                items = ends.items()
            if bool(items) != bool(self._held >> cls & 1):
                raise KernelPanic("GapIndex.check", f"class {cls}: held bit differs")
            for end, start in items:
                if start >= end or _size_class(end - start) != cls or end in seen:
                    raise KernelPanic("GapIndex.check", f"gap {start:#x}-{end:#x} in class {cls}")
                seen[end] = start
        if seen != self._start_of:
            raise KernelPanic("GapIndex.check", "the size classes differ from the gaps")


def _highest_in(
    gaps: Iterator[tuple[int, int]], length: int, low: int, best: int | None
) -> int | None:
    """The first of ``gaps`` (end, start), highest first, whose part above ``low``
    holds ``length`` bytes and that ends above ``best``; else ``best``."""
    for end, start in gaps:
        if end <= low or (best is not None and end <= best):
            break
        if end - max(start, low) >= length:
            return end
    return best
