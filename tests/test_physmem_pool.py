"""RAM reused across machines: a bank from the pool holds a former machine's bytes
until each of its pages is given out, and no machine ever sees them."""

from __future__ import annotations

import pytest

from mmapsim import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_RDWR, PAGE_SIZE, Machine
from mmapsim.physmem import BANK_PAGES

pytestmark = pytest.mark.simonly

RW = 3
PAGES = 3 * BANK_PAGES  # more than one bank


def _scribble() -> None:
    """A machine that fills several banks with 0xAA, then goes (its banks join the pool)."""
    with Machine() as m:
        p = m.spawn()
        a = p.mmap(0, PAGES * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        for i in range(PAGES):
            p.store(a + i * PAGE_SIZE, b"\xaa" * PAGE_SIZE)


def test_anonymous_pages_of_a_reused_bank_are_zeros() -> None:
    """Every new anonymous page reads as zeros, after its first write too."""
    _scribble()
    with Machine() as m:
        p = m.spawn()
        a = p.mmap(0, PAGES * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        for i in range(PAGES):
            p.store(a + i * PAGE_SIZE, b"\x01")
            assert p.load(a + i * PAGE_SIZE + 1, PAGE_SIZE - 1) == bytes(PAGE_SIZE - 1)


def test_the_zero_frame_and_file_tails_of_a_reused_bank_are_zeros() -> None:
    """A read of untouched memory, and the tail of a file's last page, are zeros."""
    _scribble()
    with Machine() as m:
        m.write_file("/tmp/short", b"abc")
        p = m.spawn()
        a = p.mmap(0, 2 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        assert p.load(a, PAGE_SIZE) == bytes(PAGE_SIZE)
        fd = p.open("/tmp/short", O_RDWR)
        f = p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0)
        assert p.load(f, PAGE_SIZE) == b"abc" + bytes(PAGE_SIZE - 3)


def test_copy_on_write_copies_over_a_former_machines_bytes() -> None:
    """A copy fills its whole page: the child's bytes and the parent's copy agree."""
    _scribble()
    with Machine() as m:
        p = m.spawn()
        a = p.mmap(0, PAGES * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        for i in range(PAGES):
            p.store(a + i * PAGE_SIZE, bytes([i % 251]) * 16)
        child = p.fork()
        for i in range(PAGES):
            p.store(a + i * PAGE_SIZE, b"\x02")
            want = bytes([i % 251]) * 16 + bytes(PAGE_SIZE - 16)
            assert p.load(a + i * PAGE_SIZE + 1, PAGE_SIZE - 1) == want[1:]
            assert child.load(a + i * PAGE_SIZE, PAGE_SIZE) == want
