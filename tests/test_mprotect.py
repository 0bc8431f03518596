"""mprotect(2): splitting and merging VMAs, what each protection allows, and the errors."""

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
    maps_in,
    new_file,
    pattern,
    smaps_at,
    spans,
    vma_at,
)
from mmapsim import (
    MAP_FIXED,
    MAP_LOCKED,
    MAP_PRIVATE,
    MAP_SHARED,
    O_RDONLY,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    Machine,
    ProcessKilled,
)

DATA = pattern(3 * PAGE)


def _mprotect_error(p, addr, length, prot) -> int:
    with pytest.raises(OSError) as exc:
        p.mprotect(addr, length, prot)
    return exc.value.errno


def _anon3(p):
    """Three anonymous read-write pages that cannot merge with the process's others."""
    a = guarded(p, 3)
    p.mmap(a, 3 * PAGE, RW, ANON | MAP_FIXED)
    return a


def _file3(machine, p, flags=MAP_SHARED):
    fd = new_file(machine, p, "/tmp/f", DATA)
    return p.mmap(0, 3 * PAGE, RW, flags, fd, 0)


@pytest.mark.parametrize("kind", ["anon", "file"])
def test_mprotect_of_the_middle_page_splits_the_mapping_in_three(machine, kind):
    """mprotect of the middle page of three splits the mapping into three VMAs."""
    p = machine.spawn()
    a = _anon3(p) if kind == "anon" else _file3(machine, p)
    assert p.mprotect(a + PAGE, PAGE, PROT_READ) is None
    lines = maps_in(p, a, a + 3 * PAGE)
    assert [(m.start, m.end, m.perms[:3]) for m in lines] == [
        (a, a + PAGE, "rw-"),
        (a + PAGE, a + 2 * PAGE, "r--"),
        (a + 2 * PAGE, a + 3 * PAGE, "rw-"),
    ]
    if kind == "file":
        assert [m.offset for m in lines] == [0, PAGE, 2 * PAGE]


@pytest.mark.parametrize("kind", ["anon", "file"])
def test_mprotect_back_merges_the_three_into_one(machine, kind):
    """Giving the middle page its old protection back merges the three VMAs into one."""
    p = machine.spawn()
    a = _anon3(p) if kind == "anon" else _file3(machine, p)
    p.store(a + PAGE, b"kept")
    p.mprotect(a + PAGE, PAGE, PROT_READ)
    p.mprotect(a + PAGE, PAGE, RW)
    assert spans(p, a, a + 3 * PAGE) == [(a, a + 3 * PAGE, vma_at(p, a).perms)]
    [line] = maps_in(p, a, a + 3 * PAGE)
    assert (line.start, line.end) == (a, a + 3 * PAGE)
    assert p.load(a + PAGE, 4) == b"kept"


def test_mprotect_of_the_first_page_splits_in_two(machine):
    """mprotect of the first page of a mapping splits it into two VMAs."""
    p = machine.spawn()
    a = _file3(machine, p)
    p.mprotect(a, PAGE, PROT_NONE)
    assert spans(p, a, a + 3 * PAGE) == [(a, a + PAGE, "---s"), (a + PAGE, a + 3 * PAGE, "rw-s")]


def test_mprotect_across_two_mappings_changes_both(machine):
    """One mprotect may cover several adjacent mappings."""
    p = machine.spawn()
    a = guarded(p, 2)
    p.mmap(a, PAGE, RW, ANON | MAP_FIXED)
    p.mmap(a + PAGE, PAGE, PROT_READ, ANON | MAP_FIXED)
    p.mprotect(a, 2 * PAGE, PROT_READ | PROT_EXEC)
    assert spans(p, a, a + 2 * PAGE) == [(a, a + 2 * PAGE, "r-xp")]


def test_store_after_PROT_READ_is_SIGSEGV(machine):
    """A store to a page made PROT_READ kills the process with SIGSEGV."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    p.store(a + PAGE, b"before")
    p.mprotect(a + PAGE, PAGE, PROT_READ)
    assert p.load(a + PAGE, 6) == b"before"
    p.store(a, b"still writable")
    with pytest.raises(ProcessKilled) as exc:
        p.store(a + PAGE + 8, b"after")
    assert exc.value.signal == signal.SIGSEGV
    assert exc.value.addr == a + PAGE + 8


def test_PROT_NONE_forbids_loads(machine):
    """A load from a PROT_NONE page kills the process with SIGSEGV."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    p.store(a, b"hidden")
    p.mprotect(a, PAGE, PROT_NONE)
    with pytest.raises(ProcessKilled) as exc:
        p.load(a, 1)
    assert exc.value.signal == signal.SIGSEGV
    assert exc.value.addr == a


def test_PROT_NONE_then_read_again_shows_the_old_contents(machine):
    """Taking access away and giving it back keeps the page's contents."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    p.store(a, b"hidden")
    p.mprotect(a, PAGE, PROT_NONE)
    p.mprotect(a, PAGE, PROT_READ)
    assert p.load(a, 6) == b"hidden"


def test_PROT_WRITE_implies_read_on_x86(machine):
    """On x86 a PROT_WRITE page can be read too, though maps shows -w-."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    p.store(a, b"readable")
    p.mprotect(a, PAGE, PROT_WRITE)
    assert vma_at(p, a).perms == "-w-p"
    assert p.load(a, 8) == b"readable"
    p.store(a, b"W")
    assert p.load(a, 2) == b"We"


def test_mmap_with_PROT_WRITE_alone_is_readable(machine):
    """A mapping made with PROT_WRITE alone can be read on x86."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, PROT_WRITE, ANON)
    assert p.load(a, 4) == bytes(4)


def test_PROT_WRITE_on_a_shared_mapping_of_a_read_only_fd_is_EACCES(machine):
    """PROT_WRITE on a MAP_SHARED mapping of a file opened O_RDONLY is EACCES."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert _mprotect_error(p, a, PAGE, RW) == errno.EACCES
    assert vma_at(p, a).perms == "r--s"
    p.mprotect(a, PAGE, PROT_READ | PROT_EXEC)
    assert vma_at(p, a).perms == "r-xs"


def test_PROT_WRITE_on_a_private_mapping_of_a_read_only_fd_is_fine(machine):
    """PROT_WRITE on a MAP_PRIVATE mapping of a file opened O_RDONLY is allowed."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    a = p.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
    p.mprotect(a, PAGE, RW)
    p.store(a, b"cow")
    assert machine.read_file("/tmp/f") == DATA


def test_unmapped_range_is_ENOMEM(machine):
    """mprotect of pages where nothing is mapped is ENOMEM."""
    p = machine.spawn()
    hole = free_range(p, 2)
    assert _mprotect_error(p, hole, PAGE, PROT_READ) == errno.ENOMEM


def test_ENOMEM_after_a_hole_keeps_the_change_before_it(machine):
    """With a hole in the range, the part before the hole changes and the part after not."""
    p = machine.spawn()
    a = _file3(machine, p)
    p.munmap(a + PAGE, PAGE)
    assert _mprotect_error(p, a, 3 * PAGE, PROT_READ) == errno.ENOMEM
    assert spans(p, a, a + 3 * PAGE) == [
        (a, a + PAGE, "r--s"),
        (a + 2 * PAGE, a + 3 * PAGE, "rw-s"),
    ]


def test_ENOMEM_at_the_start_changes_nothing(machine):
    """With the range's first page unmapped, mprotect fails and changes nothing."""
    p = machine.spawn()
    a = _file3(machine, p)
    p.munmap(a, PAGE)
    assert _mprotect_error(p, a, 3 * PAGE, PROT_READ) == errno.ENOMEM
    assert spans(p, a, a + 3 * PAGE) == [(a + PAGE, a + 3 * PAGE, "rw-s")]


def test_ENOMEM_past_the_end_keeps_the_change(machine):
    """A range that runs past the mapping's end changes the mapping, then fails ENOMEM."""
    p = machine.spawn()
    a = guarded(p, 2)
    fd = new_file(machine, p, "/tmp/f", DATA)
    p.mmap(a, PAGE, RW, MAP_SHARED | MAP_FIXED, fd, 0)
    p.munmap(a + PAGE, PAGE)
    assert _mprotect_error(p, a, 2 * PAGE, PROT_READ) == errno.ENOMEM
    assert spans(p, a, a + 2 * PAGE) == [(a, a + PAGE, "r--s")]


def test_unaligned_address_is_EINVAL(machine):
    """mprotect at an address that is not page-aligned is EINVAL."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    assert _mprotect_error(p, a + 1, PAGE, PROT_READ) == errno.EINVAL
    assert vma_at(p, a).perms[:3] == "rw-"


@pytest.mark.parametrize("prot", [0x10, 0x100, 0x40000000])
def test_unknown_protection_bits_are_EINVAL(machine, prot):
    """A protection bit that x86-64 does not know is EINVAL."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    assert _mprotect_error(p, a, PAGE, PROT_READ | prot) == errno.EINVAL


def test_length_zero_is_fine(machine):
    """mprotect with a zero length succeeds and changes nothing, even where nothing is mapped."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    assert p.mprotect(a, 0, PROT_NONE) is None
    assert vma_at(p, a).perms[:3] == "rw-"
    assert p.mprotect(free_range(p, 1), 0, PROT_READ) is None


def test_length_is_rounded_up_to_a_page(machine):
    """A length that is not a page multiple changes whole pages."""
    p = machine.spawn()
    a = _file3(machine, p)
    p.mprotect(a, PAGE + 1, PROT_READ)
    assert spans(p, a, a + 3 * PAGE) == [
        (a, a + 2 * PAGE, "r--s"),
        (a + 2 * PAGE, a + 3 * PAGE, "rw-s"),
    ]


def test_EACCES_keeps_the_change_before_the_refusing_mapping(machine):
    """When a later mapping refuses the protection (EACCES), the earlier ones keep it."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    a = guarded(p, 2)
    p.mmap(a, PAGE, PROT_READ, ANON | MAP_FIXED)
    p.mmap(a + PAGE, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    assert _mprotect_error(p, a, 2 * PAGE, RW) == errno.EACCES
    assert spans(p, a, a + 2 * PAGE) == [(a, a + PAGE, "rw-p"), (a + PAGE, a + 2 * PAGE, "r--s")]


@pytest.mark.parametrize("grows", [0x01000000, 0x02000000, 0x03000000])
def test_PROT_GROWSDOWN_or_GROWSUP_on_an_ordinary_mapping_is_EINVAL(machine, grows):
    """PROT_GROWSDOWN and PROT_GROWSUP need a mapping that grows that way: EINVAL otherwise."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    assert _mprotect_error(p, a, PAGE, PROT_READ | grows) == errno.EINVAL


@pytest.mark.parametrize("addr", [TASK_SIZE, 2**64 - PAGE])
def test_range_beyond_user_space_is_ENOMEM(machine, addr):
    """mprotect beyond the top of user space is ENOMEM (nothing is mapped there)."""
    p = machine.spawn()
    assert _mprotect_error(p, addr, PAGE, PROT_READ) == errno.ENOMEM


def test_range_wrapping_around_is_ENOMEM(machine):
    """A length that makes the range wrap past the top of the address space is ENOMEM."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    assert _mprotect_error(p, a, 2**64 - PAGE, PROT_READ) == errno.ENOMEM


@pytest.mark.parametrize("kind", ["anon", "file"])
def test_making_a_locked_private_mapping_writable_copies_its_pages(machine, kind):
    """mprotect(PROT_WRITE) of a locked private mapping faults in private copies at once."""
    p = machine.spawn()
    if kind == "anon":
        a = p.mmap(guarded(p, 2), 2 * PAGE, PROT_READ, ANON | MAP_LOCKED | MAP_FIXED)
        assert not p.pagemap(a).exclusive  # the zero frame
    else:
        fd = new_file(machine, p, "/tmp/f", DATA)
        a = p.mmap(0, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_LOCKED, fd, 0)
        assert p.pagemap(a).file_or_shared  # the page-cache frame
    p.mprotect(a, 2 * PAGE, RW)
    for page in (a, a + PAGE):
        info = p.pagemap(page)
        assert info.exclusive
        assert not info.file_or_shared
    assert smaps_at(p, a)["Anonymous"] == 8


@pytest.mark.simonly
@pytest.mark.parametrize("where", ["front", "middle", "back"])
def test_mprotect_that_splits_at_the_map_count_limit_is_ENOMEM(where):
    """At max_map_count mappings, an mprotect that must split a mapping is ENOMEM."""
    with Machine(max_map_count=16, check_invariants=True) as m:
        p = m.spawn()
        a = p.mmap(0, 3 * PAGE, RW, SHARED_ANON)
        fill_to_map_count(p, 16)
        page = {"front": a, "middle": a + PAGE, "back": a + 2 * PAGE}[where]
        assert _mprotect_error(p, page, PAGE, PROT_READ) == errno.ENOMEM
        assert spans(p, a, a + 3 * PAGE) == [(a, a + 3 * PAGE, "rw-s")]
        p.mprotect(a, 3 * PAGE, PROT_READ)  # the whole mapping needs no split
        assert spans(p, a, a + 3 * PAGE) == [(a, a + 3 * PAGE, "r--s")]
