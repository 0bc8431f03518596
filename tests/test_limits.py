"""The simulator's limits (issue 9 point 3): the disk's capacity, sparse reads that
cost nothing for their holes, and the number of processes of a machine.

The disk's answers were read from a real ext4 (4 KiB blocks, mounted on a loop
device): a write that fills the disk returns the bytes up to the first page it
could not reserve, the next one fails with ENOSPC, overwriting allocated pages
still works, and ftruncate never allocates.
"""

from __future__ import annotations

import errno
import signal

import pytest

from mmapsim import (
    MAP_SHARED,
    O_CREAT,
    O_RDWR,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
    ProcessKilled,
)
from mmapsim.fs.diskspace import DEFAULT_DISK
from mmapsim.fs.read_write import MAX_RW_COUNT
from mmapsim.kernel import DEFAULT_MAX_PROCESSES

pytestmark = pytest.mark.simonly


def _full_machine(pages: int) -> Machine:
    return Machine(disk=pages * PAGE_SIZE, check_invariants=True)


def test_a_write_that_fills_the_disk_is_short_then_enospc() -> None:
    with _full_machine(3) as m:
        p = m.spawn()
        fd = p.open("/tmp/f", O_CREAT | O_RDWR)
        assert p.write(fd, b"a" * 100) == 100
        assert p.write(fd, b"b" * (5 * PAGE_SIZE)) == 3 * PAGE_SIZE - 100
        assert p.fstat(fd).st_size == 3 * PAGE_SIZE
        with pytest.raises(OSError) as caught:
            p.write(fd, b"c")
        assert caught.value.errno == errno.ENOSPC
        assert p.fstat(fd).st_size == 3 * PAGE_SIZE
        assert p.pwrite(fd, b"over", 10) == 4  # an allocated page needs no new block
        assert p.pread(fd, 6, 8) == b"aaover"


def test_holes_take_no_block_and_truncation_gives_blocks_back() -> None:
    with _full_machine(2) as m:
        p = m.spawn()
        fd = p.open("/tmp/f", O_CREAT | O_RDWR)
        p.ftruncate(fd, 1 << 40)  # no block
        assert p.pwrite(fd, b"x", 1 << 39) == 1
        assert p.pwrite(fd, b"y" * 10, 0) == 10
        assert p.fstat(fd).st_blocks == 2 * PAGE_SIZE // 512
        with pytest.raises(OSError) as caught:
            p.pwrite(fd, b"z", PAGE_SIZE)
        assert caught.value.errno == errno.ENOSPC
        p.ftruncate(fd, PAGE_SIZE)
        assert p.pwrite(fd, b"z", 5 * PAGE_SIZE) == 1


def test_an_unlinked_file_gives_its_blocks_back_at_its_last_close() -> None:
    with _full_machine(2) as m:
        p = m.spawn()
        fd = p.open("/tmp/f", O_CREAT | O_RDWR)
        p.write(fd, b"x" * 2 * PAGE_SIZE)
        p.fsync(fd)
        p.unlink("/tmp/f")
        g = p.open("/tmp/g", O_CREAT | O_RDWR)
        with pytest.raises(OSError) as caught:
            p.write(g, b"y")
        assert caught.value.errno == errno.ENOSPC
        p.close(fd)
        assert p.write(g, b"y" * 2 * PAGE_SIZE) == 2 * PAGE_SIZE


def test_write_file_that_cannot_fit_is_enospc_and_changes_nothing() -> None:
    with _full_machine(2) as m:
        m.write_file("/tmp/old", b"old")
        with pytest.raises(OSError) as caught:
            m.write_file("/tmp/big", b"x" * (PAGE_SIZE + 1))
        assert caught.value.errno == errno.ENOSPC
        with pytest.raises(FileNotFoundError):
            m.read_file("/tmp/big")
        with pytest.raises(OSError):
            m.write_file("/tmp/old", b"y" * (3 * PAGE_SIZE))
        assert m.read_file("/tmp/old") == b"old"
        m.write_file("/tmp/old", b"z" * (2 * PAGE_SIZE))  # its own block counts as free


def test_a_store_into_a_hole_of_a_full_disk_is_sigbus() -> None:
    """ext4_page_mkwrite finds no block: the fault is SIGBUS."""
    with _full_machine(1) as m:
        p = m.spawn()
        fd = p.open("/tmp/f", O_CREAT | O_RDWR)
        p.ftruncate(fd, 2 * PAGE_SIZE)
        addr = p.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        p.store(addr, b"first page takes the one block")
        with pytest.raises(ProcessKilled) as caught:
            p.store(addr + PAGE_SIZE, b"no block left")
        assert caught.value.signal is signal.SIGBUS


def test_a_crash_frees_the_blocks_of_pages_that_never_reached_the_disk() -> None:
    with _full_machine(1) as m:
        p = m.spawn()
        fd = p.open("/tmp/f", O_CREAT | O_RDWR)
        p.write(fd, b"lost")
        m.crash()
        m.write_file("/tmp/g", b"x" * PAGE_SIZE)
        assert m.read_file("/tmp/f") == b"\0" * 4


def test_reading_a_huge_sparse_file_allocates_nothing_for_its_holes(sim: Machine) -> None:
    p = sim.spawn()
    fd = p.open("/tmp/sparse", O_CREAT | O_RDWR)
    p.pwrite(fd, b"end", 1 << 40)
    frames = sim.kernel.physmem.nr_used
    data = p.pread(fd, 64 << 20, 1 << 30)
    assert data == bytes(64 << 20)
    assert sim.kernel.physmem.nr_used == frames
    assert p.pread(fd, 8, (1 << 40) - 5) == b"\0" * 5 + b"end"


def test_one_read_moves_at_most_max_rw_count_bytes(sim: Machine) -> None:
    """Linux's read() stops at MAX_RW_COUNT; of a hole that costs no host memory
    beyond the lazily zeroed answer."""
    p = sim.spawn()
    fd = p.open("/tmp/sparse", O_CREAT | O_RDWR)
    p.ftruncate(fd, 1 << 40)
    frames = sim.kernel.physmem.nr_used
    assert len(p.read(fd, 1 << 40)) == MAX_RW_COUNT
    assert p.lseek(fd, 0, 1) == MAX_RW_COUNT
    assert sim.kernel.physmem.nr_used == frames


def test_fork_and_spawn_beyond_max_processes_are_eagain() -> None:
    with Machine(max_processes=3) as m:
        a = m.spawn()
        b = a.fork()
        a.fork()
        for make in (a.fork, m.spawn):
            with pytest.raises(OSError) as caught:
                make()
            assert caught.value.errno == errno.EAGAIN
        b.exit(0)  # a zombie holds its pid until its parent waits
        with pytest.raises(OSError) as caught:
            a.fork()
        assert caught.value.errno == errno.EAGAIN
        a.waitpid(b.pid)
        assert a.fork().alive
        assert len(m.processes) == 3


def test_the_defaults_are_documented_values() -> None:
    assert DEFAULT_DISK == 1 << 30
    assert DEFAULT_MAX_PROCESSES == 64
    with Machine() as m:
        assert m.kernel.pagecache.space.capacity * PAGE_SIZE == DEFAULT_DISK
        assert m.kernel.max_processes == DEFAULT_MAX_PROCESSES


@pytest.mark.parametrize("option", ["disk", "max_processes"])
@pytest.mark.parametrize(("bad", "error"), [(0, ValueError), (-1, ValueError), ("1", TypeError)])
def test_limits_must_be_positive_ints(option: str, bad: object, error: type) -> None:
    with pytest.raises(error):
        Machine(**{option: bad})  # type: ignore[arg-type]
