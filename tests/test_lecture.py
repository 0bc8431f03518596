"""The lecture's claims (seed/), one test each, on the simulator and on the real kernel.

Each docstring quotes or paraphrases the claim the test checks.
"""

from __future__ import annotations

import signal

import pytest

from elfgen import static_program
from helpers import (
    ANON,
    PAGE,
    RW,
    SHARED_ANON,
    all_maps,
    is_unmapped,
    maps_in,
    new_file,
    pattern,
    vma_at,
)
from mmapsim import (
    MAP_PRIVATE,
    MAP_SHARED,
    MS_ASYNC,
    MS_INVALIDATE,
    MS_SYNC,
    O_RDONLY,
    O_RDWR,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    ProcessKilled,
)

FILE = pattern(3 * PAGE)


def _map_file(machine, p, prot=RW, flags=MAP_SHARED, path="/tmp/f", data=FILE):
    fd = new_file(machine, p, path, data)
    return p.mmap(0, len(data), prot, flags, fd, 0), fd


# -- what a memory-mapped file is ---------------------------------------------------


def test_a_mapping_correlates_byte_for_byte_with_a_portion_of_the_file(machine):
    """A memory-mapped file is a segment of virtual memory correlated byte for byte with
    a portion of a file."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", FILE)
    a = p.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, PAGE)
    assert p.load(a, 2 * PAGE) == FILE[PAGE:]
    for i in (0, 1, 4095, 4096, 5000, 2 * PAGE - 1):
        assert p.load(a + i, 1) == FILE[PAGE + i : PAGE + i + 1]


def test_fetching_bytes_from_the_buffer_reads_the_file(machine):
    """When we fetch bytes from the buffer, the corresponding bytes of the file are read."""
    p = machine.spawn()
    a, _ = _map_file(machine, p, PROT_READ)
    machine.write_file("/tmp/f", b"new contents".ljust(len(FILE), b"."))
    assert p.load(a, 12) == b"new contents"


def test_storing_in_the_buffer_writes_the_file_without_write(machine):
    """When we store data in the buffer the bytes are written to the file: I/O without
    read() or write()."""
    p = machine.spawn()
    a, _ = _map_file(machine, p)
    p.store(a + PAGE, b"stored, not written")
    assert machine.read_file("/tmp/f") == FILE[:PAGE] + b"stored, not written" + FILE[PAGE + 19 :]


def test_there_are_file_mappings_and_anonymous_mappings(machine):
    """There are two types of memory mapping: file (persisted) and anonymous (non-persisted)."""
    p = machine.spawn()
    a, _ = _map_file(machine, p)
    b = p.mmap(0, PAGE, RW, SHARED_ANON)
    assert vma_at(p, a).name == "/tmp/f"
    assert vma_at(p, a).inode != 0
    assert vma_at(p, b).name == "/dev/zero (deleted)"
    p.store(b, b"gone with the process")
    p.exit(0)
    assert machine.read_file("/tmp/f") == FILE


# -- shared file mappings --------------------------------------------------------------


def test_processes_mapping_the_same_file_region_share_physical_pages(machine):
    """Multiple processes mapping the same region of a file share the same physical pages."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p)
    b = q.mmap(0, len(FILE), RW, MAP_SHARED, q.open("/tmp/f", O_RDWR), 0)
    for i in range(3):
        p.load(a + i * PAGE, 1)
        q.load(b + i * PAGE, 1)
        assert p.pagemap(a + i * PAGE).pfn == q.pagemap(b + i * PAGE).pfn


def test_writes_to_a_shared_mapping_are_carried_through_to_the_file(machine):
    """Whenever a process writes to a shared mapping, the modification is carried through
    to the file and seen by the other processes."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p)
    b = q.mmap(0, len(FILE), PROT_READ, MAP_SHARED, q.open("/tmp/f", O_RDONLY), 0)
    p.store(a + 2 * PAGE, b"carried through")
    assert q.load(b + 2 * PAGE, 15) == b"carried through"
    assert machine.read_file("/tmp/f")[2 * PAGE : 2 * PAGE + 15] == b"carried through"


def test_shared_file_mapping_is_IPC_between_related_processes(machine):
    """A shared file mapping serves as IPC between related processes (parent and child)."""
    parent = machine.spawn()
    a, _ = _map_file(machine, parent)
    child = parent.fork()
    child.store(a, b"ping")
    assert parent.load(a, 4) == b"ping"
    parent.store(a, b"pong")
    assert child.load(a, 4) == b"pong"


def test_shared_file_mapping_is_IPC_between_unrelated_processes(machine):
    """A shared file mapping serves as IPC between unrelated processes."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p)
    b = q.mmap(0, PAGE, RW, MAP_SHARED, q.open("/tmp/f", O_RDWR), 0)
    p.store(a + 8, b"hello q")
    assert q.load(b + 8, 7) == b"hello q"
    q.store(b + 16, b"hello p")
    assert p.load(a + 16, 7) == b"hello p"


def test_shared_file_mapping_is_memory_mapped_io(machine):
    """The main use of a shared file mapping is memory-mapped I/O: the file edited in place."""
    p = machine.spawn()
    a, _ = _map_file(machine, p, data=b"lower case text\n")
    text = p.load(a, 16)
    p.store(a, text.upper())
    assert machine.read_file("/tmp/f") == b"LOWER CASE TEXT\n"


# -- private file mappings ---------------------------------------------------------------


def test_private_mappings_initially_share_the_same_physical_pages(machine):
    """Multiple processes privately mapping the same file initially share the same
    physical pages."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p, flags=MAP_PRIVATE)
    b = q.mmap(0, len(FILE), RW, MAP_PRIVATE, q.open("/tmp/f", O_RDONLY), 0)
    p.load(a, 1)
    q.load(b, 1)
    assert p.pagemap(a).pfn == q.pagemap(b).pfn
    assert p.pagemap(a).file_or_shared


def test_a_write_to_a_private_mapping_is_copy_on_write(machine):
    """Whenever a process writes to a private mapping, copy-on-write gives it its own page."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p, flags=MAP_PRIVATE)
    b = q.mmap(0, len(FILE), RW, MAP_PRIVATE, q.open("/tmp/f", O_RDONLY), 0)
    p.load(a, 1)
    q.load(b, 1)
    shared_pfn = q.pagemap(b).pfn
    p.store(a, b"copy")
    assert p.pagemap(a).pfn != shared_pfn
    assert q.pagemap(b).pfn == shared_pfn
    assert not p.pagemap(a).file_or_shared


def test_changes_to_a_private_mapping_are_invisible_to_other_processes(machine):
    """Changes to a private mapping by one process are invisible to other processes."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p, flags=MAP_PRIVATE)
    b = q.mmap(0, len(FILE), PROT_READ, MAP_SHARED, q.open("/tmp/f", O_RDONLY), 0)
    c = q.mmap(0, len(FILE), PROT_READ, MAP_PRIVATE, q.open("/tmp/f", O_RDONLY), 0)
    p.store(a, b"private")
    assert q.load(b, 7) == FILE[:7]
    assert q.load(c, 7) == FILE[:7]


def test_changes_to_a_private_mapping_never_reach_the_file(machine):
    """Changes to a private mapping are not carried through to the underlying file."""
    p = machine.spawn()
    a, fd = _map_file(machine, p, flags=MAP_PRIVATE)
    p.store(a, b"private")
    p.msync(a, len(FILE), MS_SYNC)
    p.fsync(fd)
    assert machine.read_file("/tmp/f") == FILE
    p.exit(0)
    assert machine.read_file("/tmp/f") == FILE


def test_private_file_mappings_hold_a_program_text_and_data(machine):
    """The main use of a private file mapping is a process's text and initialised data,
    mapped from the executable."""
    p = machine.spawn()
    lines = all_maps(p)
    heap = next(m for m in lines if m.name == "[heap]")
    program = [m for m in lines if m.end <= heap.start and m.name.startswith("/")]
    assert {m.name for m in program} == {program[0].name}
    assert any(m.perms == "r-xp" for m in program)  # text
    assert any(m.perms == "rw-p" for m in program)  # initialised data
    assert all(m.perms.endswith("p") for m in program)


# -- anonymous mappings --------------------------------------------------------------


def test_anonymous_mappings_are_zero_filled(machine):
    """An anonymous mapping has no file behind it: its memory starts as zeros."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, ANON)
    b = p.mmap(0, 2 * PAGE, RW, SHARED_ANON)
    assert p.load(a, 2 * PAGE) == bytes(2 * PAGE)
    assert p.load(b, 2 * PAGE) == bytes(2 * PAGE)


def test_private_anonymous_memory_is_private_across_fork(machine):
    """A private anonymous mapping is inherited by a child but not shared with it."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, ANON)
    parent.store(a, b"inherited")
    child = parent.fork()
    assert child.load(a, 9) == b"inherited"
    child.store(a, b"child own")
    assert parent.load(a, 9) == b"inherited"


def test_shared_anonymous_memory_is_shared_across_fork(machine):
    """A shared anonymous mapping is shared by parent and child after fork."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, SHARED_ANON)
    child = parent.fork()
    child.store(a, b"from the child")
    assert parent.load(a, 14) == b"from the child"


# -- mmap's arguments ----------------------------------------------------------------


def test_mmap_returns_the_start_of_the_mapping(machine):
    """On success mmap() returns the starting address of the mapping."""
    p = machine.spawn()
    a, _ = _map_file(machine, p)
    line = vma_at(p, a)
    assert line.start == a
    assert p.load(a, 16) == FILE[:16]


def test_NULL_addr_lets_the_kernel_choose_a_non_conflicting_address(machine):
    """With addr NULL the kernel chooses an address that conflicts with no existing mapping."""
    p = machine.spawn()
    before = all_maps(p)
    a = p.mmap(None, 4 * PAGE, RW, ANON)
    assert all(m.end <= a or m.start >= a + 4 * PAGE for m in before)


def test_len_is_rounded_up_to_a_multiple_of_the_page_size(machine):
    """The kernel creates mappings rounded up to the next multiple of the page size."""
    p = machine.spawn()
    a = p.mmap(0, 10, RW, SHARED_ANON)
    line = vma_at(p, a)
    assert line.end - line.start == PAGE


def test_len_the_file_size_and_offset_zero_map_the_whole_file(machine):
    """To map an entire file, len is the file's size and offset is 0."""
    p = machine.spawn()
    data = pattern(PAGE + 300, seed=5)
    fd = new_file(machine, p, "/tmp/f", data)
    size = p.fstat(fd).st_size
    a = p.mmap(0, size, PROT_READ, MAP_SHARED, fd, 0)
    assert p.load(a, size) == data


@pytest.mark.parametrize(
    ("prot", "perms"),
    [
        (PROT_READ, "r--"),
        (PROT_READ | PROT_WRITE, "rw-"),
        (PROT_READ | PROT_EXEC, "r-x"),
        (PROT_READ | PROT_WRITE | PROT_EXEC, "rwx"),
    ],
)
def test_prot_is_a_bit_mask_of_permissions(machine, prot, perms):
    """prot is a bit mask of PROT_READ, PROT_WRITE and PROT_EXEC."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, prot, SHARED_ANON)
    assert vma_at(p, a).perms == perms + "s"


def test_a_store_without_PROT_WRITE_is_refused(machine):
    """Without PROT_WRITE in prot, a store to the mapping is refused (SIGSEGV)."""
    p = machine.spawn()
    a, _ = _map_file(machine, p, PROT_READ)
    with pytest.raises(ProcessKilled) as exc:
        p.store(a, b"no")
    assert exc.value.signal == signal.SIGSEGV
    assert machine.read_file("/tmp/f") == FILE


@pytest.mark.parametrize("flags", [MAP_SHARED, MAP_PRIVATE])
def test_flags_choose_a_shared_or_a_private_mapping(machine, flags):
    """flags is MAP_SHARED or MAP_PRIVATE: whether stores reach the file."""
    p = machine.spawn()
    a, _ = _map_file(machine, p, flags=flags)
    p.store(a, b"which?")
    assert (machine.read_file("/tmp/f")[:6] == b"which?") == (flags == MAP_SHARED)
    assert vma_at(p, a).perms == ("rw-s" if flags == MAP_SHARED else "rw-p")


def test_fd_identifies_the_file_to_map(machine):
    """fd identifies the file to be mapped."""
    p = machine.spawn()
    fd1 = new_file(machine, p, "/tmp/one", b"1" * PAGE)
    fd2 = new_file(machine, p, "/tmp/two", b"2" * PAGE)
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd2, 0)
    b = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd1, 0)
    assert (p.load(a, 1), vma_at(p, a).name) == (b"2", "/tmp/two")
    assert (p.load(b, 1), vma_at(p, b).name) == (b"1", "/tmp/one")


def test_offset_is_the_starting_point_in_the_file(machine):
    """offset is the starting point of the mapping in the file."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", FILE)
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 2 * PAGE)
    assert p.load(a, PAGE) == FILE[2 * PAGE :]
    assert vma_at(p, a).offset == 2 * PAGE


def test_fd_and_offset_are_ignored_for_anonymous_mappings(machine):
    """For an anonymous mapping fd and offset are ignored (normally -1 and 0)."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", FILE)
    usual = p.mmap(0, PAGE, RW, ANON, -1, 0)
    odd = p.mmap(0, PAGE, RW, ANON, fd, 2 * PAGE)
    for a in (usual, odd):
        assert p.load(a, PAGE) == bytes(PAGE)
        assert vma_at(p, a).inode == 0
        p.store(a, b"anon")
    assert machine.read_file("/tmp/f") == FILE


# -- msync ---------------------------------------------------------------------------


def test_msync_writes_the_changes_back_to_the_file(machine):
    """msync() writes the changes in part or all of the mapping back to the file,
    given the address from mmap() and the mapping's length."""
    p = machine.spawn()
    a, _ = _map_file(machine, p)
    p.store(a + PAGE, b"changed")
    assert p.msync(a, len(FILE), MS_SYNC) is None
    assert machine.read_file("/tmp/f")[PAGE : PAGE + 7] == b"changed"


@pytest.mark.simonly
def test_MS_SYNC_waits_for_the_update_to_complete(sim):
    """MS_SYNC requests the update and waits for it: the data is on disk on return."""
    p = sim.spawn()
    a, _ = _map_file(sim, p)
    p.store(a, b"on disk")
    p.msync(a, len(FILE), MS_SYNC)
    assert bytes(sim.kernel.fs.lookup("/tmp/f").disk[:7]) == b"on disk"
    sim.crash()
    assert sim.read_file("/tmp/f")[:7] == b"on disk"


@pytest.mark.simonly
def test_MS_ASYNC_requests_the_update_and_returns_immediately(sim):
    """MS_ASYNC requests the update and returns at once: the disk is not written yet."""
    p = sim.spawn()
    a, _ = _map_file(sim, p)
    p.store(a, b"in cache")
    p.msync(a, len(FILE), MS_ASYNC)
    assert sim.read_file("/tmp/f")[:8] == b"in cache"
    assert bytes(sim.kernel.fs.lookup("/tmp/f").disk[:8]) == FILE[:8]


def test_MS_ASYNC_makes_the_changes_visible_to_readers_of_the_file(machine):
    """After MS_ASYNC every reader of the file sees the changes."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p)
    p.store(a, b"async")
    p.msync(a, len(FILE), MS_ASYNC)
    assert q.pread(q.open("/tmp/f", O_RDONLY), 5, 0) == b"async"


def test_MS_INVALIDATE_makes_other_mappings_of_the_file_current(machine):
    """MS_INVALIDATE invalidates other mappings of the same file: they show its bytes."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p)
    b = q.mmap(0, len(FILE), PROT_READ, MAP_PRIVATE, q.open("/tmp/f", O_RDONLY), 0)
    q.load(b, 1)
    p.store(a, b"fresh")
    p.msync(a, len(FILE), MS_INVALIDATE | MS_SYNC)
    assert q.load(b, 5) == b"fresh"


# -- munmap --------------------------------------------------------------------------


def test_munmap_with_mmap_address_and_length_removes_the_whole_mapping(machine):
    """munmap() with the address and length used by mmap() unmaps the entire mapping."""
    p = machine.spawn()
    a, _ = _map_file(machine, p)
    p.munmap(a, len(FILE))
    assert is_unmapped(p, a, a + len(FILE))
    with pytest.raises(ProcessKilled) as exc:
        p.load(a, 1)
    assert exc.value.signal == signal.SIGSEGV


def test_munmap_of_part_of_a_mapping_removes_only_that_part(machine):
    """munmap() of part of a mapping unmaps only that part."""
    p = machine.spawn()
    a, _ = _map_file(machine, p)
    p.munmap(a + PAGE, PAGE)
    assert [(m.start, m.end) for m in maps_in(p, a, a + 3 * PAGE)] == [
        (a, a + PAGE),
        (a + 2 * PAGE, a + 3 * PAGE),
    ]
    assert p.load(a + 2 * PAGE, 4) == FILE[2 * PAGE : 2 * PAGE + 4]


def test_mappings_are_removed_when_the_process_terminates(machine):
    """The mapped region is unmapped automatically when the process terminates."""
    p, q = machine.spawn(), machine.spawn()
    a, _ = _map_file(machine, p)
    b = q.mmap(0, PAGE, PROT_READ, MAP_SHARED, q.open("/tmp/f", O_RDONLY), 0)
    p.load(a, 1)
    q.load(b, 1)
    assert not q.pagemap(b).exclusive
    p.store(a, b"bye")
    p.exit(0)
    assert q.pagemap(b).exclusive
    assert q.load(b, 3) == b"bye"


@pytest.mark.simonly
def test_mappings_are_removed_when_the_process_terminates_sim(sim):
    """When the process terminates, the file is mapped nowhere any more."""
    p = sim.spawn()
    _map_file(sim, p)
    inode = sim.kernel.fs.lookup("/tmp/f")
    assert inode.mappings
    p.exit(0)
    assert not inode.mappings


@pytest.mark.simonly
def test_mappings_are_removed_when_the_process_execs(sim):
    """The mapped region is unmapped automatically when the process performs an exec."""
    sim.write_file("/tmp/prog", static_program())
    p = sim.spawn()
    p.chmod("/tmp/prog", 0o755)
    a, _ = _map_file(sim, p)
    p.store(a, b"before exec")
    p.execve("/tmp/prog")
    assert all(m.name != "/tmp/f" for m in all_maps(p))
    assert not sim.kernel.fs.lookup("/tmp/f").mappings
    assert sim.read_file("/tmp/f")[:11] == b"before exec"


def test_closing_the_fd_does_not_unmap_the_region(machine):
    """Closing the file descriptor does not unmap the region."""
    p = machine.spawn()
    a, fd = _map_file(machine, p)
    p.close(fd)
    assert vma_at(p, a).name == "/tmp/f"
    p.store(a, b"after close")
    assert p.load(a, 11) == b"after close"
    assert machine.read_file("/tmp/f")[:11] == b"after close"


# -- where mappings lie -----------------------------------------------------------------


def test_a_process_has_text_data_heap_and_stack(machine):
    """A process's address space holds its text, data, heap and stack, in that order."""
    p = machine.spawn()
    lines = all_maps(p)
    heap = next(m for m in lines if m.name == "[heap]")
    stack = next(m for m in lines if m.name == "[stack]")
    text = next(m for m in lines if m.perms == "r-xp" and m.name.startswith("/"))
    data = next(m for m in lines if m.perms == "rw-p" and m.name == text.name)
    assert text.end <= data.start
    assert data.end <= heap.start
    assert heap.end < stack.start


def test_mappings_lie_between_the_heap_and_the_stack(machine):
    """Memory mappings lie between the heap and the stack."""
    p = machine.spawn()
    lines = all_maps(p)
    heap = next(m for m in lines if m.name == "[heap]")
    stack = next(m for m in lines if m.name == "[stack]")
    a, _ = _map_file(machine, p)
    b = p.mmap(0, 16 * PAGE, RW, ANON)
    for addr, size in ((a, len(FILE)), (b, 16 * PAGE)):
        assert heap.end <= addr
        assert addr + size <= stack.start


def test_later_mappings_lie_below_earlier_ones(machine):
    """The mapping area grows down: each new mapping lies below the earlier ones."""
    p = machine.spawn()
    first, _ = _map_file(machine, p)
    second = p.mmap(0, 2 * PAGE, RW, SHARED_ANON)
    third = p.mmap(0, PAGE, PROT_READ, SHARED_ANON)
    assert third + PAGE <= second
    assert second + 2 * PAGE <= first
