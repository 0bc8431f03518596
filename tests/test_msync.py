"""msync(2): its flags, its errors, and what it does to the page cache and the disk."""

from __future__ import annotations

import errno

import pytest

from helpers import ANON, PAGE, RW, free_range, new_file, pattern
from mmapsim import (
    MAP_LOCKED,
    MAP_PRIVATE,
    MAP_SHARED,
    MS_ASYNC,
    MS_INVALIDATE,
    MS_SYNC,
    PROT_NONE,
    PROT_READ,
)

DATA = pattern(3 * PAGE)
FLAGS = {
    "MS_ASYNC": MS_ASYNC,
    "MS_SYNC": MS_SYNC,
    "MS_INVALIDATE": MS_INVALIDATE,
    "0": 0,
    "MS_SYNC|MS_INVALIDATE": MS_SYNC | MS_INVALIDATE,
    "MS_ASYNC|MS_INVALIDATE": MS_ASYNC | MS_INVALIDATE,
}


def _msync_error(p, addr, length, flags) -> int:
    with pytest.raises(OSError) as exc:
        p.msync(addr, length, flags)
    return exc.value.errno


def _shared(machine, p, path="/tmp/f", npages=3):
    fd = new_file(machine, p, path, DATA[: npages * PAGE])
    return p.mmap(0, npages * PAGE, RW, MAP_SHARED, fd, 0), fd


def _with_hole(machine, p):
    """A 3-page shared file mapping whose middle page is unmapped."""
    a, _ = _shared(machine, p)
    p.munmap(a + PAGE, PAGE)
    return a


@pytest.mark.parametrize("flags", FLAGS.values(), ids=FLAGS.keys())
def test_msync_of_a_shared_mapping_succeeds(machine, flags):
    """msync with MS_ASYNC, MS_SYNC, MS_INVALIDATE or no flag succeeds on a mapping."""
    p = machine.spawn()
    a, _ = _shared(machine, p)
    p.store(a + PAGE, b"synced")
    assert p.msync(a, 3 * PAGE, flags) is None
    assert machine.read_file("/tmp/f")[PAGE : PAGE + 6] == b"synced"


@pytest.mark.parametrize("flags", [MS_ASYNC, MS_SYNC, MS_INVALIDATE])
def test_msync_of_private_and_anonymous_mappings_succeeds(machine, flags):
    """msync of a private or anonymous mapping succeeds and writes nothing to the file."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(a, b"private")
    b = p.mmap(0, PAGE, RW, ANON)
    p.msync(a, PAGE, flags)
    p.msync(b, PAGE, flags)
    assert machine.read_file("/tmp/f") == DATA


def test_msync_of_part_of_a_mapping_succeeds(machine):
    """msync may cover only some pages of a mapping, and a length not a page multiple."""
    p = machine.spawn()
    a, _ = _shared(machine, p)
    p.msync(a + PAGE, 1, MS_SYNC)
    p.msync(a + PAGE, PAGE + 1, MS_ASYNC)


@pytest.mark.parametrize("flags", [MS_ASYNC, MS_SYNC, MS_INVALIDATE])
def test_msync_of_a_PROT_NONE_mapping_succeeds(machine, flags):
    """msync does not need access to the pages: a PROT_NONE mapping syncs fine."""
    p = machine.spawn()
    a, _ = _shared(machine, p)
    p.store(a, b"hidden")
    p.mprotect(a, 3 * PAGE, PROT_NONE)
    assert p.msync(a, 3 * PAGE, flags) is None
    assert machine.read_file("/tmp/f")[:6] == b"hidden"


def test_MS_ASYNC_and_MS_SYNC_together_is_EINVAL(machine):
    """MS_ASYNC and MS_SYNC together are EINVAL."""
    p = machine.spawn()
    a, _ = _shared(machine, p)
    assert _msync_error(p, a, PAGE, MS_ASYNC | MS_SYNC) == errno.EINVAL


@pytest.mark.parametrize("bit", [0x8, 0x10, 0x100, 0x40000000])
def test_unknown_flag_bits_are_EINVAL(machine, bit):
    """A flag bit other than MS_ASYNC, MS_SYNC and MS_INVALIDATE is EINVAL."""
    p = machine.spawn()
    a, _ = _shared(machine, p)
    assert _msync_error(p, a, PAGE, MS_SYNC | bit) == errno.EINVAL


def test_unaligned_address_is_EINVAL(machine):
    """msync at an address that is not page-aligned is EINVAL."""
    p = machine.spawn()
    a, _ = _shared(machine, p)
    assert _msync_error(p, a + 1, PAGE, MS_SYNC) == errno.EINVAL


def test_unknown_bits_beat_an_unmapped_range(machine):
    """Bad flags are EINVAL even over an unmapped range."""
    p = machine.spawn()
    hole = free_range(p, 2)
    assert _msync_error(p, hole, PAGE, 0x8) == errno.EINVAL


@pytest.mark.parametrize("flags", FLAGS.values(), ids=FLAGS.keys())
def test_unmapped_range_is_ENOMEM(machine, flags):
    """msync of a range where nothing is mapped is ENOMEM."""
    p = machine.spawn()
    hole = free_range(p, 2)
    assert _msync_error(p, hole, 2 * PAGE, flags) == errno.ENOMEM


def test_length_zero_is_fine_even_unmapped(machine):
    """msync with a zero length succeeds without looking at the range."""
    p = machine.spawn()
    hole = free_range(p, 2)
    assert p.msync(hole, 0, MS_SYNC) is None


def test_range_wrapping_around_is_ENOMEM(machine):
    """A range whose end wraps past the top of the address space is ENOMEM."""
    p = machine.spawn()
    a, _ = _shared(machine, p)
    assert _msync_error(p, a, 2**64 - PAGE, MS_SYNC) == errno.ENOMEM


@pytest.mark.parametrize("flags", FLAGS.values(), ids=FLAGS.keys())
def test_hole_in_the_middle_is_ENOMEM(machine, flags):
    """A range with an unmapped hole in the middle is ENOMEM, whatever the flags."""
    p = machine.spawn()
    a = _with_hole(machine, p)
    assert _msync_error(p, a, 3 * PAGE, flags) == errno.ENOMEM


@pytest.mark.simonly
def test_hole_in_the_middle_syncs_the_mapped_parts_before_ENOMEM(sim):
    """With MS_SYNC over a hole, the mapped parts are written to disk before ENOMEM."""
    p = sim.spawn()
    a = _with_hole(sim, p)
    p.store(a, b"front")
    p.store(a + 2 * PAGE, b"back")
    with pytest.raises(OSError) as exc:
        p.msync(a, 3 * PAGE, MS_SYNC)
    assert exc.value.errno == errno.ENOMEM
    inode = sim.kernel.fs.lookup("/tmp/f")
    assert bytes(inode.disk[:5]) == b"front"
    assert bytes(inode.disk[2 * PAGE : 2 * PAGE + 4]) == b"back"
    assert not inode.dirty


def test_MS_INVALIDATE_over_a_locked_mapping_is_EBUSY(machine):
    """MS_INVALIDATE over a MAP_LOCKED mapping is EBUSY."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_SHARED | MAP_LOCKED, fd, 0)
    b = p.mmap(0, PAGE, RW, ANON | MAP_LOCKED)
    assert _msync_error(p, a, PAGE, MS_INVALIDATE) == errno.EBUSY
    assert _msync_error(p, a, PAGE, MS_SYNC | MS_INVALIDATE) == errno.EBUSY
    assert _msync_error(p, b, PAGE, MS_INVALIDATE) == errno.EBUSY


def test_MS_SYNC_over_a_locked_mapping_is_fine(machine):
    """MS_SYNC and MS_ASYNC without MS_INVALIDATE are allowed over a locked mapping."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_SHARED | MAP_LOCKED, fd, 0)
    p.msync(a, PAGE, MS_SYNC)
    p.msync(a, PAGE, MS_ASYNC)


def test_MS_INVALIDATE_leaves_every_mapping_coherent_with_the_file(machine):
    """After MS_INVALIDATE every mapping of the file shows the file's current bytes."""
    p = machine.spawn()
    a, fd = _shared(machine, p)
    b = p.mmap(0, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
    p.store(a, b"new")
    p.msync(a, 3 * PAGE, MS_INVALIDATE)
    assert p.load(b, 3) == b"new"
    assert p.pread(fd, 3, 0) == b"new"


@pytest.mark.simonly
def test_MS_SYNC_writes_the_dirty_pages_of_the_range_to_disk(sim):
    """MS_SYNC writes the dirty pages of its range to disk, and they become clean."""
    p = sim.spawn()
    a, _ = _shared(sim, p)
    inode = sim.kernel.fs.lookup("/tmp/f")
    p.store(a, b"zero")
    p.store(a + 2 * PAGE, b"two")
    assert inode.dirty == {0, 2}
    p.msync(a + 2 * PAGE, PAGE, MS_SYNC)
    assert inode.dirty == {0}
    assert bytes(inode.disk[2 * PAGE : 2 * PAGE + 3]) == b"two"
    assert bytes(inode.disk[:4]) == DATA[:4]
    p.msync(a, 3 * PAGE, MS_SYNC)
    assert not inode.dirty
    assert bytes(inode.disk[:4]) == b"zero"


@pytest.mark.simonly
@pytest.mark.parametrize("flags", [MS_ASYNC, MS_INVALIDATE, 0])
def test_msync_without_MS_SYNC_leaves_the_disk_alone(sim, flags):
    """MS_ASYNC (or no flag) does not write the dirty pages to disk."""
    p = sim.spawn()
    a, _ = _shared(sim, p)
    inode = sim.kernel.fs.lookup("/tmp/f")
    p.store(a, b"zero")
    p.msync(a, 3 * PAGE, flags)
    assert inode.dirty == {0}
    assert bytes(inode.disk[:4]) == DATA[:4]
    assert sim.read_file("/tmp/f")[:4] == b"zero"


@pytest.mark.simonly
def test_a_crash_after_MS_SYNC_keeps_the_data(sim):
    """What MS_SYNC wrote survives a power failure; what was only stored does not."""
    p = sim.spawn()
    a, _ = _shared(sim, p)
    p.store(a, b"safe")
    p.msync(a, PAGE, MS_SYNC)
    p.store(a + PAGE, b"lost")
    sim.crash()
    data = sim.read_file("/tmp/f")
    assert data[:4] == b"safe"
    assert data[PAGE : PAGE + 4] == DATA[PAGE : PAGE + 4]


def test_mtime_after_a_store_and_msync_is_later(machine):
    """After a store through a shared mapping and msync, the file's mtime is later."""
    p = machine.spawn()
    a, fd = _shared(machine, p)
    before = p.fstat(fd).st_mtime_ns
    p.store(a + 100, b"touch")
    p.msync(a, 3 * PAGE, MS_SYNC)
    assert p.fstat(fd).st_mtime_ns > before
