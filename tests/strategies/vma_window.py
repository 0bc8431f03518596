"""Hypothesis strategies: generated system-call operations, as frozen dataclasses.

Each group of strategies is for one test and says so in its names; add new
groups beside the existing ones rather than changing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hypothesis import strategies as st

# -- VMA-set operations in a small window (tests/test_vmaset_property.py) -------
#
# Pages are numbered from the start of a window of WINDOW_PAGES pages; the test
# decides where the window lies.  Lengths in bytes are ``pages * PAGE_SIZE -
# slack``, so that the kernel's rounding up to whole pages is exercised too.

WINDOW_PAGES = 64

Placement = Literal["fixed", "noreplace", "hint", "anywhere"]


@dataclass(frozen=True)
class WindowMmap:
    """mmap of anonymous memory: at ``page`` (MAP_FIXED, MAP_FIXED_NOREPLACE or a
    plain hint), or wherever the kernel likes (``anywhere``: addr 0).

    ``exact_fit``: the test replaces ``pages`` by the size of one of the holes
    in the window (chosen by ``page``), so that top-down placement often finds
    a gap of exactly the size asked.
    """

    page: int
    pages: int
    prot: int
    shared: bool
    placement: Placement
    slack: int = 0
    exact_fit: bool = False


@dataclass(frozen=True)
class WindowMunmap:
    """munmap of ``pages`` pages at ``page`` (across holes and VMAs)."""

    page: int
    pages: int
    slack: int = 0


@dataclass(frozen=True)
class WindowMprotect:
    """mprotect of ``pages`` pages at ``page`` to ``prot``."""

    page: int
    pages: int
    prot: int
    slack: int = 0


WindowOp = WindowMmap | WindowMunmap | WindowMprotect

_SLACK = st.sampled_from([0, 0, 0, 1, 2048, 4095])


@st.composite
def _window_range(draw: st.DrawFn, most_pages: int) -> tuple[int, int]:
    """A (first page, page count) inside the window: mostly up to ``most_pages``
    pages, sometimes anything up to the whole window."""
    pages = draw(st.integers(1, most_pages) | st.integers(1, WINDOW_PAGES))
    page = draw(st.integers(0, WINDOW_PAGES - pages))
    return page, pages


def window_prots() -> st.SearchStrategy[int]:
    """Any combination of PROT_READ, PROT_WRITE, PROT_EXEC, with r-- and rw- favoured
    so that neighbours often match and merge."""
    return st.sampled_from([1, 3]) | st.integers(0, 7)


@st.composite
def window_mmaps(draw: st.DrawFn) -> WindowMmap:
    placements: list[Placement] = ["fixed", "fixed", "noreplace", "hint", "anywhere"]
    placement = draw(st.sampled_from(placements))
    # small mappings placed by the kernel often fit a hole exactly
    most_pages = 4 if placement in ("hint", "anywhere") else 16
    page, pages = draw(_window_range(most_pages=most_pages))
    prot, shared, slack = draw(window_prots()), draw(st.booleans()), draw(_SLACK)
    exact_fit = placement == "anywhere" and draw(st.booleans())
    return WindowMmap(page, pages, prot, shared, placement, slack, exact_fit)


@st.composite
def window_munmaps(draw: st.DrawFn) -> WindowMunmap:
    page, pages = draw(_window_range(most_pages=4))
    return WindowMunmap(page, pages, draw(_SLACK))


@st.composite
def window_mprotects(draw: st.DrawFn) -> WindowMprotect:
    page, pages = draw(_window_range(most_pages=8))
    return WindowMprotect(page, pages, draw(window_prots()), draw(_SLACK))


def window_op_sequences(max_size: int = 50) -> st.SearchStrategy[list[WindowOp]]:
    """Random sequences of mmap, munmap and mprotect in the window, mmap favoured."""
    op: st.SearchStrategy[WindowOp] = st.one_of(
        window_mmaps(), window_mmaps(), window_munmaps(), window_mprotects(), window_mprotects()
    )
    return st.lists(op, max_size=max_size)
