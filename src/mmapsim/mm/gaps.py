"""The free gaps of an address space, indexed for top-down placement.

Linux finds room for a new mapping with an augmented tree that knows the
largest gap below every node (``vm_unmapped_area``).  This index gives the same
answers in a way that stays cheap with tens of thousands of VMAs: gaps are kept
in size classes (class ``c`` holds gaps of ``[2**(c-1), 2**c)`` pages), each a
:class:`SortedChunks` of gap ends (so adding and removing a gap stays
logarithmic however many share a class).  Every gap of a class above the
request's class fits; only the request's own class needs a scan.
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SHIFT
from mmapsim.errors import KernelPanic
from mmapsim.mm.sorted_chunks import SortedChunks

#: Size classes: a gap of n pages is in class n.bit_length(), below 64 on x86-64.
CLASSES = 64


def _size_class(length: int) -> int:
    return (length >> PAGE_SHIFT).bit_length()


class GapIndex:
    """Disjoint free ranges ``[start, end)``, keyed by their end.

    Invariant: every gap has ``start < end``; ``_start_of`` maps each gap's end
    to its start, and the gap's size class in ``_ends`` holds its end with its
    start as the value; nothing else is in either.  ``_count[c]`` is the number
    of gaps of class ``c``, and bit ``c`` of ``_held`` is set when it is not zero.
    """

    __slots__ = ("_count", "_ends", "_held", "_start_of")

    def __init__(self) -> None:
        self._start_of: dict[int, int] = {}
        self._ends: dict[int, SortedChunks[int]] = {}  # made when a class gets its first gap
        self._count = [0] * CLASSES
        self._held = 0

    def add(self, start: int, end: int) -> None:
        """Record a free range (empty or inverted ranges are ignored)."""
        if start >= end:
            return
        if end in self._start_of:
            raise KernelPanic("GapIndex.add", f"gap ending at {end:#x} exists")
        self._start_of[end] = start
        cls = ((end - start) >> PAGE_SHIFT).bit_length()  # _size_class, inline: a hot path
        ends = self._ends.get(cls)
        if ends is None:
            ends = self._ends[cls] = SortedChunks()
        ends.insert(end, start)
        self._count[cls] += 1
        self._held |= 1 << cls

    def remove(self, start: int, end: int) -> None:
        """Forget a free range previously added (empty ranges are ignored)."""
        if start >= end:
            return
        if self._start_of.pop(end, None) != start:
            raise KernelPanic("GapIndex.remove", f"no gap {start:#x}-{end:#x}")
        cls = ((end - start) >> PAGE_SHIFT).bit_length()  # _size_class
        ends = self._ends.get(cls)
        if ends is None:
            raise KernelPanic("GapIndex.remove", f"gap {start:#x}-{end:#x} not in its class")
        ends.remove(end)
        self._count[cls] -= 1
        if not self._count[cls]:
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
            for end, start in self._ends[lowest.bit_length() - 1].descending(high):
                if end <= low or (best is not None and end <= best):
                    break
                if end - max(start, low) >= length:
                    best = end
                    break
        return best

    def check(self) -> None:
        """Recount the index from its size classes; KernelPanic on a mismatch."""
        seen: dict[int, int] = {}
        for cls in range(CLASSES):
            ends = self._ends.get(cls)
            items = [] if ends is None else ends.items()
            if ends is not None:
                ends.check()
            if len(items) != self._count[cls] or bool(items) != bool(self._held >> cls & 1):
                raise KernelPanic("GapIndex.check", f"class {cls}: counts differ from a recount")
            for end, start in items:
                if start >= end or _size_class(end - start) != cls or end in seen:
                    raise KernelPanic("GapIndex.check", f"gap {start:#x}-{end:#x} in class {cls}")
                seen[end] = start
        if seen != self._start_of:
            raise KernelPanic("GapIndex.check", "the size classes differ from the gaps")
