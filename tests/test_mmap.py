"""mmap(2): every argument and flag, the placement rules and the errors, as on Linux."""

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
    free_range,
    maps_in,
    new_file,
    vma_at,
)
from mmapsim import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    PROT_READ,
    PROT_WRITE,
    Machine,
    ProcessKilled,
)

#: A flag bit that no kernel knows (between MAP_FIXED_NOREPLACE and the huge-page bits).
UNKNOWN_MAP_FLAG = 0x800000
DATA = b"0123456789abcdef" * (PAGE // 16) * 2  # two pages


def _mmap_error(p, *args) -> int:
    with pytest.raises(OSError) as exc:
        p.mmap(*args)
    return exc.value.errno


# -- where the mapping goes ----------------------------------------------------


@pytest.mark.parametrize("addr", [0, None])
def test_null_addr_lets_the_kernel_choose_a_page_aligned_address(machine, addr):
    """With a NULL address the kernel picks a page-aligned address inside user space."""
    p = machine.spawn()
    a = p.mmap(addr, PAGE, RW, ANON)
    assert a % PAGE == 0
    assert 0x10000 <= a <= TASK_SIZE - PAGE
    p.store(a, b"x")
    assert p.load(a, 1) == b"x"


def test_second_null_mapping_lies_below_the_first(machine):
    """The kernel places mappings top-down: a second NULL mapping lies below the first."""
    p = machine.spawn()
    first = p.mmap(0, PAGE, RW, ANON)
    second = p.mmap(0, PAGE, RW, ANON)
    assert second + PAGE <= first


def test_free_hint_is_honoured_exactly(machine):
    """A page-aligned hint over free space is used exactly, without MAP_FIXED."""
    p = machine.spawn()
    hint = free_range(p, 4) + PAGE
    assert p.mmap(hint, PAGE, RW, ANON) == hint


def test_unaligned_hint_is_rounded_down_to_a_page(machine):
    """An unaligned hint over free space is rounded down to its page."""
    p = machine.spawn()
    hint = free_range(p, 4) + PAGE
    assert p.mmap(hint + 123, PAGE, RW, ANON) == hint


def test_hint_over_an_existing_mapping_is_moved_elsewhere(machine):
    """A hint that overlaps a mapping is ignored: the new mapping goes elsewhere."""
    p = machine.spawn()
    old = p.mmap(0, 2 * PAGE, RW, ANON)
    p.store(old, b"keep")
    new = p.mmap(old, PAGE, RW, ANON)
    assert new != old
    assert new + PAGE <= old or new >= old + 2 * PAGE
    assert p.load(old, 4) == b"keep"


def test_MAP_FIXED_replaces_what_was_there(machine):
    """MAP_FIXED maps exactly at the address, and the old contents there are gone."""
    p = machine.spawn()
    a = p.mmap(0, 3 * PAGE, RW, ANON)
    for i in range(3):
        p.store(a + i * PAGE, b"old%d" % i)
    assert p.mmap(a + PAGE, PAGE, RW, ANON | MAP_FIXED) == a + PAGE
    assert p.load(a + PAGE, 4) == bytes(4)
    assert p.load(a, 4) == b"old0"
    assert p.load(a + 2 * PAGE, 4) == b"old2"


def test_MAP_FIXED_file_over_anonymous_memory_shows_the_file(machine):
    """MAP_FIXED of a file over anonymous memory shows the file's bytes there."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    p.store(a, b"anon")
    assert p.mmap(a, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, PAGE) == a
    assert p.load(a, 16) == DATA[PAGE : PAGE + 16]


def test_MAP_FIXED_NOREPLACE_over_a_mapping_is_EEXIST(machine):
    """MAP_FIXED_NOREPLACE over an existing mapping fails with EEXIST and changes nothing."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    p.store(a + PAGE, b"still")
    assert _mmap_error(p, a + PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE) == errno.EEXIST
    assert p.load(a + PAGE, 5) == b"still"


def test_MAP_FIXED_NOREPLACE_over_free_space_maps_exactly_there(machine):
    """MAP_FIXED_NOREPLACE over free space maps exactly at the address."""
    p = machine.spawn()
    hint = free_range(p, 3) + PAGE
    assert p.mmap(hint, PAGE, RW, ANON | MAP_FIXED_NOREPLACE) == hint


# -- the mapping types ------------------------------------------------------------


def test_MAP_SHARED_store_reaches_the_file(machine):
    """A store through a MAP_SHARED file mapping changes the file."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, len(DATA), RW, MAP_SHARED, fd, 0)
    p.store(a + 10, b"SHARED")
    assert machine.read_file("/tmp/f") == DATA[:10] + b"SHARED" + DATA[16:]


def test_MAP_PRIVATE_store_never_reaches_the_file(machine):
    """A store through a MAP_PRIVATE file mapping never reaches the file."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, len(DATA), RW, MAP_PRIVATE, fd, 0)
    p.store(a + 10, b"PRIVATE")
    assert p.load(a + 10, 7) == b"PRIVATE"
    p.munmap(a, len(DATA))
    assert machine.read_file("/tmp/f") == DATA


def test_MAP_SHARED_VALIDATE_maps_a_file_shared(machine):
    """MAP_SHARED_VALIDATE with known flags maps a file like MAP_SHARED."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_SHARED_VALIDATE, fd, 0)
    p.store(a, b"V")
    assert machine.read_file("/tmp/f")[:2] == b"V" + DATA[1:2]
    assert vma_at(p, a).perms == "rw-s"


def test_MAP_SHARED_VALIDATE_with_an_unknown_flag_is_EOPNOTSUPP(machine):
    """MAP_SHARED_VALIDATE rejects an unknown flag on a file with EOPNOTSUPP."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    err = _mmap_error(p, 0, PAGE, RW, MAP_SHARED_VALIDATE | UNKNOWN_MAP_FLAG, fd, 0)
    assert err == errno.EOPNOTSUPP


@pytest.mark.parametrize("kind", [MAP_SHARED, MAP_PRIVATE])
def test_unknown_flags_are_ignored_without_validation(machine, kind):
    """MAP_SHARED and MAP_PRIVATE ignore flag bits they do not know."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, PROT_READ, kind | UNKNOWN_MAP_FLAG, fd, 0)
    assert p.load(a, 4) == DATA[:4]


def test_anonymous_MAP_SHARED_VALIDATE_is_EINVAL(machine):
    """MAP_SHARED_VALIDATE is not a mapping type for anonymous memory: EINVAL."""
    p = machine.spawn()
    assert _mmap_error(p, 0, PAGE, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS) == errno.EINVAL


def test_MAP_ANONYMOUS_ignores_fd_and_offset(machine):
    """With MAP_ANONYMOUS the fd and (page-aligned) offset are ignored: zero-filled memory."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, ANON, 99, 12345 * PAGE)
    assert p.load(a, 2 * PAGE) == bytes(2 * PAGE)
    b = p.mmap(0, PAGE, RW, SHARED_ANON, 99, 7 * PAGE)
    assert p.load(b, PAGE) == bytes(PAGE)


def test_MAP_ANONYMOUS_still_needs_an_aligned_offset(machine):
    """Even with MAP_ANONYMOUS an unaligned offset is EINVAL."""
    p = machine.spawn()
    assert _mmap_error(p, 0, PAGE, RW, ANON, -1, 1) == errno.EINVAL


def test_MAP_LOCKED_pages_are_present_at_once(machine):
    """MAP_LOCKED faults every page in during mmap."""
    p = machine.spawn()
    a = p.mmap(0, 3 * PAGE, RW, ANON | MAP_LOCKED)
    assert all(p.pagemap(a + i * PAGE).present for i in range(3))
    assert p.load(a, 3 * PAGE) == bytes(3 * PAGE)


@pytest.mark.parametrize("kind", ["anon", "file"])
def test_MAP_POPULATE_pages_are_present_right_after_mmap(machine, kind):
    """MAP_POPULATE faults every page in during mmap: pagemap shows them present."""
    p = machine.spawn()
    if kind == "anon":
        a = p.mmap(0, 3 * PAGE, RW, ANON | MAP_POPULATE)
    else:
        fd = new_file(machine, p, "/tmp/f", DATA + DATA[:PAGE])
        a = p.mmap(0, 3 * PAGE, RW, MAP_SHARED | MAP_POPULATE, fd, 0)
    assert all(p.pagemap(a + i * PAGE).present for i in range(3))


def test_without_MAP_POPULATE_no_page_is_present(machine):
    """Without MAP_POPULATE (or MAP_LOCKED) an anonymous mapping has no page yet."""
    p = machine.spawn()
    a = p.mmap(0, 3 * PAGE, RW, ANON)
    assert not any(p.pagemap(a + i * PAGE).present for i in range(3))


def test_MAP_NORESERVE_maps_a_large_region_lazily(machine):
    """A large MAP_NORESERVE mapping costs nothing until touched, then works page by page."""
    p = machine.spawn()
    size = 1 << 30
    a = p.mmap(0, size, RW, ANON | MAP_NORESERVE)
    assert not p.pagemap(a + size // 2).present
    p.store(a + size - 1, b"z")
    assert p.load(a + size - 1, 1) == b"z"
    assert not p.pagemap(a).present


# -- length ----------------------------------------------------------------------


def test_length_is_rounded_up_to_whole_pages(machine):
    """A length that is not a page multiple maps whole pages: maps shows them."""
    p = machine.spawn()
    a = p.mmap(0, PAGE + 1, RW, SHARED_ANON)
    line = vma_at(p, a)
    assert (line.start, line.end) == (a, a + 2 * PAGE)
    p.store(a + 2 * PAGE - 1, b"e")
    assert p.load(a + 2 * PAGE - 1, 1) == b"e"


def test_the_page_after_the_rounded_length_is_not_mapped(machine):
    """The rounding stops at the page end: the next page is not part of the mapping."""
    p = machine.spawn()
    hint = free_range(p, 3)
    a = p.mmap(hint, 5000, RW, ANON | MAP_FIXED)
    assert [(m.start, m.end) for m in maps_in(p, a, a + 3 * PAGE)] == [(a, a + 2 * PAGE)]
    with pytest.raises(ProcessKilled) as exc:
        p.load(a + 2 * PAGE, 1)
    assert exc.value.signal == signal.SIGSEGV


def test_file_mapping_offset_selects_the_bytes(machine):
    """The offset argument picks where in the file the mapping starts."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE)
    assert p.load(a, PAGE) == DATA[PAGE:]
    assert vma_at(p, a).offset == PAGE


# -- errors ----------------------------------------------------------------------


def test_length_zero_is_EINVAL(machine):
    """A zero length is EINVAL."""
    p = machine.spawn()
    assert _mmap_error(p, 0, 0, RW, ANON) == errno.EINVAL


def test_unaligned_offset_is_EINVAL(machine):
    """An offset that is not a page multiple is EINVAL."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert _mmap_error(p, 0, PAGE, PROT_READ, MAP_PRIVATE, fd, 100) == errno.EINVAL


def test_unaligned_address_with_MAP_FIXED_is_EINVAL(machine):
    """MAP_FIXED needs a page-aligned address: EINVAL otherwise."""
    p = machine.spawn()
    hint = free_range(p, 2)
    assert _mmap_error(p, hint + 1, PAGE, RW, ANON | MAP_FIXED) == errno.EINVAL
    assert _mmap_error(p, hint + 1, PAGE, RW, ANON | MAP_FIXED_NOREPLACE) == errno.EINVAL


@pytest.mark.parametrize("kind", ["anon", "file"])
def test_no_mapping_type_is_EINVAL(machine, kind):
    """Neither MAP_SHARED nor MAP_PRIVATE (nor MAP_SHARED_VALIDATE) is EINVAL."""
    p = machine.spawn()
    if kind == "anon":
        assert _mmap_error(p, 0, PAGE, RW, MAP_ANONYMOUS) == errno.EINVAL
    else:
        fd = new_file(machine, p, "/tmp/f", DATA)
        assert _mmap_error(p, 0, PAGE, PROT_READ, 0, fd, 0) == errno.EINVAL


@pytest.mark.parametrize("fd", [-1, 99])
def test_bad_fd_is_EBADF(machine, fd):
    """A file mapping of a descriptor that is not open is EBADF."""
    p = machine.spawn()
    assert _mmap_error(p, 0, PAGE, PROT_READ, MAP_PRIVATE, fd, 0) == errno.EBADF


def test_closed_fd_is_EBADF(machine):
    """A file mapping of a closed descriptor is EBADF."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    p.close(fd)
    assert _mmap_error(p, 0, PAGE, PROT_READ, MAP_SHARED, fd, 0) == errno.EBADF


@pytest.mark.parametrize("kind", [MAP_SHARED, MAP_PRIVATE])
def test_write_only_fd_is_EACCES(machine, kind):
    """A file opened O_WRONLY cannot be mapped at all: EACCES."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_WRONLY)
    assert _mmap_error(p, 0, PAGE, PROT_READ, kind, fd, 0) == errno.EACCES


def test_shared_writable_mapping_of_a_read_only_fd_is_EACCES(machine):
    """MAP_SHARED with PROT_WRITE of a file opened O_RDONLY is EACCES."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    assert _mmap_error(p, 0, PAGE, RW, MAP_SHARED, fd, 0) == errno.EACCES
    assert _mmap_error(p, 0, PAGE, PROT_WRITE, MAP_SHARED_VALIDATE, fd, 0) == errno.EACCES


def test_shared_read_only_mapping_of_a_read_only_fd_is_fine(machine):
    """MAP_SHARED with PROT_READ of a file opened O_RDONLY works."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert p.load(a, 8) == DATA[:8]
    assert vma_at(p, a).perms == "r--s"


def test_private_writable_mapping_of_a_read_only_fd_is_fine(machine):
    """MAP_PRIVATE with PROT_WRITE of a file opened O_RDONLY works (copy-on-write)."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    a = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(a, b"mine")
    assert p.load(a, 6) == b"mine" + DATA[4:6]
    assert machine.read_file("/tmp/f") == DATA


@pytest.mark.parametrize("kind", [MAP_SHARED, MAP_PRIVATE])
def test_pipe_read_end_is_ENODEV(machine, kind):
    """A pipe cannot be mapped: its read end gives ENODEV."""
    p = machine.spawn()
    rfd, _ = p.pipe()
    assert _mmap_error(p, 0, PAGE, PROT_READ, kind, rfd, 0) == errno.ENODEV


@pytest.mark.parametrize("kind", [MAP_SHARED, MAP_PRIVATE])
def test_pipe_write_end_is_EACCES(machine, kind):
    """A pipe's write end is not readable, which mmap checks first: EACCES."""
    p = machine.spawn()
    _, wfd = p.pipe()
    assert _mmap_error(p, 0, PAGE, PROT_READ, kind, wfd, 0) == errno.EACCES


@pytest.mark.parametrize("length", [1 << 47, TASK_SIZE + PAGE, 2**64 - PAGE, 2**64 - 1])
def test_length_beyond_user_space_is_ENOMEM(machine, length):
    """A length larger than the 47-bit user address space is ENOMEM."""
    p = machine.spawn()
    assert _mmap_error(p, 0, length, RW, ANON | MAP_NORESERVE) == errno.ENOMEM


@pytest.mark.parametrize(("addr", "npages"), [(TASK_SIZE, 1), (TASK_SIZE - PAGE, 2)])
def test_MAP_FIXED_beyond_user_space_is_ENOMEM(machine, addr, npages):
    """MAP_FIXED at or across the top of user space is ENOMEM."""
    p = machine.spawn()
    assert _mmap_error(p, addr, npages * PAGE, RW, ANON | MAP_FIXED) == errno.ENOMEM


@pytest.mark.simonly
def test_too_many_mappings_is_ENOMEM():
    """Beyond max_map_count mappings in one process, mmap fails with ENOMEM."""
    with Machine(max_map_count=20, check_invariants=True) as m:
        p = m.spawn()
        made = []
        with pytest.raises(OSError) as exc:  # noqa: PT012 - the loop runs until the limit
            for _ in range(40):
                made.append(p.mmap(0, PAGE, RW, SHARED_ANON))
        assert exc.value.errno == errno.ENOMEM
        assert len(p.maps().splitlines()) == 21  # Linux checks map_count > max before adding
        assert all(vma_at(p, a) is not None for a in made)


@pytest.mark.parametrize(("offset", "npages"), [(2**63 - PAGE, 1), (2**63 - 2 * PAGE, 4)])
def test_offset_plus_length_past_the_largest_file_offset_is_EOVERFLOW(machine, offset, npages):
    """A file mapping that would end past the largest file offset is EOVERFLOW."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert _mmap_error(p, 0, npages * PAGE, PROT_READ, MAP_PRIVATE, fd, offset) == errno.EOVERFLOW


def test_negative_offset_is_EOVERFLOW(machine):
    """A negative (page-aligned) offset lies past the largest file offset: EOVERFLOW."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert _mmap_error(p, 0, PAGE, PROT_READ, MAP_PRIVATE, fd, -PAGE) == errno.EOVERFLOW


# -- which error wins -------------------------------------------------------------


def test_unaligned_offset_beats_EBADF(machine):
    """An unaligned offset is reported (EINVAL) before a bad fd (EBADF)."""
    p = machine.spawn()
    assert _mmap_error(p, 0, PAGE, PROT_READ, MAP_PRIVATE, 99, 1) == errno.EINVAL


def test_EBADF_beats_length_zero(machine):
    """A bad fd (EBADF) is reported before a zero length (EINVAL)."""
    p = machine.spawn()
    assert _mmap_error(p, 0, 0, PROT_READ, MAP_PRIVATE, 99, 0) == errno.EBADF


def test_EBADF_beats_a_length_beyond_user_space(machine):
    """A bad fd (EBADF) is reported before a too-long length (ENOMEM)."""
    p = machine.spawn()
    assert _mmap_error(p, 0, 1 << 47, PROT_READ, MAP_PRIVATE, 99, 0) == errno.EBADF


def test_length_zero_beats_no_mapping_type(machine):
    """A zero length is EINVAL even when the mapping type is missing too."""
    p = machine.spawn()
    assert _mmap_error(p, 0, 0, RW, MAP_ANONYMOUS) == errno.EINVAL


def test_length_beyond_user_space_beats_no_mapping_type(machine):
    """A too-long length (ENOMEM) is reported before a missing mapping type (EINVAL)."""
    p = machine.spawn()
    assert _mmap_error(p, 0, 1 << 47, RW, MAP_ANONYMOUS) == errno.ENOMEM


def test_unaligned_MAP_FIXED_address_beats_EACCES(machine):
    """An unaligned MAP_FIXED address (EINVAL) is reported before a write-only fd (EACCES)."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_WRONLY)
    hint = free_range(p, 2)
    assert _mmap_error(p, hint + 1, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == (
        errno.EINVAL
    )


def test_EEXIST_beats_EACCES(machine):
    """MAP_FIXED_NOREPLACE's EEXIST is reported before a write-only fd's EACCES."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_WRONLY)
    a = p.mmap(0, PAGE, RW, ANON)
    flags = MAP_PRIVATE | MAP_FIXED_NOREPLACE
    assert _mmap_error(p, a, PAGE, PROT_READ, flags, fd, 0) == errno.EEXIST


def test_EOVERFLOW_beats_EACCES(machine):
    """A mapping past the largest file offset (EOVERFLOW) is reported before EACCES."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_WRONLY)
    assert _mmap_error(p, 0, PAGE, PROT_READ, MAP_PRIVATE, fd, 2**63 - PAGE) == errno.EOVERFLOW


def test_EACCES_beats_ENODEV(machine):
    """A pipe's write end is EACCES (not readable) before ENODEV (no mmap)."""
    p = machine.spawn()
    _, wfd = p.pipe()
    assert _mmap_error(p, 0, PAGE, RW, MAP_SHARED, wfd, 0) == errno.EACCES


def test_hint_below_mmap_min_addr_is_raised_to_it(machine):
    """A hint below mmap_min_addr (64 KiB) is raised to mmap_min_addr when that is free."""
    p = machine.spawn()
    assert p.mmap(0x1000, PAGE, RW, ANON) == 0x10000


def test_hint_beyond_user_space_is_ignored(machine):
    """A hint beyond the top of user space is ignored: the kernel chooses as for NULL."""
    p = machine.spawn()
    a = p.mmap(1 << 47, PAGE, RW, ANON)
    assert 0x10000 <= a <= TASK_SIZE - PAGE


def test_MAP_FIXED_over_the_middle_of_a_mapping_splits_it(machine):
    """MAP_FIXED over the middle of a file mapping leaves its two ends as separate VMAs."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA + DATA[:PAGE])
    a = p.mmap(0, 3 * PAGE, RW, MAP_SHARED, fd, 0)
    p.mmap(a + PAGE, PAGE, RW, SHARED_ANON | MAP_FIXED)
    lines = maps_in(p, a, a + 3 * PAGE)
    assert [(m.start - a, m.offset, m.name) for m in lines] == [
        (0, 0, "/tmp/f"),
        (PAGE, 0, "/dev/zero (deleted)"),
        (2 * PAGE, 2 * PAGE, "/tmp/f"),
    ]


def test_MAP_FIXED_NOREPLACE_partly_over_a_mapping_is_EEXIST(machine):
    """MAP_FIXED_NOREPLACE is EEXIST even when it overlaps a mapping by a single page."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, SHARED_ANON)
    flags = ANON | MAP_FIXED_NOREPLACE
    assert _mmap_error(p, a - PAGE, 2 * PAGE, RW, flags) == errno.EEXIST
    assert _mmap_error(p, a + PAGE, 2 * PAGE, RW, flags) == errno.EEXIST


def test_MAP_SHARED_VALIDATE_rejects_MAP_FIXED_NOREPLACE(machine):
    """MAP_SHARED_VALIDATE does not know MAP_FIXED_NOREPLACE, so it fails with EOPNOTSUPP."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    hint = free_range(p, 2)
    flags = MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE
    assert _mmap_error(p, hint, PAGE, RW, flags, fd, 0) == errno.EOPNOTSUPP
    assert p.mmap(hint, PAGE, RW, MAP_SHARED_VALIDATE | MAP_FIXED, fd, 0) == hint


def test_MAP_SHARED_of_dev_zero_is_shared_anonymous_memory(machine):
    """A MAP_SHARED mapping of /dev/zero is shared anonymous memory, shared across fork."""
    p = machine.spawn()
    fd = p.open("/dev/zero", O_RDWR)
    a = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    line = vma_at(p, a)
    assert (line.perms, line.name) == ("rw-s", "/dev/zero (deleted)")
    child = p.fork()
    child.store(a, b"via /dev/zero")
    assert p.load(a, 13) == b"via /dev/zero"


def test_MAP_PRIVATE_of_dev_zero_is_private_anonymous_memory(machine):
    """A MAP_PRIVATE mapping of /dev/zero is zero-filled private memory named /dev/zero."""
    p = machine.spawn()
    fd = p.open("/dev/zero", O_RDWR)
    a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE, fd, 0)
    line = vma_at(p, a)
    assert (line.perms, line.name) == ("rw-p", "/dev/zero")
    assert p.load(a, 2 * PAGE) == bytes(2 * PAGE)
    p.store(a, b"own")
    assert not p.pagemap(a).file_or_shared
    assert p.pagemap(a).exclusive


def test_MAP_POPULATE_of_a_writable_private_file_mapping_copies_the_pages(machine):
    """MAP_POPULATE of a writable private file mapping faults in private copies at once."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE | MAP_POPULATE, fd, 0)
    for page in (a, a + PAGE):
        info = p.pagemap(page)
        assert (info.present, info.file_or_shared, info.exclusive) == (True, False, True)
    assert p.load(a, 2 * PAGE) == DATA


def test_MAP_POPULATE_of_a_read_only_private_file_mapping_maps_the_page_cache(machine):
    """MAP_POPULATE of a read-only private file mapping maps the page-cache frames."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    shared = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    a = p.mmap(0, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)
    p.load(shared, 1)
    assert p.pagemap(a).file_or_shared
    assert p.pagemap(a).pfn == p.pagemap(shared).pfn


def test_MAP_POPULATE_stops_quietly_at_the_end_of_the_file(machine):
    """MAP_POPULATE past the end of the file succeeds; the pages beyond stay absent."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:100])
    a = p.mmap(0, 3 * PAGE, RW, MAP_SHARED | MAP_POPULATE, fd, 0)
    assert [p.pagemap(a + i * PAGE).present for i in range(3)] == [True, False, False]
    assert p.alive
