"""The VMA set of an address space: sorted, split, merged, with its free gaps.

VMAs are kept sorted by start address in a :class:`SortedChunks` (a two-level
B-tree standing in for Linux's maple tree), so finding the VMA of an address,
inserting one and removing one cost about the same with 100 VMAs as with
65,530 (``vm.max_map_count``).  The free gaps between them live in a
:class:`GapIndex` for top-down placement; a stack VMA (``VM_GROWSDOWN``) keeps
Linux's guard gap below it free.
"""

from __future__ import annotations

from collections.abc import Iterator

from mmapsim.errors import KernelPanic
from mmapsim.mm.gaps import GapIndex
from mmapsim.mm.memlayout import STACK_GUARD_GAP, TASK_SIZE
from mmapsim.mm.sorted_chunks import SortedChunks
from mmapsim.mm.vma import Vma


def vm_start_gap(vma: Vma) -> int:
    """Where the free gap below ``vma`` must end (Linux's ``vm_start_gap``)."""
    if vma.growsdown:
        return max(0, vma.start - STACK_GUARD_GAP)
    return vma.start


def _gap_between(prev: Vma | None, nxt: Vma | None) -> tuple[int, int]:
    """The free range between two neighbouring VMAs (either may be absent)."""
    lo = prev.end if prev is not None else 0
    hi = vm_start_gap(nxt) if nxt is not None else TASK_SIZE
    return lo, hi


class VmaSet:
    """The VMAs of one address space, lowest first.

    Invariant: VMAs are sorted and disjoint, each keyed by its start; ``gaps``
    holds exactly the free ranges between them (and below the first and above
    the last, up to TASK_SIZE).
    """

    __slots__ = ("_last", "_tree", "gaps")

    def __init__(self) -> None:
        self._tree: SortedChunks[Vma] = SortedChunks()
        #: The VMA that the last successful find() returned (Linux's per-thread
        #: vmacache of old): a fault next to the last one skips the tree.  It
        #: is always in the set; removing a VMA forgets it.
        self._last: Vma | None = None
        self.gaps = GapIndex()
        self.gaps.add(0, TASK_SIZE)

    def __len__(self) -> int:
        return len(self._tree)

    def __iter__(self) -> Iterator[Vma]:
        """The VMAs as they are now: the caller may insert and remove meanwhile."""
        return iter(self._tree.values())

    # -- lookup -------------------------------------------------------------

    def find(self, va: int) -> Vma | None:
        """The VMA containing ``va``, or None."""
        vma = self._last
        if vma is not None and vma.start <= va < vma.end:
            return vma
        vma = self._tree.floor_value(va)
        if vma is not None and va < vma.end:
            self._last = vma
            return vma
        return None

    def find_from(self, va: int) -> Vma | None:
        """The first VMA that ends above ``va`` (Linux's ``find_vma``)."""
        prev, nxt = self._tree.floor_and_next(va)
        return prev if prev is not None and va < prev.end else nxt

    def overlapping(self, start: int, end: int) -> list[Vma]:
        """The VMAs that intersect ``[start, end)``, lowest first."""
        first = self.find_from(start)
        if first is None or first.start >= end:
            return []
        if first.end >= end:  # the usual answer: one VMA, no walk
            return [first]
        return self._tree.values_between(first.start, end)

    def prev_of(self, vma: Vma) -> Vma | None:
        before, at, _ = self._tree.around(vma.start)
        if at is not vma:
            raise KernelPanic("VmaSet.prev_of", f"{vma!r} is not in the set")
        return before

    def next_of(self, vma: Vma) -> Vma | None:
        _, at, after = self._tree.around(vma.start)
        if at is not vma:
            raise KernelPanic("VmaSet.next_of", f"{vma!r} is not in the set")
        return after

    def _neighbours(self, vma: Vma) -> tuple[Vma | None, Vma | None]:
        """The VMAs before and after ``vma``, which must be in the set."""
        before, at, after = self._tree.around(vma.start)
        if at is not vma:
            raise KernelPanic("VmaSet._neighbours", f"{vma!r} is not in the set")
        return before, after

    def gap_at(self, va: int) -> tuple[int, int] | None:
        """The free range that contains ``va``, or None if ``va`` is mapped."""
        prev, nxt = self._tree.floor_and_next(va)
        if prev is not None and va < prev.end:
            return None
        lo, hi = _gap_between(prev, nxt)
        return (lo, hi) if lo <= va < hi else None

    # -- changes ------------------------------------------------------------

    def insert(self, vma: Vma) -> None:
        """Add a VMA into free space.

        Preconditions: ``vma`` lies wholly in free space of this set.
        """
        prev, nxt = self._tree.floor_and_next(vma.start)
        lo, hi = _gap_between(prev, nxt)
        if not (lo <= vma.start and vma.end <= (hi if nxt is None else nxt.start)):
            raise KernelPanic("VmaSet.insert", f"{vma!r} overlaps its neighbours")
        self.gaps.remove(lo, hi)
        self._tree.insert(vma.start, vma)
        self.gaps.add(*_gap_between(prev, vma))
        self.gaps.add(*_gap_between(vma, nxt))

    def remove(self, vma: Vma) -> None:
        """Take a VMA out; its range becomes free.

        Preconditions: ``vma`` is in this set.
        """
        prev, nxt = self._neighbours(vma)
        self.gaps.remove(*_gap_between(prev, vma))
        self.gaps.remove(*_gap_between(vma, nxt))
        self._tree.remove(vma.start)
        self._last = None
        self.gaps.add(*_gap_between(prev, nxt))

    def split(self, vma: Vma, at: int) -> Vma:
        """Cut ``vma`` at ``at``; ``vma`` keeps the low part, the high part is returned.

        Preconditions: ``vma`` is in this set and ``vma.start < at < vma.end``.
        """
        if not vma.start < at < vma.end:
            raise KernelPanic("VmaSet.split", f"{at:#x} is not inside {vma!r}")
        self._neighbours(vma)  # it must be in the set
        high = vma.copy()
        high.start = at
        high.pgoff = vma.pgoff_of(at)
        vma.end = at
        self._tree.insert(at, high)
        return high

    def merge_next(self, vma: Vma) -> Vma:
        """Absorb the VMA right after ``vma`` into it; returns the absorbed one.

        Preconditions: ``vma`` is in this set and the next VMA starts at ``vma.end``.
        """
        _, nxt = self._neighbours(vma)
        if nxt is None or nxt.start != vma.end:
            raise KernelPanic("VmaSet.merge_next", f"{vma!r} and {nxt!r} are not adjacent")
        vma.end = nxt.end
        if vma.anon_vma is None:
            vma.anon_vma = nxt.anon_vma
        self._tree.remove(nxt.start)
        self._last = None
        return nxt

    def extend_down(self, vma: Vma, new_start: int) -> None:
        """Grow a stack VMA down to ``new_start`` (its gap below shrinks).

        Preconditions: ``[new_start, vma.start)`` is free (the caller checked the
        guard gap of the VMA below).
        """
        prev, _ = self._neighbours(vma)
        self.gaps.remove(*_gap_between(prev, vma))
        old_start = vma.start
        vma.pgoff -= (old_start - new_start) >> 12
        vma.start = new_start
        self._tree.replace_key(old_start, new_start)
        self.gaps.add(*_gap_between(prev, vma))

    # -- checks -------------------------------------------------------------

    def check(self) -> None:
        """Recount the tree's invariant and each VMA's key; KernelPanic on a mismatch."""
        self._tree.check()
        if any(key != vma.start for key, vma in self._tree.items()):
            raise KernelPanic("VmaSet.check", "a VMA's key is not its start")
        last = self._last
        if last is not None and self._tree.floor_value(last.start) is not last:
            raise KernelPanic("VmaSet.check", f"the last found {last!r} is not in the set")
        self.gaps.check()
