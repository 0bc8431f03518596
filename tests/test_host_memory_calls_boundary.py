"""The memory boundary for mremap, madvise, mincore and the locking calls on HostMachine:
a range over the worker's own pages is refused before the kernel, and the pages the
program moves with mremap stay the program's."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from mmapsim import (
    MADV_DONTNEED,
    MADV_FREE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
)
from mmapsim.host.boundary import HostRefused

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux"),
    pytest.mark.hostonly,
]

PAGE = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


@pytest.fixture
def host() -> Iterator[object]:
    from mmapsim.host import HostMachine

    with HostMachine() as m:
        yield m


def _worker_page(p: object) -> int:
    """The start of a mapping of the worker's interpreter (a libc or python line)."""
    for line in p.maps().splitlines():  # type: ignore[attr-defined]
        if "libc" in line or "python" in line:
            return int(line.split("-", 1)[0], 16)
    raise AssertionError("no interpreter mapping in maps()")


@pytest.mark.parametrize("advice", [MADV_DONTNEED, MADV_FREE])
def test_madvise_over_the_worker_is_refused(host, advice):
    """madvise of the interpreter's pages never reaches the kernel."""
    p = host.spawn()
    with pytest.raises(HostRefused):
        p.madvise(_worker_page(p), PAGE, advice)
    a = p.mmap(0, PAGE, RW, ANON)
    p.store(a, b"alive")
    assert p.load(a, 5) == b"alive"


def test_mremap_of_the_worker_is_refused(host):
    """Neither the worker's pages nor a destination over them can be remapped."""
    p = host.spawn()
    worker = _worker_page(p)
    with pytest.raises(HostRefused):
        p.mremap(worker, PAGE, 2 * PAGE, MREMAP_MAYMOVE)
    a = p.mmap(0, PAGE, RW, ANON)
    with pytest.raises(HostRefused):
        p.mremap(a, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, worker)
    with pytest.raises(HostRefused):
        p.mremap(a, 64 * PAGE, PAGE)  # a shrink would unmap whatever follows
    p.store(a, b"still")


def test_locking_and_mincore_stop_where_the_worker_begins(host):
    """mlock and mincore over the worker's pages are refused at their first page."""
    p = host.spawn()
    worker = _worker_page(p)
    with pytest.raises(HostRefused):
        p.mlock(worker, PAGE)
    with pytest.raises(HostRefused):
        p.munlock(worker, PAGE)
    with pytest.raises(HostRefused):
        p.mincore(worker, PAGE)


def test_a_zero_length_lock_inside_a_worker_page_is_refused(host):
    """mlock(addr, 0) of an address inside a page locks that page (the kernel rounds
    the start down and the length up): over the worker's page it is refused."""
    p = host.spawn()
    worker = _worker_page(p)
    for call in (p.mlock, p.munlock):
        with pytest.raises(HostRefused):
            call(worker + 1, 0)
    with pytest.raises(HostRefused):
        p.mlock2(worker + 1, 0, 0)


def test_moved_pages_stay_the_programs(host):
    """After mremap moves a mapping, its new place is the program's and the old is not."""
    p = host.spawn()
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    p.store(a, b"moving")
    b = p.mremap(a, 2 * PAGE, 64 * PAGE, MREMAP_MAYMOVE)
    assert p.load(b, 6) == b"moving"
    p.store(b + 63 * PAGE, b"end")
    assert b in p.pages
    c = p.mremap(b, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)
    assert p.load(c, 6) == b"moving"
    assert p.load(b, 6) == bytes(6)
