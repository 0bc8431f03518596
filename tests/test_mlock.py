"""mincore(2) and the memory-locking calls (mlock, mlock2, munlock, mlockall,
munlockall): residency, pages made present, smaps Locked and VmFlags lo/lf,
MCL_FUTURE, msync's EBUSY, and the errors with their partial effects."""

from __future__ import annotations

import errno

import pytest

from helpers import (
    ANON,
    PAGE,
    RW,
    SHARED_ANON,
    TASK_SIZE,
    fixed_anon,
    guarded,
    new_file,
    pattern,
    spans,
)
from mmapsim import (
    MADV_DONTNEED,
    MAP_PRIVATE,
    MAP_SHARED,
    MCL_CURRENT,
    MCL_FUTURE,
    MCL_ONFAULT,
    MLOCK_ONFAULT,
    MS_INVALIDATE,
    MS_SYNC,
    PROT_NONE,
    PROT_READ,
)
from vmflags import kb, vmflags

DATA = pattern(4 * PAGE)


def _fails(call, *args) -> int:
    with pytest.raises(OSError) as exc:
        call(*args)
    return exc.value.errno


def _anon(p, npages=4, prot=RW, flags=ANON):
    return fixed_anon(p, guarded(p, npages), npages, prot, flags)


def _present(p, a, npages):
    return [p.pagemap(a + i * PAGE).present for i in range(npages)]


# -- mincore ---------------------------------------------------------------------------


def test_mincore_follows_the_pages_a_process_touches(machine):
    """Untouched anonymous pages are not resident; a read (the zero page) or a write
    makes a page resident."""
    p = machine.spawn()
    a = _anon(p)
    assert p.mincore(a, 4 * PAGE) == bytes(4)
    p.load(a, 1)
    p.store(a + 2 * PAGE, b"x")
    assert p.mincore(a, 4 * PAGE) == bytes([1, 0, 1, 0])
    p.madvise(a, 4 * PAGE, MADV_DONTNEED)
    assert p.mincore(a, 4 * PAGE) == bytes(4)


def test_mincore_sees_the_page_cache(machine):
    """A file page in the page cache is resident for every mapping of the file,
    mapped by this process or not; so is shared memory whose PTE was dropped."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
    assert p.mincore(a, 4 * PAGE) == bytes([1] * 4)
    assert not p.pagemap(a).present
    s = _anon(p, 2, RW, SHARED_ANON)
    p.store(s + PAGE, b"x")
    p.madvise(s, 2 * PAGE, MADV_DONTNEED)
    assert p.mincore(s, 2 * PAGE) == bytes([0, 1])


def test_mincore_lengths_and_errors(machine):
    """The length is rounded up to pages, 0 gives nothing; EINVAL for an unaligned
    address, ENOMEM where a page is in no mapping or beyond user space."""
    p = machine.spawn()
    a = _anon(p, 2)
    p.munmap(a + 2 * PAGE, PAGE)  # the guard pages: holes
    p.munmap(a - PAGE, PAGE)
    p.store(a, b"x")
    assert p.mincore(a, 1) == b"\x01"
    assert p.mincore(a, PAGE + 1) == b"\x01\x00"
    assert p.mincore(a, 0) == b""
    assert _fails(p.mincore, a + 1, PAGE) == errno.EINVAL
    assert _fails(p.mincore, a, 3 * PAGE) == errno.ENOMEM
    assert _fails(p.mincore, a - PAGE, 2 * PAGE) == errno.ENOMEM
    assert _fails(p.mincore, a, 2**64 - PAGE) == errno.ENOMEM
    assert _fails(p.mincore, TASK_SIZE - PAGE, 2 * PAGE) == errno.ENOMEM


# -- mlock, mlock2, munlock --------------------------------------------------------------


def test_mlock_makes_the_pages_present_and_locked(machine):
    """mlock faults every page in (for writing in a private writable mapping), and
    smaps shows them Locked with VmFlags lo."""
    p = machine.spawn()
    a = _anon(p)
    assert p.mlock(a, 4 * PAGE) is None
    assert _present(p, a, 4) == [True] * 4
    assert kb(p, a, "Locked") == 16
    assert kb(p, a, "Private_Dirty") == 16
    assert "lo" in vmflags(p, a)


def test_mlock_rounds_the_address_down_and_the_end_up(machine):
    """mlock(a + 1, PAGE) locks the two pages that the bytes touch, splitting the VMA."""
    p = machine.spawn()
    a = _anon(p)
    p.mlock(a + 1, PAGE)
    assert [s[:2] for s in spans(p, a, a + 4 * PAGE)] == [
        (a, a + 2 * PAGE),
        (a + 2 * PAGE, a + 4 * PAGE),
    ]
    assert kb(p, a, "Locked") == 8
    assert "lo" not in vmflags(p, a + 2 * PAGE)


def test_a_zero_length_mlock_inside_a_page_locks_that_page(machine):
    """mlock(a + 5, 0): the length grows by the offset in the page, so one page is locked."""
    p = machine.spawn()
    a = _anon(p)
    p.mlock(a + 5, 0)
    assert kb(p, a, "Locked") == 4
    p.munlock(a + 5, 0)
    assert kb(p, a, "Locked") == 0


def test_mlock_of_a_shared_file_reads_without_dirtying(machine):
    """A shared mapping is populated by reading: its pages are present and clean."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 4 * PAGE, RW, MAP_SHARED, fd, 0)
    p.mlock(a, 4 * PAGE)
    assert _present(p, a, 4) == [True] * 4
    assert kb(p, a, "Shared_Dirty") + kb(p, a, "Private_Dirty") == 0


def test_mlock_over_a_hole_locks_what_comes_before(machine):
    """A hole is ENOMEM; the VMAs before it stay locked (but are not populated)."""
    p = machine.spawn()
    base = guarded(p, 8)
    p.munmap(base, 8 * PAGE)
    fixed_anon(p, base, 4)
    assert _fails(p.mlock, base + 2 * PAGE, 4 * PAGE) == errno.ENOMEM
    assert "lo" in vmflags(p, base + 2 * PAGE)
    assert "lo" not in vmflags(p, base)
    assert _present(p, base + 2 * PAGE, 2) == [False, False]


def test_mlock_of_protnone_is_enomem_and_locked(machine):
    """A PROT_NONE mapping cannot be populated: ENOMEM, though it is now locked."""
    p = machine.spawn()
    a = _anon(p, 2, PROT_NONE)
    assert _fails(p.mlock, a, 2 * PAGE) == errno.ENOMEM
    assert "lo" in vmflags(p, a)


def test_mlock_past_the_end_of_the_file_is_enomem(machine):
    """Pages beyond end of file cannot be faulted in: ENOMEM after the ones before."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[: 2 * PAGE])
    a = p.mmap(0, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
    assert _fails(p.mlock, a, 4 * PAGE) == errno.ENOMEM
    assert _present(p, a, 4)[:2] == [True, True]
    assert "lo" in vmflags(p, a)


def test_mlock_lengths(machine):
    """A length of 0 does nothing at an aligned address; at an unaligned one it is a
    page (ENOMEM where nothing is mapped); a length that wraps to 0 does nothing; an
    end that wraps is EINVAL."""
    p = machine.spawn()
    hole = guarded(p, 2)
    p.munmap(hole, 2 * PAGE)
    assert p.mlock(hole, 0) is None
    assert _fails(p.mlock, hole + 1, 0) == errno.ENOMEM
    assert p.mlock(hole, 2**64 - 1) is None
    assert _fails(p.mlock, 2**64 - PAGE, 2 * PAGE) == errno.EINVAL


def test_mlock2_onfault_locks_pages_as_they_are_used(machine):
    """MLOCK_ONFAULT populates nothing: pages are locked as they fault in (lo lf)."""
    p = machine.spawn()
    a = _anon(p)
    p.mlock2(a, 4 * PAGE, MLOCK_ONFAULT)
    assert {"lo", "lf"} <= vmflags(p, a)
    assert _present(p, a, 4) == [False] * 4
    p.store(a, b"x")
    assert kb(p, a, "Locked") == 4
    assert _fails(p.mlock2, a, PAGE, 2) == errno.EINVAL
    p.mlock2(a, 4 * PAGE, 0)
    assert "lf" not in vmflags(p, a)
    assert _present(p, a, 4) == [True] * 4


def test_munlock_unlocks_and_splits(machine):
    """munlock clears lo on its range only; the pages stay; a hole is ENOMEM."""
    p = machine.spawn()
    a = _anon(p)
    p.munmap(a + 4 * PAGE, PAGE)  # the guard page: a hole
    p.mlock(a, 4 * PAGE)
    p.munlock(a, PAGE)
    assert "lo" not in vmflags(p, a)
    assert kb(p, a + PAGE, "Locked") == 12
    assert _present(p, a, 1) == [True]
    assert _fails(p.munlock, a + 3 * PAGE, 4 * PAGE) == errno.ENOMEM
    assert "lo" not in vmflags(p, a + 3 * PAGE)


def test_msync_invalidate_is_ebusy_over_locked_pages(machine):
    """msync(MS_INVALIDATE) fails with EBUSY over a locked mapping only."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 4 * PAGE, RW, MAP_SHARED, fd, 0)
    p.mlock(a + PAGE, PAGE)
    assert p.msync(a, PAGE, MS_INVALIDATE) is None
    assert _fails(p.msync, a, 2 * PAGE, MS_INVALIDATE) == errno.EBUSY
    assert p.msync(a + PAGE, PAGE, MS_SYNC) is None


def test_a_child_does_not_inherit_locks(machine):
    """fork gives the child the mapping without VM_LOCKED."""
    p = machine.spawn()
    a = _anon(p)
    p.mlock(a, 4 * PAGE)
    child = p.fork()
    assert "lo" not in vmflags(child, a)
    assert kb(child, a, "Locked") == 0


def test_root_is_not_held_to_rlimit_memlock(machine):
    """A process with CAP_IPC_LOCK (root) may lock more than RLIMIT_MEMLOCK (8 MiB)."""
    p = machine.spawn()
    size = 16 << 20
    a = p.mmap(0, size, RW, ANON)
    p.mlock(a, size)
    assert kb(p, a, "Locked") == size // 1024


# -- mlockall, munlockall --------------------------------------------------------------


def test_mlockall_flags(machine):
    """EINVAL for no flag, an unknown flag, or MCL_ONFAULT alone."""
    p = machine.spawn()
    for flags in (0, 8, MCL_ONFAULT, MCL_CURRENT | 8):
        assert _fails(p.mlockall, flags) == errno.EINVAL


def test_mlockall_current_locks_and_populates_every_mapping(machine):
    """MCL_CURRENT locks every mapping there is and faults its pages in."""
    p = machine.spawn()
    a = _anon(p)
    p.mlockall(MCL_CURRENT)
    assert "lo" in vmflags(p, a)
    assert _present(p, a, 4) == [True] * 4
    b = _anon(p)
    assert "lo" not in vmflags(p, b)
    p.munlockall()
    assert "lo" not in vmflags(p, a)


def test_mlockall_future_locks_later_mappings(machine):
    """MCL_FUTURE: a later mapping is locked and populated from the start; a child
    does not inherit it; munlockall ends it."""
    p = machine.spawn()
    p.mlockall(MCL_FUTURE)
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    assert "lo" in vmflags(p, a)
    assert _present(p, a, 2) == [True, True]
    child = p.fork()
    c = child.mmap(0, PAGE, RW, ANON)
    assert "lo" not in vmflags(child, c)
    p.munlockall()
    b = p.mmap(0, PAGE, RW, ANON)
    assert "lo" not in vmflags(p, b)


def test_mlockall_onfault_locks_without_populating(machine):
    """MCL_CURRENT | MCL_ONFAULT: every mapping lo lf, nothing faulted in; with
    MCL_FUTURE later mappings too."""
    p = machine.spawn()
    a = _anon(p)
    p.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)
    assert {"lo", "lf"} <= vmflags(p, a)
    assert _present(p, a, 4) == [False] * 4
    b = p.mmap(0, 2 * PAGE, RW, ANON)
    assert {"lo", "lf"} <= vmflags(p, b)
    assert _present(p, b, 2) == [False, False]
    p.munlockall()
    assert "lo" not in vmflags(p, a)


def test_lock_arguments_are_c_types(machine):
    """Wrong Python types are a TypeError, out-of-range ints an OverflowError."""
    p = machine.spawn()
    with pytest.raises(TypeError):
        p.mlock("0", PAGE)
    with pytest.raises(OverflowError):
        p.mlockall(2**32)
    with pytest.raises(TypeError):
        p.mincore(0, b"")


# -- the invariant checker (simulator internals) ----------------------------------------


@pytest.mark.simonly
def test_the_invariant_checker_catches_broken_lock_state(sim):
    """VM_LOCKONFAULT without VM_LOCKED, or stray bits in def_flags, are a KernelPanic."""
    from mmapsim.errors import KernelPanic
    from mmapsim.invariants import check_invariants
    from mmapsim.mm.vma import VM_LOCKONFAULT

    p = sim.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    p.mlock2(a, PAGE, MLOCK_ONFAULT)
    mm = sim.kernel.task(p.pid).mm
    vma = mm.vmas.find(a)
    vma.set_flags(int(vma.flags) & ~0x2000)  # VM_LOCKED gone, VM_LOCKONFAULT kept
    with pytest.raises(KernelPanic, match="lockonfault"):
        check_invariants(sim)
    vma.set_flags(int(vma.flags) | 0x2000)
    mm.def_flags = VM_LOCKONFAULT
    with pytest.raises(KernelPanic, match="def_flags"):
        check_invariants(sim)
    mm.def_flags = 0
    check_invariants(sim)


@pytest.mark.simonly
def test_mlockall_future_locks_the_heap_as_it_grows(sim):
    """brk after mlockall(MCL_FUTURE): the new heap pages are locked and present."""
    p = sim.spawn()
    p.mlockall(MCL_FUTURE)
    old = p.sbrk(0)
    p.sbrk(4 * PAGE)
    top = (old + 4 * PAGE + PAGE - 1) & ~(PAGE - 1)
    assert "lo" in vmflags(p, top - PAGE)
    assert p.pagemap(top - PAGE).present
