"""mremap(2): shrink, grow in place, move keeping bytes, offset and frames, MREMAP_FIXED,
MREMAP_DONTUNMAP, and the errors in Linux's order with their partial effects."""

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
    fixed_anon,
    guarded,
    maps_in,
    new_file,
    pattern,
    spans,
)
from mmapsim import (
    MAP_PRIVATE,
    MAP_SHARED,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_READ,
    ProcessKilled,
)
from vmflags import kb, vmflags

DATA = pattern(4 * PAGE)


def _errno(p, *args) -> int:
    with pytest.raises(OSError) as exc:
        p.mremap(*args)
    return exc.value.errno


def _anon_with_data(p, npages=2, room=16):
    """``npages`` of written private anonymous memory with free pages after them."""
    base = guarded(p, room)
    p.munmap(base, room * PAGE)
    fixed_anon(p, base, npages)
    p.store(base, DATA[: npages * PAGE])
    return base


def test_shrink_keeps_the_front_and_unmaps_the_tail(machine):
    """A shrink stays in place: the front keeps its bytes, the tail is unmapped."""
    p = machine.spawn()
    a = _anon_with_data(p, 4)
    assert p.mremap(a, 4 * PAGE, PAGE) == a
    assert spans(p, a, a + 4 * PAGE) == [(a, a + PAGE, "rw-p")]
    assert p.load(a, PAGE) == DATA[:PAGE]


def test_shrink_may_name_an_old_size_past_the_mapping(machine):
    """Only the address must be mapped for a shrink: the tail it gives up is unmapped
    across the end of the VMA, as munmap would."""
    p = machine.spawn()
    a = _anon_with_data(p, 4)
    assert p.mremap(a, 8 * PAGE, 3 * PAGE) == a
    assert spans(p, a, a + 8 * PAGE) == [(a, a + 3 * PAGE, "rw-p")]


def test_the_same_size_is_the_same_mapping(machine):
    """old_size == new_size without a move changes nothing, even past the VMA's end."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    assert p.mremap(a, 8 * PAGE, 8 * PAGE) == a
    assert spans(p, a, a + 8 * PAGE) == [(a, a + 2 * PAGE, "rw-p")]


def test_grow_in_place_when_the_next_pages_are_free(machine):
    """Growing into free pages keeps the address and the bytes; new pages read zero."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    frame = p.pagemap(a).pfn
    assert p.mremap(a, 2 * PAGE, 6 * PAGE) == a
    assert spans(p, a, a + 8 * PAGE) == [(a, a + 6 * PAGE, "rw-p")]
    assert p.load(a, 2 * PAGE) == DATA[: 2 * PAGE]
    assert p.load(a + 5 * PAGE, 8) == bytes(8)
    assert p.pagemap(a).pfn == frame


def test_grow_in_place_merges_with_the_next_mapping(machine):
    """Grown up to a compatible untouched neighbour, the two VMAs become one."""
    p = machine.spawn()
    base = guarded(p, 8)
    fixed_anon(p, base, 2)
    p.munmap(base + 2 * PAGE, 2 * PAGE)
    fixed_anon(p, base + 4 * PAGE, 4)
    assert p.mremap(base, 2 * PAGE, 4 * PAGE) == base
    assert spans(p, base, base + 8 * PAGE) == [(base, base + 8 * PAGE, "rw-p")]


def test_grow_without_maymove_fails_when_blocked(machine):
    """Without MREMAP_MAYMOVE a growth that would overlap the next mapping is ENOMEM."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    fixed_anon(p, a + 3 * PAGE, 1, PROT_READ)
    assert _errno(p, a, 2 * PAGE, 4 * PAGE) == errno.ENOMEM
    assert spans(p, a, a + 2 * PAGE) == [(a, a + 2 * PAGE, "rw-p")]


def test_grow_from_the_middle_of_a_mapping_cannot_be_in_place(machine):
    """Growing a range that ends inside its VMA needs a move: ENOMEM without MAYMOVE."""
    p = machine.spawn()
    a = _anon_with_data(p, 4)
    assert _errno(p, a, PAGE, 2 * PAGE) == errno.ENOMEM


def test_maymove_moves_the_page_table_entries(machine):
    """A move keeps the bytes and the frames: pagemap shows the same frame at the
    new address, and the old range is unmapped."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    fixed_anon(p, a + 2 * PAGE, 1, PROT_READ)
    frames = [p.pagemap(a + i * PAGE).pfn for i in range(2)]
    b = p.mremap(a, 2 * PAGE, 8 * PAGE, MREMAP_MAYMOVE)
    assert b != a
    assert [p.pagemap(b + i * PAGE).pfn for i in range(2)] == frames
    assert p.load(b, 2 * PAGE) == DATA[: 2 * PAGE]
    assert p.load(b + 7 * PAGE, 4) == bytes(4)
    assert maps_in(p, a, a + 2 * PAGE) == []


def test_a_moved_file_mapping_keeps_its_file_offset(machine):
    """The moved VMA maps the same file pages: its maps offset is the old one's."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 4 * PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a + PAGE, b"moved")
    frame = p.pagemap(a + PAGE).pfn
    target = guarded(p, 4)
    b = p.mremap(a + PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target)
    assert b == target
    [line] = maps_in(p, b, b + 2 * PAGE)
    assert (line.offset, line.name) == (PAGE, "/tmp/f")
    assert p.pagemap(b).pfn == frame
    assert p.load(b, 5) == b"moved"
    assert [m.offset for m in maps_in(p, a, a + 4 * PAGE)] == [0, 3 * PAGE]


def test_mremap_fixed_replaces_what_was_there(machine):
    """MREMAP_FIXED unmaps whatever the destination held, as MAP_FIXED does."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    dest = guarded(p, 4)
    fixed_anon(p, dest, 4)
    p.store(dest, b"old contents")
    assert (
        p.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dest + PAGE) == dest + PAGE
    )
    assert p.load(dest + PAGE, 8) == DATA[:8]
    assert p.load(dest, 12) == b"old contents"
    assert [s[:2] for s in spans(p, dest, dest + 4 * PAGE)] == [
        (dest, dest + PAGE),
        (dest + PAGE, dest + 3 * PAGE),
        (dest + 3 * PAGE, dest + 4 * PAGE),
    ]


def test_mremap_fixed_of_the_same_size_moves_every_mapping_of_the_range(machine):
    """MREMAP_FIXED with old_size == new_size moves all the VMAs of the range and keeps
    the holes between them (Linux 6.17); what the destination held in a hole stays."""
    p = machine.spawn()
    base = guarded(p, 8)
    fixed_anon(p, base, 2)
    p.munmap(base + 2 * PAGE, PAGE)
    fixed_anon(p, base + 3 * PAGE, 2, PROT_READ)
    dest = guarded(p, 8)
    got = p.mremap(base, 5 * PAGE, 5 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dest)
    assert got == dest
    assert spans(p, dest, dest + 5 * PAGE) == [
        (dest, dest + 2 * PAGE, "rw-p"),
        (dest + 2 * PAGE, dest + 3 * PAGE, "---p"),
        (dest + 3 * PAGE, dest + 5 * PAGE, "r--p"),
    ]
    assert maps_in(p, base, base + 5 * PAGE) == []


def test_dontunmap_leaves_an_empty_source(machine):
    """MREMAP_DONTUNMAP moves the pages and keeps the old VMA: it reads zero again,
    the new one has the frames; the old VMA is no longer locked."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    p.mlock(a, 2 * PAGE)
    frame = p.pagemap(a).pfn
    b = p.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)
    assert b != a
    assert p.pagemap(b).pfn == frame
    assert p.load(b, 8) == DATA[:8]
    assert not p.pagemap(a).present
    assert p.load(a, 8) == bytes(8)
    assert "lo" not in vmflags(p, a)
    assert "lo" in vmflags(p, b)
    assert kb(p, b, "Locked") == 8


def test_dontunmap_of_a_private_file_mapping_reads_the_file_again(machine):
    """After MREMAP_DONTUNMAP the old private file mapping sees the file, not its copy."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(a, b"private")
    b = p.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)
    assert p.load(b, 7) == b"private"
    assert p.load(a, 7) == DATA[:7]


def test_a_grown_shared_anonymous_mapping_ends_at_its_object(machine):
    """Shared anonymous memory keeps its size: pages grown past it give SIGBUS."""
    p = machine.spawn()
    base = guarded(p, 4)
    p.munmap(base, 4 * PAGE)
    a = fixed_anon(p, base, 1, RW, SHARED_ANON)
    assert p.mremap(a, PAGE, 2 * PAGE) == a
    with pytest.raises(ProcessKilled) as killed:
        p.load(a + PAGE, 1)
    assert killed.value.signal is signal.SIGBUS


def test_old_size_zero_duplicates_a_shared_mapping(machine):
    """old_size 0 with MREMAP_MAYMOVE makes a second mapping of the same shared pages."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, SHARED_ANON)
    p.store(a, b"twice")
    b = p.mremap(a, 0, PAGE, MREMAP_MAYMOVE)
    assert b != a
    assert p.load(b, 5) == b"twice"
    p.store(b, b"again")
    assert p.load(a, 5) == b"again"


def test_a_grown_locked_mapping_has_its_new_pages_present(machine):
    """Growing a locked mapping faults its new pages in at once."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    p.mlock(a, 2 * PAGE)
    assert p.mremap(a, 2 * PAGE, 4 * PAGE) == a
    assert p.pagemap(a + 3 * PAGE).present
    assert kb(p, a, "Locked") == 16


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param((0, PAGE, PAGE, 8), errno.EINVAL, id="unknown flag"),
        pytest.param((1, PAGE, PAGE, 0), errno.EINVAL, id="unaligned address"),
        pytest.param((0, PAGE, 0, 0), errno.EINVAL, id="new size 0"),
        pytest.param((0, PAGE, 2**64 - 1, 0), errno.EINVAL, id="new size wraps to 0"),
        pytest.param((0, PAGE, TASK_SIZE + PAGE, 1), errno.EINVAL, id="new size beyond user space"),
        pytest.param((0, PAGE, PAGE, 2, 1 << 30), errno.EINVAL, id="fixed without maymove"),
        pytest.param((0, PAGE, PAGE, 3, (1 << 30) + 1), errno.EINVAL, id="fixed unaligned new"),
        pytest.param((0, PAGE, PAGE, 3, TASK_SIZE), errno.EINVAL, id="fixed beyond user space"),
        pytest.param((0, PAGE, PAGE, MREMAP_DONTUNMAP), errno.EINVAL, id="dontunmap alone"),
        pytest.param((0, PAGE, 2 * PAGE, 5), errno.EINVAL, id="dontunmap resizing"),
    ],
)
def test_argument_errors_come_first(machine, args, code):
    """The checks of the arguments fail before any mapping is looked at (EINVAL)."""
    p = machine.spawn()
    assert _errno(p, *args) == code


def test_a_fixed_destination_overlapping_the_source_is_einval(machine):
    """MREMAP_FIXED onto its own range is EINVAL, and nothing moves."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    assert _errno(p, a, 2 * PAGE, 2 * PAGE, 3, a + PAGE) == errno.EINVAL
    assert p.load(a, 8) == DATA[:8]


def test_an_address_in_no_mapping_is_efault(machine):
    """mremap of an address no VMA holds is EFAULT, whatever the sizes."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    hole = a + 8 * PAGE
    for args in ((PAGE, PAGE, 0), (PAGE, 2 * PAGE, 0), (2 * PAGE, PAGE, 0), (PAGE, 2 * PAGE, 1)):
        assert _errno(p, hole, *args) == errno.EFAULT


def test_growing_past_the_end_of_the_vma_is_efault(machine):
    """The range to grow or move must lie in one VMA (EFAULT)."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    assert _errno(p, a, 4 * PAGE, 6 * PAGE, MREMAP_MAYMOVE) == errno.EFAULT


def test_a_failed_fixed_move_leaves_the_destination(machine):
    """EFAULT is found before MREMAP_FIXED unmaps anything: the destination stays."""
    p = machine.spawn()
    base = _anon_with_data(p, 2)
    dest = guarded(p, 8)
    fixed_anon(p, dest, 8)
    p.store(dest + 2 * PAGE, b"kept")
    assert _errno(p, base, 4 * PAGE, 6 * PAGE, 3, dest + PAGE) == errno.EFAULT
    assert p.load(dest + 2 * PAGE, 4) == b"kept"
    assert spans(p, dest, dest + 8 * PAGE) == [(dest, dest + 8 * PAGE, "rw-p")]


def test_old_size_zero_of_a_private_mapping_is_einval(machine):
    """Duplicating a private mapping (old_size 0) is refused with EINVAL."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    assert _errno(p, a, 0, PAGE, MREMAP_MAYMOVE) == errno.EINVAL


def test_mremap_arguments_are_c_types(machine):
    """Wrong Python types are a TypeError, out-of-range ints an OverflowError."""
    p = machine.spawn()
    with pytest.raises(TypeError):
        p.mremap("0", PAGE, PAGE)
    with pytest.raises(OverflowError):
        p.mremap(0, -1, PAGE)


def test_fixed_dontunmap_of_part_of_a_mapping_moves_it_once(machine):
    """MREMAP_FIXED | MREMAP_DONTUNMAP of pages inside one VMA moves them once and
    leaves the source VMA whole (its pages gone)."""
    p = machine.spawn()
    a = _anon_with_data(p, 4)
    dest = guarded(p, 4)
    flags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP
    assert p.mremap(a + PAGE, 2 * PAGE, 2 * PAGE, flags, dest) == dest
    assert p.load(dest, 8) == DATA[PAGE : PAGE + 8]
    assert p.load(a + PAGE, 8) == bytes(8)
    assert p.load(a, 8) == DATA[:8]
    assert spans(p, a, a + 4 * PAGE) == [(a, a + 4 * PAGE, "rw-p")]


def test_a_shrink_whose_tail_leaves_user_space_is_einval(machine):
    """The tail a shrink gives up is unmapped as munmap would: past user space, EINVAL."""
    p = machine.spawn()
    a = _anon_with_data(p, 2)
    assert _errno(p, a, 2**64 - PAGE, PAGE) == errno.EINVAL
    assert spans(p, a, a + 2 * PAGE) == [(a, a + 2 * PAGE, "rw-p")]
