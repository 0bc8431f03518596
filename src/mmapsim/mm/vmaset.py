"""The VMA set of an address space: sorted, split, merged, with its free gaps.

VMAs are kept sorted by start address in two parallel lists (starts for
``bisect``, the VMAs themselves), so finding the VMA of an address is a binary
search and inserting one is a C-speed list insert even with tens of thousands
of VMAs.  The free gaps between them live in a :class:`GapIndex` for top-down
placement; a stack VMA (``VM_GROWSDOWN``) keeps Linux's guard gap below it free.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from mmapsim.errors import KernelPanic
from mmapsim.mm.gaps import GapIndex
from mmapsim.mm.memlayout import STACK_GUARD_GAP, TASK_SIZE
from mmapsim.mm.vma import Vma


def vm_start_gap(vma: Vma) -> int:
    """Where the free gap below ``vma`` must end (Linux's ``vm_start_gap``)."""
    if vma.growsdown:
        return max(0, vma.start - STACK_GUARD_GAP)
    return vma.start


class VmaSet:
    """The VMAs of one address space, lowest first.

    Invariant: VMAs are sorted and disjoint; ``gaps`` holds exactly the free
    ranges between them (and below the first and above the last, up to TASK_SIZE).
    """

    __slots__ = ("_starts", "_vmas", "gaps")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._vmas: list[Vma] = []
        self.gaps = GapIndex()
        self.gaps.add(0, TASK_SIZE)

    def __len__(self) -> int:
        return len(self._vmas)

    def __iter__(self) -> Iterator[Vma]:
        return iter(list(self._vmas))

    # -- lookup -------------------------------------------------------------

    def find(self, va: int) -> Vma | None:
        """The VMA containing ``va``, or None."""
        i = bisect_right(self._starts, va) - 1
        if i >= 0:
            vma = self._vmas[i]
            if va < vma.end:
                return vma
        return None

    def find_from(self, va: int) -> Vma | None:
        """The first VMA that ends above ``va`` (Linux's ``find_vma``)."""
        i = self._first_ending_after(va)
        return self._vmas[i] if i < len(self._vmas) else None

    def _first_ending_after(self, va: int) -> int:
        i = bisect_right(self._starts, va) - 1
        if i >= 0 and self._vmas[i].end > va:
            return i
        return i + 1

    def overlapping(self, start: int, end: int) -> list[Vma]:
        """The VMAs that intersect ``[start, end)``, lowest first."""
        i = self._first_ending_after(start)
        j = bisect_left(self._starts, end, lo=i)
        return self._vmas[i:j]

    def prev_of(self, vma: Vma) -> Vma | None:
        i = self._index(vma)
        return self._vmas[i - 1] if i > 0 else None

    def next_of(self, vma: Vma) -> Vma | None:
        i = self._index(vma) + 1
        return self._vmas[i] if i < len(self._vmas) else None

    def _index(self, vma: Vma) -> int:
        i = bisect_left(self._starts, vma.start)
        if i == len(self._vmas) or self._vmas[i] is not vma:
            raise KernelPanic("VmaSet._index", f"{vma!r} is not in the set")
        return i

    def _gap_around(self, i: int) -> tuple[int, int]:
        """The free range between VMA ``i-1`` and VMA ``i`` (either may be absent)."""
        lo = self._vmas[i - 1].end if i > 0 else 0
        hi = vm_start_gap(self._vmas[i]) if i < len(self._vmas) else TASK_SIZE
        return lo, hi

    def gap_at(self, va: int) -> tuple[int, int] | None:
        """The free range that contains ``va``, or None if ``va`` is mapped."""
        i = self._first_ending_after(va)
        if i < len(self._vmas) and self._vmas[i].start <= va:
            return None
        lo, hi = self._gap_around(i)
        return (lo, hi) if lo <= va < hi else None

    # -- changes ------------------------------------------------------------

    def insert(self, vma: Vma) -> None:
        """Add a VMA into free space."""
        i = bisect_left(self._starts, vma.start)
        lo, hi = self._gap_around(i)
        if not (lo <= vma.start and vma.end <= (self._vmas[i].start if i < len(self) else hi)):
            raise KernelPanic("VmaSet.insert", f"{vma!r} overlaps its neighbours")
        self.gaps.remove(lo, hi)
        self._starts.insert(i, vma.start)
        self._vmas.insert(i, vma)
        self.gaps.add(*self._gap_around(i))
        self.gaps.add(*self._gap_around(i + 1))

    def remove(self, vma: Vma) -> None:
        """Take a VMA out; its range becomes free."""
        i = self._index(vma)
        self.gaps.remove(*self._gap_around(i))
        self.gaps.remove(*self._gap_around(i + 1))
        del self._starts[i]
        del self._vmas[i]
        self.gaps.add(*self._gap_around(i))

    def split(self, vma: Vma, at: int) -> Vma:
        """Cut ``vma`` at ``at``; ``vma`` keeps the low part, the high part is returned."""
        if not vma.start < at < vma.end:
            raise KernelPanic("VmaSet.split", f"{at:#x} is not inside {vma!r}")
        i = self._index(vma)
        high = vma.copy()
        high.start = at
        high.pgoff = vma.pgoff_of(at)
        vma.end = at
        self._starts.insert(i + 1, at)
        self._vmas.insert(i + 1, high)
        return high

    def merge_next(self, vma: Vma) -> Vma:
        """Absorb the VMA right after ``vma`` into it; returns the absorbed one."""
        i = self._index(vma)
        nxt = self._vmas[i + 1]
        if nxt.start != vma.end:
            raise KernelPanic("VmaSet.merge_next", f"{vma!r} and {nxt!r} are not adjacent")
        vma.end = nxt.end
        if vma.anon_vma is None:
            vma.anon_vma = nxt.anon_vma
        del self._starts[i + 1]
        del self._vmas[i + 1]
        return nxt

    def extend_down(self, vma: Vma, new_start: int) -> None:
        """Grow a stack VMA down to ``new_start`` (its gap below shrinks)."""
        i = self._index(vma)
        self.gaps.remove(*self._gap_around(i))
        vma.pgoff -= (vma.start - new_start) >> 12
        vma.start = new_start
        self._starts[i] = new_start
        self.gaps.add(*self._gap_around(i))
