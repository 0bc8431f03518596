"""The simulator's own options and powers: memory size, sparse files, crash, sync.

These inspect or drive what only a simulated machine has, so they take the
``sim`` fixture.
"""

from __future__ import annotations

import errno
import signal

import pytest

from mmapsim import (
    MAP_ANONYMOUS,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MS_ASYNC,
    MS_SYNC,
    O_CREAT,
    O_RDWR,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
    ProcessKilled,
)
from mmapsim.fs.disk import Disk

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


def test_a_sparse_file_costs_only_its_written_pages(sim: Machine) -> None:
    """A file grown to 8 TiB by ftruncate holds no disk page until one is written back."""
    p = sim.spawn()
    fd = p.open("/tmp/huge", O_CREAT | O_RDWR)
    p.ftruncate(fd, 1 << 43)
    assert p.fstat(fd).st_size == 1 << 43
    assert p.fstat(fd).st_blocks == 0
    p.pwrite(fd, b"end", (1 << 43) - 3)
    p.fsync(fd)
    assert p.pread(fd, 3, (1 << 43) - 3) == b"end"
    assert p.fstat(fd).st_blocks == PAGE_SIZE // 512
    assert sim.kernel.fs.lookup("/tmp/huge").disk.allocated_pages == 1


def test_a_write_whose_end_overflows_off_t_is_einval(sim: Machine) -> None:
    """pwrite whose end would pass the largest off_t fails with EINVAL (rw_verify_area)."""
    p = sim.spawn()
    fd = p.open("/tmp/f", O_CREAT | O_RDWR)
    with pytest.raises(OSError) as exc:
        p.pwrite(fd, b"xy", 2**63 - 1)
    assert exc.value.errno == errno.EINVAL
    assert p.fstat(fd).st_size == 0


def test_disk_slices_read_holes_as_zeros() -> None:
    """A disk image reads a hole as zeros and keeps no page for it."""
    disk = Disk(b"abc")
    disk.resize(3 * PAGE_SIZE)
    disk[2 * PAGE_SIZE : 2 * PAGE_SIZE + 2] = b"xy"
    assert disk[0:4] == b"abc\0"
    assert disk[PAGE_SIZE : PAGE_SIZE + 2] == b"\0\0"
    assert disk[2 * PAGE_SIZE : 2 * PAGE_SIZE + 3] == b"xy\0"
    assert disk.allocated_pages == 2
    disk.resize(2)
    assert disk[0:10] == b"ab"
    assert disk.allocated_pages == 1


def _touch(p: object, va: int, pages: int) -> None:
    """Store one byte into each of ``pages`` pages from ``va``."""
    for i in range(pages):
        p.store(va + i * PAGE_SIZE, b"x")  # type: ignore[attr-defined]


def test_an_exhausted_machine_oom_kills_the_faulting_process() -> None:
    """When every frame is in use, the process whose fault needs one more is killed."""
    with Machine(memory=64 * PAGE_SIZE, check_invariants=True) as m:
        p = m.spawn()
        a = p.mmap(None, 128 * PAGE_SIZE, RW, ANON | MAP_NORESERVE)
        with pytest.raises(ProcessKilled) as exc:
            _touch(p, a, 128)
        assert exc.value.signal == signal.SIGKILL
        assert p.term_signal == signal.SIGKILL
        assert m.kernel.physmem.nr_used == 0  # its memory went with it


def test_populate_stops_quietly_when_memory_runs_out() -> None:
    """MAP_POPULATE of more than the machine's memory succeeds, populating what fits."""
    with Machine(memory=32 * PAGE_SIZE, check_invariants=True) as m:
        p = m.spawn()
        a = p.mmap(None, 1 << 40, RW, ANON | MAP_NORESERVE | MAP_POPULATE)
        assert p.pagemap(a).present
        assert p.alive


def test_the_page_cache_shrinks_under_memory_pressure() -> None:
    """Reading a file larger than memory reclaims clean cached pages as it goes."""
    with Machine(memory=16 * PAGE_SIZE, check_invariants=True) as m:
        data = bytes(range(256)) * (64 * PAGE_SIZE // 256)
        m.write_file("/tmp/big", data)
        p = m.spawn()
        fd = p.open("/tmp/big", O_RDWR)
        assert p.read(fd, 64 * PAGE_SIZE) == data
        assert m.kernel.physmem.nr_used <= 16


def test_memory_that_cannot_be_reclaimed_gives_enomem() -> None:
    """When anonymous memory holds every frame, a read needing the page cache is ENOMEM."""
    with Machine(memory=16 * PAGE_SIZE, check_invariants=True) as m:
        m.write_file("/tmp/f", b"x" * 4 * PAGE_SIZE)
        m.crash()  # empty the page cache
        hog = m.spawn()
        _touch(hog, hog.mmap(None, 16 * PAGE_SIZE, RW, ANON), 16)
        reader = m.spawn()
        fd = reader.open("/tmp/f", O_RDWR)
        with pytest.raises(OSError) as exc:
            reader.read(fd, PAGE_SIZE)
        assert exc.value.errno == errno.ENOMEM
        assert hog.alive
        assert reader.alive


def test_a_crash_loses_what_msync_did_not_write_back(sim: Machine) -> None:
    """After a power failure a file holds what MS_SYNC wrote, not what MS_ASYNC left dirty."""
    sim.write_file("/tmp/a", b"aaaa")
    sim.write_file("/tmp/b", b"bbbb")
    p = sim.spawn()
    pa = p.mmap(None, PAGE_SIZE, RW, MAP_SHARED, p.open("/tmp/a", O_RDWR), 0)
    pb = p.mmap(None, PAGE_SIZE, RW, MAP_SHARED, p.open("/tmp/b", O_RDWR), 0)
    p.store(pa, b"AAAA")
    p.store(pb, b"BBBB")
    p.msync(pa, PAGE_SIZE, MS_SYNC)
    p.msync(pb, PAGE_SIZE, MS_ASYNC)
    assert sim.read_file("/tmp/b") == b"BBBB"  # the page cache has it
    sim.crash()
    assert not p.alive
    assert sim.read_file("/tmp/a") == b"AAAA"
    assert sim.read_file("/tmp/b") == b"bbbb"


def test_sync_writes_back_every_dirty_page(sim: Machine) -> None:
    """Machine.sync() writes back every dirty page, so a crash loses nothing."""
    sim.write_file("/tmp/a", b"aaaa")
    p = sim.spawn()
    pa = p.mmap(None, PAGE_SIZE, RW, MAP_SHARED, p.open("/tmp/a", O_RDWR), 0)
    p.store(pa, b"AAAA")
    assert sim.sync() == 1
    assert sim.sync() == 0
    sim.crash()
    assert sim.read_file("/tmp/a") == b"AAAA"


@pytest.mark.parametrize("bad", [0, -4096])
def test_memory_must_be_positive(bad: int) -> None:
    """A machine with no memory is a ValueError, not a machine."""
    with pytest.raises(ValueError):
        Machine(memory=bad)


def test_memory_must_be_an_int() -> None:
    """A machine's memory size of the wrong type is a TypeError."""
    with pytest.raises(TypeError):
        Machine(memory="2G")  # type: ignore[arg-type]
