"""munmap(2): whole and partial unmapping, ranges with holes, and the errors, as on Linux."""

from __future__ import annotations

import errno
import signal

import pytest

from helpers import (
    ANON,
    PAGE,
    RW,
    SHARED_ANON,
    TASK_SIZE,
    fill_to_map_count,
    free_range,
    guarded,
    is_unmapped,
    maps_in,
    new_file,
    pattern,
)
from mmapsim import MAP_FIXED, MAP_SHARED, O_RDONLY, O_RDWR, PROT_READ, Machine, ProcessKilled

DATA = pattern(4 * PAGE)


def _munmap_error(p, addr, length) -> int:
    with pytest.raises(OSError) as exc:
        p.munmap(addr, length)
    return exc.value.errno


def _file_mapping(machine, p, npages=4):
    """A shared mapping of a fresh file: its VMA never merges with the process's others."""
    fd = new_file(machine, p, "/tmp/f", DATA[: npages * PAGE])
    return p.mmap(0, npages * PAGE, RW, MAP_SHARED, fd, 0)


def test_munmap_of_a_whole_mapping_removes_it(machine):
    """munmap of the address and length that mmap used removes the whole mapping."""
    p = machine.spawn()
    a = _file_mapping(machine, p)
    assert p.munmap(a, 4 * PAGE) is None
    assert is_unmapped(p, a, a + 4 * PAGE)


def test_munmap_of_the_front_keeps_the_back(machine):
    """Unmapping the first pages leaves the rest mapped at its file offset."""
    p = machine.spawn()
    a = _file_mapping(machine, p)
    p.munmap(a, PAGE)
    [line] = maps_in(p, a, a + 4 * PAGE)
    assert (line.start, line.end, line.offset) == (a + PAGE, a + 4 * PAGE, PAGE)
    assert p.load(a + PAGE, 8) == DATA[PAGE : PAGE + 8]


def test_munmap_of_the_back_keeps_the_front(machine):
    """Unmapping the last pages leaves the front mapped."""
    p = machine.spawn()
    a = _file_mapping(machine, p)
    p.munmap(a + 2 * PAGE, 2 * PAGE)
    [line] = maps_in(p, a, a + 4 * PAGE)
    assert (line.start, line.end, line.offset) == (a, a + 2 * PAGE, 0)


def test_munmap_of_the_middle_splits_the_mapping_in_two(machine):
    """Unmapping the middle splits the mapping into two VMAs in maps."""
    p = machine.spawn()
    a = _file_mapping(machine, p)
    p.munmap(a + PAGE, 2 * PAGE)
    lines = maps_in(p, a, a + 4 * PAGE)
    assert [(m.start, m.end, m.offset) for m in lines] == [
        (a, a + PAGE, 0),
        (a + 3 * PAGE, a + 4 * PAGE, 3 * PAGE),
    ]
    assert p.load(a + 3 * PAGE, 8) == DATA[3 * PAGE : 3 * PAGE + 8]


def test_munmap_of_the_middle_of_anonymous_memory_splits_it(machine):
    """Unmapping the middle page of anonymous memory leaves two VMAs, contents kept."""
    p = machine.spawn()
    a = guarded(p, 3)
    p.mmap(a, 3 * PAGE, RW, ANON | MAP_FIXED)
    p.store(a, b"first")
    p.store(a + 2 * PAGE, b"last")
    p.munmap(a + PAGE, PAGE)
    lines = maps_in(p, a, a + 3 * PAGE)
    assert [(m.start, m.end) for m in lines] == [(a, a + PAGE), (a + 2 * PAGE, a + 3 * PAGE)]
    assert p.load(a, 5) == b"first"
    assert p.load(a + 2 * PAGE, 4) == b"last"


def test_munmap_across_several_mappings_and_holes_is_not_an_error(machine):
    """One munmap may cover several mappings and the holes between them."""
    p = machine.spawn()
    base = free_range(p, 7)
    for i in (1, 3, 5):
        p.mmap(base + i * PAGE, PAGE, RW, SHARED_ANON | MAP_FIXED)
    assert len(maps_in(p, base, base + 7 * PAGE)) == 3
    assert p.munmap(base, 7 * PAGE) is None
    assert is_unmapped(p, base, base + 7 * PAGE)


def test_munmap_of_an_unmapped_range_is_not_an_error(machine):
    """munmap of a range where nothing is mapped succeeds and does nothing."""
    p = machine.spawn()
    hole = free_range(p, 4)
    assert p.munmap(hole, 4 * PAGE) is None
    assert p.munmap(0x10000, PAGE) is None


def test_munmap_rounds_the_length_up_to_a_page(machine):
    """A length that is not a page multiple unmaps whole pages."""
    p = machine.spawn()
    a = _file_mapping(machine, p)
    p.munmap(a, 1)
    [line] = maps_in(p, a, a + 4 * PAGE)
    assert line.start == a + PAGE


def test_access_after_munmap_is_SIGSEGV(machine):
    """A load from an unmapped page kills the process with SIGSEGV at that address."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    p.store(a + PAGE, b"gone soon")
    p.munmap(a + PAGE, PAGE)
    assert p.load(a, 1) == b"\0"
    with pytest.raises(ProcessKilled) as exc:
        p.load(a + PAGE + 16, 4)
    assert exc.value.signal == signal.SIGSEGV
    assert exc.value.addr == a + PAGE + 16
    assert exc.value.pid == p.pid
    assert not p.alive
    assert p.term_signal == signal.SIGSEGV


def test_store_after_munmap_is_SIGSEGV(machine):
    """A store to an unmapped page kills the process with SIGSEGV."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    p.munmap(a, PAGE)
    with pytest.raises(ProcessKilled) as exc:
        p.store(a, b"x")
    assert exc.value.signal == signal.SIGSEGV
    assert exc.value.addr == a


def test_data_written_through_a_shared_mapping_survives_munmap(machine):
    """What was stored through a shared mapping is in the file after munmap."""
    p = machine.spawn()
    a = _file_mapping(machine, p)
    p.store(a + PAGE + 5, b"kept")
    p.munmap(a, 4 * PAGE)
    want = DATA[: PAGE + 5] + b"kept" + DATA[PAGE + 9 :]
    assert machine.read_file("/tmp/f") == want
    fd = p.open("/tmp/f", O_RDONLY)
    b = p.mmap(0, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert p.load(b + PAGE + 5, 4) == b"kept"


def test_length_zero_is_EINVAL(machine):
    """munmap with a zero length is EINVAL."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    assert _munmap_error(p, a, 0) == errno.EINVAL
    assert p.load(a, 1) == b"\0"


def test_unaligned_address_is_EINVAL(machine):
    """munmap at an address that is not page-aligned is EINVAL and unmaps nothing."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    assert _munmap_error(p, a + 1, PAGE) == errno.EINVAL
    assert p.load(a, 1) == b"\0"


@pytest.mark.parametrize(
    ("addr", "length"),
    [(TASK_SIZE, PAGE), (TASK_SIZE - PAGE, 2 * PAGE), (1 << 48, PAGE), (PAGE, 2**64 - PAGE)],
)
def test_range_outside_user_space_is_EINVAL(machine, addr, length):
    """munmap of a range that reaches past user space is EINVAL."""
    p = machine.spawn()
    assert _munmap_error(p, addr, length) == errno.EINVAL


def test_munmap_of_a_mapping_in_one_process_leaves_another_process_alone(machine):
    """Unmapping a shared file page in one process leaves it mapped in another."""
    p, q = machine.spawn(), machine.spawn()
    a = _file_mapping(machine, p)
    fd = q.open("/tmp/f", O_RDWR)
    b = q.mmap(0, 4 * PAGE, RW, MAP_SHARED, fd, 0)
    p.munmap(a, 4 * PAGE)
    q.store(b, b"Q")
    assert q.load(b, 2) == b"Q" + DATA[1:2]


@pytest.mark.simonly
def test_munmap_in_the_middle_at_the_map_count_limit_is_ENOMEM():
    """At max_map_count mappings, a munmap that would cut one mapping in two is ENOMEM."""
    with Machine(max_map_count=16, check_invariants=True) as m:
        p = m.spawn()
        a = p.mmap(0, 3 * PAGE, RW, SHARED_ANON)
        fill_to_map_count(p, 16)
        assert _munmap_error(p, a + PAGE, PAGE) == errno.ENOMEM
        assert [(x.start, x.end) for x in maps_in(p, a, a + 3 * PAGE)] == [(a, a + 3 * PAGE)]
        p.munmap(a, PAGE)  # cutting off an end adds no mapping
        p.munmap(a + 2 * PAGE, PAGE)
        assert [(x.start, x.end) for x in maps_in(p, a, a + 3 * PAGE)] == [(a + PAGE, a + 2 * PAGE)]
