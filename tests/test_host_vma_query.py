"""The kernel's VMA query (PROCMAP_QUERY) says what the text of /proc/<pid>/maps says."""

from __future__ import annotations

import mmap
import os
import sys

import pytest

from mmapsim.host import vma_query
from mmapsim.host.boundary import USER_SPAN

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")


@pytest.fixture
def query() -> vma_query.VmaQuery:
    try:
        q = vma_query.VmaQuery(os.getpid())
        q.within(0, 1 << 47, USER_SPAN)
    except vma_query.Unanswered:
        pytest.skip("this kernel has no PROCMAP_QUERY")
    return q


def test_the_query_finds_every_mapping_of_the_maps_text(query):
    """Asked from 0 to the top, the query lists the VMAs that maps lists, in order."""
    keep = mmap.mmap(-1, 3 * mmap.PAGESIZE)  # a mapping of its own, so that one is there
    for _ in range(10):  # the interpreter may map memory of its own meanwhile: ask again
        text, _stack = vma_query.read_maps(os.getpid(), USER_SPAN)
        asked = query.within(0, USER_SPAN, USER_SPAN)
        if vma_query.read_maps(os.getpid(), USER_SPAN)[0] == text:
            break
    assert asked == text
    keep.close()


def test_the_query_cuts_each_mapping_to_the_range(query):
    """Only the VMAs that meet the range come back, each cut to it."""
    text, _stack = vma_query.read_maps(os.getpid(), USER_SPAN)
    start, end = text[0]
    middle = start + (end - start) // 2 // mmap.PAGESIZE * mmap.PAGESIZE
    assert query.within(middle, middle + mmap.PAGESIZE, USER_SPAN)[0][0] == middle


def test_the_hole_below_the_stack_is_found_as_in_the_maps_text(query):
    """An address just below [stack] is in its hole; one inside a mapping is not."""
    text, stack = vma_query.read_maps(os.getpid(), USER_SPAN)
    assert stack is not None
    below = max(e for _, e in text if e <= stack)
    if below < stack:
        assert query.below_stack(stack - mmap.PAGESIZE)
        assert query.below_stack(below)
    assert not query.below_stack(text[0][0])
    assert not query.below_stack(stack)
