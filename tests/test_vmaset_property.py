"""The VMA set against a page-by-page model: random mmap, munmap and mprotect.

Every operation lands in a window of 64 pages right below ``mmap_base``, where
mappings made without MAP_FIXED go first, so splits, merges and top-down
placement happen all the time.  The model keeps, for each page of the window,
whether it is mapped and with what protection, sharing, accounting and backing
object; the VMAs it expects are the maximal runs of pages that Linux would
merge (``is_mergeable_vma``): same flags, same backing object at contiguous
offsets.  Pages are never touched, so no VMA has an ``anon_vma`` and nothing
blocks a merge of private anonymous memory.  Each shared anonymous mapping has
its own hidden shmem file, so it merges only with pieces of itself.

After every call the simulator's ``maps()`` lines in the window, and its gap
index, must equal the model's.  The Machine also runs its invariant checker
after every call.  Linux is the reference: ``replay`` runs the same operations
on any machine (HostMachine included), to settle a disagreement.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, event, given, note, settings

from mmapsim import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from mmapsim.mm import gaps as mm_gaps
from mmapsim.mm import sorted_chunks
from mmapsim.mm.memlayout import MMAP_BASE
from strategies.vma_window import (
    WINDOW_PAGES,
    WindowMmap,
    WindowMprotect,
    WindowMunmap,
    WindowOp,
    window_op_sequences,
)

#: The window: WINDOW_PAGES pages ending at mmap_base, the top of the top-down search.
BASE = MMAP_BASE - WINDOW_PAGES * PAGE_SIZE
END = MMAP_BASE

MapsLine = tuple[int, int, str, int]  # start, end, perms, offset


@dataclass(frozen=True)
class Page:
    """What the model knows of one mapped page."""

    prot: int
    shared: bool
    account: bool  # VM_ACCOUNT: private writable memory is charged to the commit limit
    obj: int | None  # the shmem object of shared anonymous memory; None for private
    pgoff: int  # the page's offset in ``obj`` (0 for private memory)

    def key(self) -> tuple[int, bool, bool, int | None]:
        return self.prot, self.shared, self.account, self.obj


class WindowModel:
    """The window, page by page; the VMAs Linux would show are computed from it."""

    def __init__(self) -> None:
        self.pages: list[Page | None] = [None] * WINDOW_PAGES
        self._objects = 0

    # -- predictions ------------------------------------------------------------

    def is_free(self, first: int, count: int) -> bool:
        return all(self.pages[i] is None for i in range(first, first + count))

    def topdown(self, count: int) -> int:
        """Where a mapping of ``count`` pages goes without a usable hint: the top of
        the highest free run that fits, below mmap_base (the end of the window).
        The run at the bottom continues below the window, so it always fits; the
        answer may then be negative (below the window)."""
        end = WINDOW_PAGES
        while end > 0:
            if self.pages[end - 1] is not None:
                end -= 1
                continue
            start = end
            while start > 0 and self.pages[start - 1] is None:
                start -= 1
            if start == 0 or end - start >= count:
                where = "at the top" if end == WINDOW_PAGES else "into a lower hole"
                event(f"top-down {where}{' that fits exactly' if end - start == count else ''}")
                return end - count
            end = start
        return -count

    def holes(self) -> list[tuple[int, int]]:
        """The free runs ``(first, count)`` wholly inside the window, highest first."""
        runs: list[tuple[int, int]] = []
        for i in range(WINDOW_PAGES - 1, 0, -1):
            if self.pages[i] is None:
                if runs and runs[-1][0] == i + 1:
                    runs[-1] = (i, runs[-1][1] + 1)
                else:
                    runs.append((i, 1))
        return [(first, count) for first, count in runs if self.pages[first - 1] is not None]

    def expected_maps(self) -> list[MapsLine]:
        """The maps lines of the window: maximal runs of mergeable pages."""
        lines: list[MapsLine] = []
        run_start, prev = 0, None
        for i, page in enumerate([*self.pages, None]):
            if prev is not None and not _merges(prev, page):
                lines.append(_line(run_start, i, self.pages[run_start]))
            if page is not None and not (prev is not None and _merges(prev, page)):
                run_start = i
            prev = page
        return lines

    def free_ranges(self) -> list[tuple[int, int]]:
        """The free ranges of the window, as addresses."""
        ranges: list[tuple[int, int]] = []
        for i, page in enumerate(self.pages):
            if page is not None:
                continue
            va = BASE + i * PAGE_SIZE
            if ranges and ranges[-1][1] == va:
                ranges[-1] = (ranges[-1][0], va + PAGE_SIZE)
            else:
                ranges.append((va, va + PAGE_SIZE))
        return ranges

    # -- changes ------------------------------------------------------------------

    def mmap(self, first: int, count: int, prot: int, shared: bool) -> None:
        """A new mapping replaces whatever was at pages ``[first, first+count)``."""
        obj = None
        if shared:
            self._objects += 1
            obj = self._objects
        account = not shared and bool(prot & PROT_WRITE)
        for i in range(max(first, 0), min(first + count, WINDOW_PAGES)):
            pgoff = i - first if shared else 0
            self.pages[i] = Page(prot, shared, account, obj, pgoff)

    def munmap(self, first: int, count: int) -> None:
        for i in range(max(first, 0), min(first + count, WINDOW_PAGES)):
            self.pages[i] = None

    def mprotect(self, first: int, count: int, prot: int) -> bool:
        """Change pages up to the first hole; False if there was one (ENOMEM)."""
        for i in range(first, first + count):
            page = self.pages[i]
            if page is None:
                return False
            self.pages[i] = replace(page, prot=prot, account=_account(page, prot))
        return True


def _account(page: Page, prot: int) -> bool:
    """VM_ACCOUNT after mprotect (mprotect_fixup): making private memory writable
    charges it; taking write away from private anonymous memory that has no
    anon_vma yet (never touched, as here) gives the charge back."""
    if prot & PROT_WRITE:
        return page.account or not (page.prot & PROT_WRITE or page.shared)
    if page.account and not page.shared:
        return False
    return page.account


def _merges(prev: Page, page: Page | None) -> bool:
    """Whether ``page`` continues the VMA of the page before it."""
    if page is None or page.key() != prev.key():
        return False
    return not page.shared or page.pgoff == prev.pgoff + 1


def _line(first: int, end: int, page: Page | None) -> MapsLine:
    assert page is not None
    perms = "".join(c if page.prot & bit else "-" for c, bit in (("r", 1), ("w", 2), ("x", 4)))
    perms += "s" if page.shared else "p"
    offset = page.pgoff * PAGE_SIZE if page.shared else 0
    return BASE + first * PAGE_SIZE, BASE + end * PAGE_SIZE, perms, offset


# -- the same operations on any machine -----------------------------------------


def _length(pages: int, slack: int) -> int:
    return pages * PAGE_SIZE - slack


def call(p: Any, op: WindowOp, base: int) -> int | None:
    """Run ``op`` on process ``p`` with the window at ``base``.

    Returns the address for mmap; raises OSError as the call does.
    """
    va = base + op.page * PAGE_SIZE
    length = _length(op.pages, op.slack)
    match op:
        case WindowMmap():
            flags = MAP_ANONYMOUS | (MAP_SHARED if op.shared else MAP_PRIVATE)
            flags |= {"fixed": MAP_FIXED, "noreplace": MAP_FIXED_NOREPLACE}.get(op.placement, 0)
            addr = 0 if op.placement == "anywhere" else va
            return int(p.mmap(addr, length, op.prot, flags))
        case WindowMunmap():
            p.munmap(va, length)
        case WindowMprotect():
            p.mprotect(va, length, op.prot)
    return None


def window_maps(p: Any, base: int = BASE, end: int = END) -> list[MapsLine]:
    """The maps lines that intersect ``[base, end)``."""
    lines = []
    for text in p.maps().splitlines():
        fields = text.split()
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        if lo < end and hi > base:
            lines.append((lo, hi, fields[1], int(fields[2], 16)))
    return lines


def replay(machine: Any, ops: Sequence[WindowOp], base: int) -> list[str]:
    """Run ``ops`` in a new process of ``machine``; what each did, and the window's maps.

    For settling a disagreement on the real kernel, e.g. with HostMachine and a
    base such as 0x200000000 (``anywhere`` lands elsewhere there).
    """
    p = machine.spawn()
    out = []
    for op in ops:
        try:
            out.append(f"{op!r} -> {call(p, op, base)}")
        except OSError as e:
            out.append(f"{op!r} -> {errno.errorcode[e.errno or 0]}")
    end = base + WINDOW_PAGES * PAGE_SIZE
    out += [f"{lo:x}-{hi:x} {perms} {off:08x}" for lo, hi, perms, off in window_maps(p, base, end)]
    return out


# -- the test -----------------------------------------------------------------------


def _resolve(model: WindowModel, op: WindowOp) -> WindowOp:
    """Give an ``exact_fit`` mmap the size of one of the window's holes."""
    if isinstance(op, WindowMmap) and op.exact_fit:
        holes = model.holes()
        if holes:
            event("top-down with the size of a hole")
            _, count = holes[op.page % len(holes)]
            return replace(op, pages=count, slack=0, exact_fit=False)
    return op


def _step(p: Any, model: WindowModel, op: WindowOp) -> None:
    """Run one operation on the simulator and the model; check the call's result."""
    count = -(-_length(op.pages, op.slack) // PAGE_SIZE)
    match op:
        case WindowMmap(placement="noreplace") if not model.is_free(op.page, count):
            event("mmap EEXIST")
            _expect_errno(p, op, errno.EEXIST)
        case WindowMmap():
            hinted = op.placement in ("fixed", "noreplace")
            hinted = hinted or (op.placement == "hint" and model.is_free(op.page, count))
            first = op.page if hinted else model.topdown(count)
            event(f"mmap placed {'as asked' if hinted else 'top-down'}")
            assert call(p, op, BASE) == BASE + first * PAGE_SIZE, "placement"
            model.mmap(first, count, op.prot, op.shared)
            if not 0 <= first <= WINDOW_PAGES - count:
                event("mmap placed below the window")  # take it away again
                p.munmap(BASE + first * PAGE_SIZE, count * PAGE_SIZE)
                model.munmap(first, count)
        case WindowMunmap():
            call(p, op, BASE)
            model.munmap(op.page, count)
        case WindowMprotect():
            if model.mprotect(op.page, count, op.prot):
                call(p, op, BASE)
            else:
                event("mprotect ENOMEM")
                _expect_errno(p, op, errno.ENOMEM)


def _expect_errno(p: Any, op: WindowOp, expected: int) -> None:
    with pytest.raises(OSError) as info:
        call(p, op, BASE)
    assert info.value.errno == expected, f"{op!r}: {info.value}, expected errno {expected}"


def _window_gaps(m: Machine, pid: int) -> list[tuple[int, int]]:
    """The simulator's gap index, clipped to the window."""
    gaps = m.kernel.task(pid).mm.vmas.gaps.all()
    clipped = [(max(lo, BASE), min(hi, END)) for lo, hi in gaps]
    return [(lo, hi) for lo, hi in clipped if lo < hi]


@settings(
    # 300 examples take a few seconds; HYPOTHESIS_PROFILE=long (tests/conftest.py) runs more
    max_examples=max(300, settings().max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=window_op_sequences())
def test_vma_set_matches_the_page_model(ops: list[WindowOp]) -> None:
    """After any mmap, munmap and mprotect calls, the VMAs and free gaps are Linux's."""
    _run_against_the_model(ops)


@settings(
    max_examples=max(100, settings().max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=window_op_sequences())
def test_vma_set_in_tiny_chunks_matches_the_page_model(ops: list[WindowOp]) -> None:
    """With chunks of two to four keys, which split and join at almost every call,
    and size classes of gaps that turn into chunks past two gaps, the VMAs and
    free gaps are still Linux's."""
    with patch.object(sorted_chunks, "LOAD", 2), patch.object(mm_gaps, "FLAT_MAX", 2):
        _run_against_the_model(ops)


def _run_against_the_model(ops: list[WindowOp]) -> None:
    """Run ``ops`` on a new simulated process and on the model, comparing after each."""
    with Machine(check_invariants=True) as m:
        p = m.spawn()
        outside = [line for line in p.maps().splitlines() if line not in window_maps(p)]
        model = WindowModel()
        most = 0
        for step, op in enumerate(ops):
            op = _resolve(model, op)
            note(f"step {step}: {op!r}")
            _step(p, model, op)
            expected = model.expected_maps()
            assert window_maps(p) == expected, f"maps after step {step}"
            most = max(most, len(expected))
            assert _window_gaps(m, p.pid) == model.free_ranges(), f"gaps after step {step}"
        event(f"most VMAs in the window at once: {_bucket(most)}")
        rest = [line for line in p.maps().splitlines() if line not in outside]
        assert all(_in_window(line) for line in rest), "a mapping outside the window"
        m.kernel.task(p.pid).mm.vmas.check()


def _bucket(n: int) -> str:
    return "0" if n == 0 else "1-3" if n < 4 else "4-7" if n < 8 else "8+"


def _in_window(line: str) -> bool:
    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
    return lo >= BASE and hi <= END


# -- beyond the model: written pages -----------------------------------------------


def test_first_written_page_shares_a_neighbours_anon_vma(machine: Any) -> None:
    """A VMA's first written page joins its neighbour's anon_vma, so they merge later."""
    p = machine.spawn()
    rw = PROT_READ | PROT_WRITE
    a = p.mmap(0, 2 * PAGE_SIZE, rw, MAP_PRIVATE | MAP_ANONYMOUS)
    p.mprotect(a + PAGE_SIZE, PAGE_SIZE, rw | PROT_EXEC)
    p.store(a, b"x")  # the low VMA gets an anon_vma
    p.store(a + PAGE_SIZE, b"y")  # the high one, rwx, shares it: flags differ only in rwx
    p.mprotect(a + PAGE_SIZE, PAGE_SIZE, rw)
    assert window_maps(p, a, a + 2 * PAGE_SIZE) == [(a, a + 2 * PAGE_SIZE, "rw-p", 0)]
