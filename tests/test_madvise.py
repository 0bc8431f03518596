"""madvise(2): every advice with Linux's effect on each kind of VMA, its VmFlags in
smaps, and the errors with their partial effects."""

from __future__ import annotations

import errno

import pytest

from helpers import (
    ANON,
    PAGE,
    RW,
    SHARED_ANON,
    fixed_anon,
    guarded,
    maps_in,
    new_file,
    pattern,
    spans,
    sparse_file,
)
from mmapsim import (
    MADV_COLD,
    MADV_DODUMP,
    MADV_DOFORK,
    MADV_DONTDUMP,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_HUGEPAGE,
    MADV_KEEPONFORK,
    MADV_NOHUGEPAGE,
    MADV_NORMAL,
    MADV_PAGEOUT,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    MADV_WIPEONFORK,
    MAP_PRIVATE,
    MAP_SHARED,
    O_RDONLY,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from vmflags import kb, vmflags

DATA = pattern(4 * PAGE)


def _errno(p, *args) -> int:
    with pytest.raises(OSError) as exc:
        p.madvise(*args)
    return exc.value.errno


def _anon(p, npages=2, prot=RW, flags=ANON):
    """A mapping in a guarded place: it never merges with the process's own."""
    return fixed_anon(p, guarded(p, npages), npages, prot, flags)


def _file(machine, p, flags=MAP_PRIVATE, prot=RW, npages=4):
    fd = new_file(machine, p, "/tmp/f", DATA[: npages * PAGE])
    return p.mmap(0, npages * PAGE, prot, flags, fd, 0), fd


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("advice", [5, 6, 7, 26, 99, 104, -1])
def test_an_unknown_advice_is_einval(machine, advice):
    """An advice Linux does not know is EINVAL."""
    p = machine.spawn()
    assert _errno(p, _anon(p), PAGE, advice) == errno.EINVAL


def test_range_errors(machine):
    """EINVAL for an unaligned address or a wrapping length; a length of 0 is a
    no-op even where nothing is mapped; ENOMEM where nothing is mapped."""
    p = machine.spawn()
    a = _anon(p)
    hole = guarded(p, 2)
    p.munmap(hole, 2 * PAGE)
    assert _errno(p, a + 1, PAGE, MADV_DONTNEED) == errno.EINVAL
    assert _errno(p, a, 2**64 - 1, MADV_DONTNEED) == errno.EINVAL
    assert _errno(p, a + 1, 0, MADV_DONTNEED) == errno.EINVAL
    assert p.madvise(hole, 0, MADV_DONTNEED) is None
    assert _errno(p, hole, PAGE, MADV_DONTNEED) == errno.ENOMEM


def test_a_hole_is_enomem_after_the_mapped_part_took_the_advice(machine):
    """Holes are skipped and reported at the end: the mapped pages are advised."""
    p = machine.spawn()
    base = guarded(p, 8)
    p.munmap(base, 8 * PAGE)
    fixed_anon(p, base, 4)
    assert _errno(p, base + 2 * PAGE, 6 * PAGE, MADV_DONTFORK) == errno.ENOMEM
    assert spans(p, base, base + 8 * PAGE) == [
        (base, base + 2 * PAGE, "rw-p"),
        (base + 2 * PAGE, base + 4 * PAGE, "rw-p"),
    ]
    assert "dc" in vmflags(p, base + 2 * PAGE)
    assert "dc" not in vmflags(p, base)


def test_memory_failure_advice_is_eperm(machine):
    """MADV_HWPOISON and MADV_SOFT_OFFLINE need CAP_SYS_ADMIN: EPERM, nothing poisoned."""
    p = machine.spawn()
    a = _anon(p)
    p.store(a, b"safe")
    for advice in (100, 101):
        assert _errno(p, a, PAGE, advice) == errno.EPERM
        assert _errno(p, a + 1, PAGE, advice) == errno.EINVAL
    assert p.load(a, 4) == b"safe"


# -- MADV_DONTNEED ------------------------------------------------------------------


def test_dontneed_private_anonymous_reads_zero_again(machine):
    """A private anonymous page dropped by MADV_DONTNEED reads zero again."""
    p = machine.spawn()
    a = _anon(p)
    p.store(a, b"gone")
    assert p.madvise(a, PAGE, MADV_DONTNEED) is None
    assert not p.pagemap(a).present
    assert p.load(a, 4) == bytes(4)


def test_dontneed_private_file_reads_the_file_again(machine):
    """The surprise: a private file page loses its private copy and reads the file."""
    p = machine.spawn()
    a, _ = _file(machine, p)
    p.store(a, b"my copy")
    p.madvise(a, PAGE, MADV_DONTNEED)
    assert p.load(a, 7) == DATA[:7]
    assert p.pagemap(a).file_or_shared
    assert kb(p, a, "Private_Dirty") == 0
    assert machine.read_file("/tmp/f") == DATA


def test_dontneed_shared_file_keeps_the_data(machine):
    """A shared page keeps its data in the page cache: the next load sees the store."""
    p = machine.spawn()
    a, _ = _file(machine, p, MAP_SHARED)
    p.store(a, b"kept")
    p.madvise(a, 4 * PAGE, MADV_DONTNEED)
    assert not p.pagemap(a).present
    assert p.load(a, 4) == b"kept"


def test_dontneed_shared_anonymous_keeps_the_data(machine):
    """Shared anonymous memory keeps its data too (and the child still shares it)."""
    p = machine.spawn()
    a = _anon(p, 1, RW, SHARED_ANON)
    p.store(a, b"shm")
    child = p.fork()
    p.madvise(a, PAGE, MADV_DONTNEED)
    assert p.load(a, 3) == b"shm"
    assert p.pagemap(a).pfn == child.pagemap(a).pfn or not child.pagemap(a).present


def test_dontneed_on_a_locked_mapping_is_einval(machine):
    """MADV_DONTNEED refuses locked pages (EINVAL); they keep their data."""
    p = machine.spawn()
    a = _anon(p)
    p.store(a, b"locked")
    p.mlock(a, PAGE)
    assert _errno(p, a, PAGE, MADV_DONTNEED) == errno.EINVAL
    assert p.load(a, 6) == b"locked"


# -- MADV_FREE -------------------------------------------------------------------------


def test_free_keeps_the_data_until_memory_is_short(machine):
    """MADV_FREE pages are clean but keep their data (no memory pressure here);
    a store makes them dirty again."""
    p = machine.spawn()
    a = _anon(p, 1)
    p.store(a, b"lazy")
    assert kb(p, a, "Private_Dirty") == 4
    p.madvise(a, PAGE, MADV_FREE)
    assert p.load(a, 4) == b"lazy"
    assert (kb(p, a, "Private_Clean"), kb(p, a, "Private_Dirty")) == (4, 0)
    p.store(a, b"busy")
    assert (kb(p, a, "Private_Clean"), kb(p, a, "Private_Dirty")) == (0, 4)
    assert p.load(a, 4) == b"busy"


def test_free_is_for_private_anonymous_memory_only(machine):
    """MADV_FREE of a file, of shared memory or of a locked mapping is EINVAL."""
    p = machine.spawn()
    a, _ = _file(machine, p)
    assert _errno(p, a, PAGE, MADV_FREE) == errno.EINVAL
    assert _errno(p, _anon(p, 1, RW, SHARED_ANON), PAGE, MADV_FREE) == errno.EINVAL
    locked = _anon(p)
    p.mlock(locked, PAGE)
    assert _errno(p, locked, PAGE, MADV_FREE) == errno.EINVAL


# -- MADV_REMOVE -------------------------------------------------------------------------


def test_remove_punches_a_hole_in_a_shared_file(machine):
    """MADV_REMOVE frees the file's pages: zeros for every process, the size kept."""
    p = machine.spawn()
    a, fd = _file(machine, p, MAP_SHARED)
    other = machine.spawn()
    b = other.mmap(0, 4 * PAGE, PROT_READ, MAP_SHARED, other.open("/tmp/f", O_RDONLY), 0)
    assert other.load(b + PAGE, 4) == DATA[PAGE : PAGE + 4]
    p.madvise(a + PAGE, 2 * PAGE, MADV_REMOVE)
    assert other.load(b + PAGE, 4) == bytes(4)
    assert p.load(a + 2 * PAGE, 4) == bytes(4)
    content = machine.read_file("/tmp/f")
    assert content == DATA[:PAGE] + bytes(2 * PAGE) + DATA[3 * PAGE :]
    assert p.fstat(fd).st_size == 4 * PAGE


def test_remove_keeps_private_copies(machine):
    """A private copy of a page is no part of the file: the hole leaves it."""
    p = machine.spawn()
    a, fd = _file(machine, p, MAP_SHARED)
    c = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(c, b"mine")
    p.madvise(a, PAGE, MADV_REMOVE)
    assert p.load(c, 4) == b"mine"
    assert p.load(a, 4) == bytes(4)


def test_remove_of_shared_anonymous_memory_frees_it(machine):
    """MADV_REMOVE of shared anonymous memory: the pages read zero again."""
    p = machine.spawn()
    a = _anon(p, 1, RW, SHARED_ANON)
    p.store(a, b"shm")
    p.madvise(a, PAGE, MADV_REMOVE)
    assert p.load(a, 3) == bytes(3)


def test_remove_errors(machine):
    """EINVAL without a file (private anonymous) or over locked pages; EACCES for a
    private or read-only file mapping."""
    p = machine.spawn()
    assert _errno(p, _anon(p), PAGE, MADV_REMOVE) == errno.EINVAL
    private, fd = _file(machine, p)
    assert _errno(p, private, PAGE, MADV_REMOVE) == errno.EACCES
    ro = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, p.open("/tmp/f", O_RDONLY), 0)
    assert _errno(p, ro, PAGE, MADV_REMOVE) == errno.EACCES
    shared = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.mlock(shared, PAGE)
    assert _errno(p, shared, PAGE, MADV_REMOVE) == errno.EINVAL


# -- MADV_WILLNEED, COLD, PAGEOUT ------------------------------------------------------


def test_willneed_reads_ahead_into_the_page_cache(machine):
    """MADV_WILLNEED reads the file's pages into the page cache, mapping nothing."""
    p = machine.spawn()
    fd = sparse_file(p, "/tmp/s", 8 * PAGE)
    a = p.mmap(0, 8 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert p.mincore(a, 8 * PAGE) == bytes(8)
    p.madvise(a + PAGE, 2 * PAGE, MADV_WILLNEED)
    assert p.mincore(a, 8 * PAGE) == bytes([0, 1, 1, 0, 0, 0, 0, 0])
    assert not p.pagemap(a + PAGE).present


def test_willneed_on_anonymous_memory_does_nothing(machine):
    """Without swap there is nothing to read for anonymous memory."""
    p = machine.spawn()
    a = _anon(p)
    assert p.madvise(a, 2 * PAGE, MADV_WILLNEED) is None
    assert p.mincore(a, 2 * PAGE) == bytes(2)


#: How many times a reclaim hint is given before its effect is asked for.  MADV_COLD
#: and MADV_PAGEOUT are hints: the real kernel passes over a page that someone else
#: holds at that moment (its own access sampling, DAMON, on a busy computer), so the
#: host may need the hint again; the simulator takes it the first time.
HINT_TRIES = 5


def _hinted(p, advice, ranges, done, host):
    """Give ``advice`` to each ``(start, pages)`` until ``done()``: once on the
    simulator, HINT_TRIES times at most on the host."""
    for _ in range(HINT_TRIES if host else 1):
        for start, n in ranges:
            p.madvise(start, n * PAGE, advice)
        if done():
            return


def test_cold_makes_pages_old(machine, is_host):
    """MADV_COLD: the pages become old (Referenced 0) and keep their data."""
    p = machine.spawn()
    a = _anon(p)
    p.store(a, DATA[: 2 * PAGE])
    assert kb(p, a, "Referenced") == 8
    _hinted(p, MADV_COLD, [(a, 2)], lambda: kb(p, a, "Referenced") == 0, is_host)
    assert kb(p, a, "Referenced") == 0
    assert p.load(a, 2 * PAGE) == DATA[: 2 * PAGE]


def test_pageout_reclaims_file_pages_and_keeps_anonymous_ones(machine, is_host):
    """MADV_PAGEOUT with no swap: anonymous pages stay; file and shared-memory pages
    mapped by this process alone are unmapped; all keep their data."""
    p = machine.spawn()
    a = _anon(p)
    p.store(a, DATA[: 2 * PAGE])
    f, _ = _file(machine, p, MAP_SHARED)
    p.load(f, 4 * PAGE)
    p.store(f + PAGE, b"dirty")
    s = _anon(p, 1, RW, SHARED_ANON)
    p.store(s, b"shm")

    def gone() -> bool:
        return not any(p.pagemap(va).present for va in (f, f + PAGE, f + 2 * PAGE, f + 3 * PAGE, s))

    _hinted(p, MADV_PAGEOUT, [(a, 2), (f, 4), (s, 1)], gone, is_host)
    assert p.mincore(a, 2 * PAGE) == bytes([1, 1])
    assert p.pagemap(a).present
    assert not any(p.pagemap(f + i * PAGE).present for i in range(4))
    assert not p.pagemap(s).present
    assert p.load(a, 2 * PAGE) == DATA[: 2 * PAGE]
    assert p.load(f + PAGE, 5) == b"dirty"
    assert p.load(f, 4) == DATA[:4]
    assert p.load(s, 3) == b"shm"


@pytest.mark.parametrize("advice", [MADV_COLD, MADV_PAGEOUT])
def test_cold_and_pageout_refuse_locked_pages(machine, advice):
    """MADV_COLD and MADV_PAGEOUT of a locked mapping are EINVAL."""
    p = machine.spawn()
    a = _anon(p)
    p.mlock(a, PAGE)
    assert _errno(p, a, 2 * PAGE, advice) == errno.EINVAL


# -- the flag advices --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("advice", "flag"),
    [
        (MADV_RANDOM, "rr"),
        (MADV_SEQUENTIAL, "sr"),
        (MADV_DONTFORK, "dc"),
        (MADV_WIPEONFORK, "wf"),
        (MADV_DONTDUMP, "dd"),
        (MADV_HUGEPAGE, "hg"),
        (MADV_NOHUGEPAGE, "nh"),
    ],
)
def test_flag_advice_shows_in_vmflags_and_splits_the_vma(machine, advice, flag):
    """The advice sets its VmFlags bit on exactly the range, splitting the VMA."""
    p = machine.spawn()
    a = _anon(p, 3)
    p.madvise(a + PAGE, PAGE, advice)
    assert len(maps_in(p, a, a + 3 * PAGE)) == 3
    assert flag in vmflags(p, a + PAGE)
    assert flag not in vmflags(p, a)
    assert flag not in vmflags(p, a + 2 * PAGE)


@pytest.mark.parametrize(
    ("advice", "undo", "flag"),
    [
        (MADV_RANDOM, MADV_NORMAL, "rr"),
        (MADV_SEQUENTIAL, MADV_NORMAL, "sr"),
        (MADV_RANDOM, MADV_SEQUENTIAL, "rr"),
        (MADV_DONTFORK, MADV_DOFORK, "dc"),
        (MADV_WIPEONFORK, MADV_KEEPONFORK, "wf"),
        (MADV_DONTDUMP, MADV_DODUMP, "dd"),
        (MADV_HUGEPAGE, MADV_NOHUGEPAGE, "hg"),
        (MADV_NOHUGEPAGE, MADV_HUGEPAGE, "nh"),
    ],
)
def test_the_opposite_advice_clears_the_flag_and_the_vma_merges_again(machine, advice, undo, flag):
    """The opposite advice clears the bit; the three parts merge back into one VMA."""
    p = machine.spawn()
    a = _anon(p, 3)
    p.madvise(a + PAGE, PAGE, advice)
    p.madvise(a + PAGE, PAGE, undo)
    assert flag not in vmflags(p, a + PAGE)
    if undo in (MADV_NORMAL, MADV_DOFORK, MADV_KEEPONFORK, MADV_DODUMP):
        assert len(maps_in(p, a, a + 3 * PAGE)) == 1


def test_dontfork_keeps_the_mapping_from_the_child(machine):
    """A MADV_DONTFORK mapping does not exist in a child forked after it."""
    p = machine.spawn()
    a = _anon(p)
    p.store(a, b"parent only")
    p.madvise(a, 2 * PAGE, MADV_DONTFORK)
    child = p.fork()
    assert maps_in(child, a, a + 2 * PAGE) == []
    assert p.load(a, 11) == b"parent only"


def test_wipeonfork_gives_the_child_zeros(machine):
    """A MADV_WIPEONFORK mapping reaches the child empty; the parent keeps its data."""
    p = machine.spawn()
    a = _anon(p)
    p.store(a, b"secret")
    p.madvise(a, 2 * PAGE, MADV_WIPEONFORK)
    child = p.fork()
    assert child.load(a, 6) == bytes(6)
    assert p.load(a, 6) == b"secret"
    assert "wf" in vmflags(child, a)


def test_wipeonfork_is_for_private_anonymous_memory_only(machine):
    """MADV_WIPEONFORK of a file or of shared memory is EINVAL."""
    p = machine.spawn()
    a, _ = _file(machine, p)
    assert _errno(p, a, PAGE, MADV_WIPEONFORK) == errno.EINVAL
    assert _errno(p, _anon(p, 1, RW, SHARED_ANON), PAGE, MADV_WIPEONFORK) == errno.EINVAL


# -- MADV_POPULATE_READ / WRITE ----------------------------------------------------------


def test_populate_read_maps_the_file_pages(machine):
    """POPULATE_READ maps every page as a load would (page cache frames)."""
    p = machine.spawn()
    a, _ = _file(machine, p)
    p.madvise(a, 4 * PAGE, MADV_POPULATE_READ)
    assert all(p.pagemap(a + i * PAGE).file_or_shared for i in range(4))
    assert kb(p, a, "Private_Dirty") == 0


def test_populate_read_of_anonymous_memory_maps_the_zero_page(machine):
    """POPULATE_READ of untouched anonymous memory: present, zero, no Rss."""
    p = machine.spawn()
    a = _anon(p)
    p.madvise(a, 2 * PAGE, MADV_POPULATE_READ)
    assert p.pagemap(a).present
    assert kb(p, a, "Rss") == 0


def test_populate_write_breaks_copy_on_write(machine):
    """POPULATE_WRITE faults for writing: a private file mapping gets its copies."""
    p = machine.spawn()
    a, _ = _file(machine, p)
    p.madvise(a, 2 * PAGE, MADV_POPULATE_WRITE)
    assert kb(p, a, "Private_Dirty") == 8
    assert not p.pagemap(a).file_or_shared
    assert p.load(a, 4) == DATA[:4]


def test_populate_errors(machine):
    """EINVAL where the access is not allowed, ENOMEM for a hole, EFAULT past the
    end of the file after the pages before it are populated."""
    p = machine.spawn()
    ro = _anon(p, 2, PROT_READ)
    p.munmap(ro + 2 * PAGE, PAGE)  # the guard page after it: a hole
    assert _errno(p, ro, 2 * PAGE, MADV_POPULATE_WRITE) == errno.EINVAL
    assert _errno(p, _anon(p, 2, PROT_NONE), 2 * PAGE, MADV_POPULATE_READ) == errno.EINVAL
    assert _errno(p, _anon(p, 2, PROT_WRITE), 2 * PAGE, MADV_POPULATE_READ) == errno.EINVAL
    assert _errno(p, ro, 3 * PAGE, MADV_POPULATE_READ) == errno.ENOMEM
    fd = new_file(machine, p, "/tmp/short", DATA[: 2 * PAGE])
    a = p.mmap(0, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
    assert _errno(p, a, 4 * PAGE, MADV_POPULATE_READ) == errno.EFAULT
    assert p.pagemap(a + PAGE).present
    assert not p.pagemap(a + 2 * PAGE).present


def test_madvise_arguments_are_c_types(machine):
    """Wrong Python types are a TypeError, out-of-range ints an OverflowError."""
    p = machine.spawn()
    with pytest.raises(TypeError):
        p.madvise(0, PAGE, "MADV_DONTNEED")
    with pytest.raises(OverflowError):
        p.madvise(0, PAGE, 2**31)
