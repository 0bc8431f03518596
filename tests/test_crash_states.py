"""Crash states: every subset of the dirty pieces at a point, each distinct disk once."""

from __future__ import annotations

import pytest

from mmapsim.constants import PAGE_SIZE
from mmapsim.crashes.states import ENUMERATION_LIMIT, SECTOR_SIZE, plan, point_at, subsets
from mmapsim.fs.image import DirtyPage, DiskImage, FileImage

pytestmark = pytest.mark.simonly

BLANK = b"." * PAGE_SIZE


def _disk(npages: int, path: str = "/tmp/f") -> DiskImage:
    return DiskImage(
        {path: FileImage(npages * PAGE_SIZE, 0o644, dict.fromkeys(range(npages), BLANK))}
    )


def _dirty(pgoff: int, text: bytes, at: int = 0, path: str = "/tmp/f") -> DirtyPage:
    page = bytearray(BLANK)
    page[at : at + len(text)] = text
    return DirtyPage(path, pgoff, bytes(page))


def test_k_dirty_pages_give_2_to_the_k_states():
    """Three dirty pages, each different from the disk: 8 distinct disks, counted by hand."""
    point = point_at(0, 1, "here", _disk(4), [_dirty(0, b"a"), _dirty(1, b"b"), _dirty(3, b"d")])
    found = plan([point], budget=100)
    assert (found.distinct, found.candidates, len(found.states)) == (8, 8, 8)
    assert not found.sampled
    assert sorted(s.written for s in found.states) == sorted(subsets(3))


def test_a_dirty_page_equal_to_the_disk_adds_no_state():
    """A page stored with the bytes it had is dirty, but leaves the same disk either way."""
    same = DirtyPage("/tmp/f", 1, BLANK)
    point = point_at(0, 1, "here", _disk(2), [_dirty(0, b"a"), same])
    assert [p.pgoff for p in point.pieces] == [0]
    assert plan([point], budget=100).distinct == 2


def test_the_same_disk_at_two_points_is_counted_once():
    """Before and after a page reaches the disk: 2 + 2 subsets, 3 distinct disks."""
    before = point_at(0, 1, "before", _disk(2), [_dirty(0, b"a"), _dirty(1, b"b")])
    written = before.image([0])
    after = point_at(1, 2, "after", written, [_dirty(1, b"b")])
    found = plan([before, after], budget=100)
    assert found.candidates == 4 + 2
    assert found.distinct == 4  # {}, {0}, {1}, {0, 1}: the second point adds nothing
    assert all(s.point is before for s in found.states)


def test_states_come_smallest_first():
    """The first state of a disk names the fewest pieces that make it."""
    point = point_at(0, 1, "p", _disk(2), [_dirty(0, b"a"), _dirty(1, b"b")])
    sizes = [len(s.written) for s in plan([point], budget=100).states]
    assert sizes == sorted(sizes)


def test_torn_pages_split_into_the_sectors_that_differ():
    """--torn: a page changed in two sectors gives two pieces, so 4 states, not 2."""
    dirty = _dirty(0, b"x", at=0)
    dirty = DirtyPage(
        "/tmp/f",
        0,
        b"x" + dirty.data[1 : 3 * SECTOR_SIZE] + b"y" + dirty.data[3 * SECTOR_SIZE + 1 :],
    )
    whole = point_at(0, 1, "p", _disk(1), [dirty])
    torn = point_at(0, 1, "p", _disk(1), [dirty], torn=True)
    assert [p.sector for p in torn.pieces] == [0, 3]
    assert plan([whole], budget=100).distinct == 2
    found = plan([torn], budget=100)
    assert found.distinct == 4
    half = next(s for s in found.states if s.written == (1,))
    data = half.image().read("/tmp/f")
    assert data[0:1] == b"."
    assert data[3 * SECTOR_SIZE : 3 * SECTOR_SIZE + 1] == b"y"


def test_an_image_applies_exactly_the_written_pieces():
    """The disk of a state is the point's disk with the written pieces, nothing more."""
    point = point_at(0, 1, "p", _disk(3), [_dirty(0, b"AA"), _dirty(2, b"CC")])
    data = point.image([1]).read("/tmp/f")
    assert data[:2] == b".."
    assert data[2 * PAGE_SIZE : 2 * PAGE_SIZE + 2] == b"CC"


def test_beyond_the_budget_a_seeded_sample_is_drawn():
    """2**6 states and a budget of 10: ten, the edges among them, the same for the same seed."""
    pages = [_dirty(i, bytes([65 + i])) for i in range(6)]
    point = point_at(0, 1, "p", _disk(6), pages)
    first = plan([point], budget=10, seed=7)
    again = plan([point], budget=10, seed=7)
    other = plan([point], budget=10, seed=8)
    assert first.sampled
    assert first.distinct == 64
    assert len(first.states) == 10
    assert [s.written for s in first.states] == [s.written for s in again.states]
    assert [s.written for s in first.states] != [s.written for s in other.states]
    chosen = {s.written for s in first.states}
    assert () in chosen
    assert tuple(range(6)) in chosen


def test_too_many_subsets_to_list_are_sampled_without_counting():
    """With 2**20 subsets the plan samples at once and does not pretend to know the count."""
    pages = [_dirty(i, bytes([65 + i % 26])) for i in range(20)]
    assert ENUMERATION_LIMIT < 2**20
    point = point_at(0, 1, "p", _disk(20), pages)
    found = plan([point], budget=50, seed=1)
    assert found.sampled
    assert found.distinct is None
    assert len(found.states) == 50
    assert len({s.key for s in found.states}) == 50


def test_the_budget_is_at_least_one():
    """A budget of 0 states is a mistake."""
    with pytest.raises(ValueError):
        plan([], budget=0)
