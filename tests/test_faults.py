"""Page faults: demand paging, copy-on-write, the zero frame, SIGSEGV, SIGBUS and death."""

from __future__ import annotations

import signal

import pytest

from helpers import ANON, PAGE, RW, SHARED_ANON, free_range, new_file, pattern
from mmapsim import (
    MAP_PRIVATE,
    MAP_SHARED,
    MS_SYNC,
    O_RDONLY,
    PROT_NONE,
    PROT_READ,
    ProcessKilled,
)

DATA = pattern(2 * PAGE)


def _killed(access, *args) -> ProcessKilled:
    with pytest.raises(ProcessKilled) as exc:
        access(*args)
    return exc.value


# -- demand paging ------------------------------------------------------------------


def test_a_page_is_not_present_before_its_first_touch(machine):
    """An anonymous page is absent from pagemap until first touched, then present."""
    p = machine.spawn()
    a = p.mmap(0, 3 * PAGE, RW, ANON)
    assert not p.pagemap(a + PAGE).present
    assert p.pagemap(a + PAGE).pfn is None
    p.store(a + PAGE, b"x")
    assert p.pagemap(a + PAGE).present
    assert p.pagemap(a + PAGE).pfn is not None
    assert not p.pagemap(a).present
    assert not p.pagemap(a + 2 * PAGE).present


def test_a_file_page_is_present_after_a_read(machine):
    """A file page becomes present in pagemap when first read."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert not p.pagemap(a).present
    assert p.load(a, 4) == DATA[:4]
    info = p.pagemap(a)
    assert info.present
    assert info.file_or_shared


# -- copy-on-write of a private file mapping ----------------------------------------------


def test_private_file_page_shares_the_page_cache_frame_until_written(machine):
    """Before its first write a private file page is the page-cache frame itself."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    shared = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    private = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    assert p.load(shared, 1) == p.load(private, 1)
    s, q = p.pagemap(shared), p.pagemap(private)
    assert q.present
    assert q.pfn == s.pfn
    assert q.file_or_shared
    assert not q.exclusive


def test_private_file_page_gets_its_own_frame_when_written(machine):
    """The first write to a private file page copies it into a frame of its own."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    shared = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    private = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.load(shared, 1)
    p.load(private, 1)
    p.store(private + 8, b"copy")
    s, q = p.pagemap(shared), p.pagemap(private)
    assert q.pfn != s.pfn
    assert q.exclusive
    assert not q.file_or_shared
    assert s.file_or_shared
    assert p.load(private, PAGE) == DATA[:8] + b"copy" + DATA[12:PAGE]
    assert p.load(shared, PAGE) == DATA[:PAGE]


def test_write_first_to_a_private_file_page_copies_at_once(machine):
    """A store as the first touch of a private file page maps a private copy directly."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    private = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(private, b"!")
    q = p.pagemap(private)
    assert q.exclusive
    assert not q.file_or_shared
    assert p.load(private, 4) == b"!" + DATA[1:4]


def test_private_page_sees_file_changes_until_written(machine):
    """An unwritten private page shows later changes to the file; a written one does not."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE, fd, 0)
    p.load(a, 1)
    p.load(a + PAGE, 1)
    p.store(a + PAGE, b"mine")
    p.pwrite(fd, b"FILE", 0)
    p.pwrite(fd, b"FILE", PAGE)
    assert p.load(a, 4) == b"FILE"
    assert p.load(a + PAGE, 4) == b"mine"


# -- the zero frame -----------------------------------------------------------------


def test_anonymous_reads_map_the_one_zero_frame(machine):
    """Reading untouched anonymous pages maps one shared zero frame, not exclusive."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    b = p.mmap(0, PAGE, PROT_READ, ANON)
    assert p.load(a, PAGE) == bytes(PAGE)
    assert p.load(a + PAGE, 8) == bytes(8)
    assert p.load(b, 8) == bytes(8)
    zero = p.pagemap(a)
    assert zero.present
    assert p.pagemap(a + PAGE).pfn == zero.pfn
    assert p.pagemap(b).pfn == zero.pfn
    assert not zero.exclusive
    assert not zero.file_or_shared


def test_writing_an_anonymous_page_replaces_the_zero_frame(machine):
    """A store to an anonymous page read before gives it a frame of its own."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    p.load(a, 1)
    p.load(a + PAGE, 1)
    zero = p.pagemap(a + PAGE).pfn
    p.store(a, b"w")
    info = p.pagemap(a)
    assert info.pfn != zero
    assert info.exclusive
    assert not info.file_or_shared
    assert p.pagemap(a + PAGE).pfn == zero


def test_shared_anonymous_pages_are_not_the_zero_frame(machine):
    """A read of shared anonymous memory maps a frame of its own, marked shared."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, SHARED_ANON)
    p.load(a, 1)
    p.load(a + PAGE, 1)
    first, second = p.pagemap(a), p.pagemap(a + PAGE)
    assert first.present
    assert first.file_or_shared
    assert first.pfn != second.pfn


# -- SIGSEGV ----------------------------------------------------------------------


@pytest.mark.parametrize("access", ["load", "store"])
def test_access_to_unmapped_memory_is_SIGSEGV(machine, access):
    """A load or store where nothing is mapped kills the process with SIGSEGV."""
    p = machine.spawn()
    hole = free_range(p, 2)
    if access == "load":
        killed = _killed(p.load, hole + 100, 4)
    else:
        killed = _killed(p.store, hole + 100, b"boom")
    assert killed.signal == signal.SIGSEGV
    assert killed.addr == hole + 100
    assert killed.pid == p.pid


def test_store_to_a_read_only_mapping_is_SIGSEGV(machine):
    """A store to a PROT_READ mapping kills the process with SIGSEGV."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    killed = _killed(p.store, a + 3, b"x")
    assert killed.signal == signal.SIGSEGV
    assert killed.addr == a + 3
    assert machine.read_file("/tmp/f") == DATA


def test_load_from_a_PROT_NONE_mapping_is_SIGSEGV(machine):
    """A load from a PROT_NONE mapping kills the process with SIGSEGV."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, PROT_NONE, ANON)
    assert _killed(p.load, a, 1).signal == signal.SIGSEGV


def test_access_running_off_the_end_of_a_mapping_faults_at_the_next_page(machine):
    """A load that runs past a mapping's end faults at the first unmapped byte."""
    p = machine.spawn()
    hole = free_range(p, 2)
    a = p.mmap(hole, PAGE, RW, ANON)
    assert a == hole
    killed = _killed(p.load, a + PAGE - 4, 8)
    assert killed.signal == signal.SIGSEGV
    assert killed.addr == a + PAGE


# -- SIGBUS and the end of the file ---------------------------------------------------


def test_page_wholly_beyond_end_of_file_is_SIGBUS(machine):
    """A page of a file mapping wholly beyond the end of the file gives SIGBUS."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:100])
    a = p.mmap(0, 3 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert p.load(a, 100) == DATA[:100]
    killed = _killed(p.load, a + PAGE + 10, 1)
    assert killed.signal == signal.SIGBUS
    assert killed.addr == a + PAGE + 10
    assert p.term_signal == signal.SIGBUS


def test_store_beyond_end_of_file_through_a_private_mapping_is_SIGBUS(machine):
    """Private mappings get SIGBUS beyond end of file too, even for a store."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:100])
    a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE, fd, 0)
    assert _killed(p.store, a + PAGE, b"x").signal == signal.SIGBUS


def test_ftruncate_shrinking_a_mapped_file_makes_the_cut_pages_SIGBUS(machine):
    """After ftruncate shrinks a mapped file, its cut pages give SIGBUS."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    assert p.load(a + PAGE, 4) == DATA[PAGE : PAGE + 4]
    p.ftruncate(fd, 10)
    assert p.load(a, 10) == DATA[:10]
    assert p.load(a + 10, 10) == bytes(10)
    killed = _killed(p.load, a + PAGE, 4)
    assert killed.signal == signal.SIGBUS
    assert killed.addr == a + PAGE


def test_ftruncate_growing_a_mapped_file_makes_the_pages_readable(machine):
    """After ftruncate grows a mapped file, the new pages read as zeros."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:100])
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    p.ftruncate(fd, 2 * PAGE)
    assert p.load(a + PAGE, PAGE) == bytes(PAGE)


def test_tail_of_the_last_page_reads_zeros(machine):
    """The bytes of the last page past the end of the file read as zeros."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:100])
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert p.load(a, PAGE) == DATA[:100] + bytes(PAGE - 100)


def test_store_in_the_tail_never_reaches_the_file(machine):
    """A store past the end of the file, in the last page, never reaches the file."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:100])
    a = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a + 200, b"tail")
    assert p.load(a + 200, 4) == b"tail"
    p.msync(a, PAGE, MS_SYNC)
    p.fsync(fd)
    assert p.fstat(fd).st_size == 100
    assert machine.read_file("/tmp/f") == DATA[:100]
    assert p.pread(fd, PAGE, 0) == DATA[:100]


# -- the death of a process ----------------------------------------------------------


def test_a_killed_process_is_dead_with_its_signal(machine):
    """After a fatal fault the process is not alive and its term_signal is the signal."""
    p = machine.spawn()
    hole = free_range(p, 1)
    _killed(p.load, hole, 1)
    assert not p.alive
    assert p.term_signal == signal.SIGSEGV
    assert p.exit_status is None
    assert p not in machine.processes


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.mmap(0, PAGE, RW, ANON),
        lambda p: p.load(0x10000, 1),
        lambda p: p.store(0x10000, b"x"),
        lambda p: p.maps(),
        lambda p: p.open("/tmp/f", O_RDONLY),
        lambda p: p.fork(),
        lambda p: p.pagemap(0x10000),
    ],
    ids=["mmap", "load", "store", "maps", "open", "fork", "pagemap"],
)
def test_later_calls_on_a_killed_process_raise_ProcessLookupError(machine, call):
    """Every call on a process killed by a signal raises ProcessLookupError."""
    p = machine.spawn()
    hole = free_range(p, 1)
    _killed(p.store, hole, b"x")
    with pytest.raises(ProcessLookupError):
        call(p)


def test_a_killed_process_leaves_the_others_running(machine):
    """A fatal fault kills only the faulting process; a shared file keeps its data."""
    p, q = machine.spawn(), machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a, b"before death")
    _killed(p.load, free_range(p, 1), 1)
    assert q.alive
    assert q.mmap(0, PAGE, RW, ANON)
    assert machine.read_file("/tmp/f")[:12] == b"before death"


def test_a_copied_private_page_beyond_the_new_end_of_file_is_SIGBUS(machine):
    """Shrinking a file drops even the private copies of its cut pages: they give SIGBUS."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(a + PAGE, b"my copy")
    p.ftruncate(fd, 100)
    killed = _killed(p.load, a + PAGE, 1)
    assert killed.signal == signal.SIGBUS


def test_shrinking_then_growing_a_mapped_file_shows_zeros(machine):
    """After a mapped file is cut and grown again, the cut bytes read as zeros."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    assert p.load(a + PAGE, 4) == DATA[PAGE : PAGE + 4]
    p.ftruncate(fd, 10)
    p.ftruncate(fd, 2 * PAGE)
    assert p.load(a + 8, 4) == DATA[8:10] + bytes(2)
    assert p.load(a + PAGE, 4) == bytes(4)


def test_growing_the_file_does_not_reveal_a_store_in_the_old_tail(machine):
    """A store in the tail past the end of file stays out of the file when the file grows."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:100])
    a = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a + 200, b"tail")
    p.ftruncate(fd, 300)
    assert p.pread(fd, 4, 200) == bytes(4)


def test_a_store_across_into_a_read_only_page_faults_at_its_first_byte(machine):
    """A store that runs from a writable page into a read-only one faults at the boundary."""
    p = machine.spawn()
    hole = free_range(p, 2)
    a = p.mmap(hole, 2 * PAGE, RW, SHARED_ANON)
    p.mprotect(a + PAGE, PAGE, PROT_READ)
    killed = _killed(p.store, a + PAGE - 2, b"abcd")
    assert killed.signal == signal.SIGSEGV
    assert killed.addr == a + PAGE


def test_a_load_across_the_end_of_file_faults_at_the_first_page_beyond_it(machine):
    """A load that runs from the last file page into the next one gets SIGBUS there."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:100])
    a = p.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
    killed = _killed(p.load, a + PAGE - 2, 4)
    assert killed.signal == signal.SIGBUS
    assert killed.addr == a + PAGE
