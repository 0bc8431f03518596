"""fork(2) and _exit(2): what a child shares, what it copies, and what exit removes."""

from __future__ import annotations

import errno

import pytest

from helpers import ANON, PAGE, RW, SHARED_ANON, is_unmapped, new_file, pattern, smaps_at, vma_at
from mmapsim import (
    MAP_LOCKED,
    MAP_PRIVATE,
    MAP_SHARED,
    MS_INVALIDATE,
    O_RDONLY,
    PROT_READ,
    SEEK_CUR,
)

DATA = pattern(2 * PAGE)


def test_fork_shares_MAP_SHARED_file_pages(machine):
    """After fork a MAP_SHARED page is one frame in both processes."""
    parent = machine.spawn()
    fd = new_file(machine, parent, "/tmp/f", DATA)
    a = parent.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    child = parent.fork()
    parent.load(a, 1)
    child.load(a, 1)
    assert child.pagemap(a).pfn == parent.pagemap(a).pfn
    child.store(a, b"child wrote")
    assert parent.load(a, 11) == b"child wrote"
    assert child.pagemap(a).pfn == parent.pagemap(a).pfn
    assert machine.read_file("/tmp/f")[:11] == b"child wrote"


def test_fork_makes_private_pages_copy_on_write(machine):
    """After fork a private page is shared until one side writes, then each has its own."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, ANON)
    parent.store(a, b"original")
    child = parent.fork()
    assert child.pagemap(a).pfn == parent.pagemap(a).pfn
    assert not parent.pagemap(a).exclusive
    child.store(a, b"child's!")
    assert parent.load(a, 8) == b"original"
    assert child.load(a, 8) == b"child's!"
    assert child.pagemap(a).pfn != parent.pagemap(a).pfn
    assert child.pagemap(a).exclusive


def test_a_parent_write_after_fork_is_invisible_to_the_child(machine):
    """After fork a write by the parent to a private page is not seen by the child."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, ANON)
    parent.store(a, b"before")
    child = parent.fork()
    parent.store(a, b"after!")
    assert child.load(a, 6) == b"before"


def test_fork_makes_private_file_pages_copy_on_write(machine):
    """A private file page written before fork stays private to each process after it."""
    parent = machine.spawn()
    fd = new_file(machine, parent, "/tmp/f", DATA)
    a = parent.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    parent.store(a, b"parent copy")
    child = parent.fork()
    assert child.load(a, 11) == b"parent copy"
    child.store(a, b"child  copy")
    assert parent.load(a, 11) == b"parent copy"
    assert machine.read_file("/tmp/f") == DATA


def test_fork_shares_anonymous_shared_memory(machine):
    """MAP_SHARED|MAP_ANONYMOUS memory is shared by parent and child after fork."""
    parent = machine.spawn()
    a = parent.mmap(0, 2 * PAGE, RW, SHARED_ANON)
    child = parent.fork()
    child.store(a + PAGE, b"hello parent")
    assert parent.load(a + PAGE, 12) == b"hello parent"
    parent.store(a, b"hello child")
    assert child.load(a, 11) == b"hello child"
    assert child.pagemap(a).pfn == parent.pagemap(a).pfn


def test_anonymous_private_memory_is_not_shared_after_fork(machine):
    """A child's write to private anonymous memory untouched before fork stays its own."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, ANON)
    child = parent.fork()
    child.store(a, b"mine")
    assert parent.load(a, 4) == bytes(4)


def test_protections_belong_to_each_process(machine):
    """mprotect in the child does not change the parent's protection."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, SHARED_ANON)
    child = parent.fork()
    child.mprotect(a, PAGE, PROT_READ)
    assert vma_at(child, a).perms == "r--s"
    assert vma_at(parent, a).perms == "rw-s"
    parent.store(a, b"parent may write")
    assert child.load(a, 16) == b"parent may write"


def test_munmap_in_the_child_leaves_the_parent_mapping(machine):
    """munmap in the child leaves the parent's mapping in place."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, SHARED_ANON)
    parent.store(a, b"data")
    child = parent.fork()
    child.munmap(a, PAGE)
    assert is_unmapped(child, a, a + PAGE)
    assert parent.load(a, 4) == b"data"


def test_the_child_has_the_same_mappings(machine):
    """The child's maps lists the parent's mappings with the same addresses and perms."""
    parent = machine.spawn()
    fd = new_file(machine, parent, "/tmp/f", DATA)
    a = parent.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
    b = parent.mmap(0, PAGE, RW, SHARED_ANON)
    child = parent.fork()
    for addr in (a, b):
        assert vma_at(child, addr) == vma_at(parent, addr)


def test_the_child_shares_open_file_descriptions(machine):
    """A child's fds share the parent's open files, file position included."""
    parent = machine.spawn()
    fd = new_file(machine, parent, "/tmp/f", DATA)
    parent.read(fd, 10)
    child = parent.fork()
    assert child.read(fd, 5) == DATA[10:15]
    assert parent.lseek(fd, 0, SEEK_CUR) == 15
    child.close(fd)
    assert parent.read(fd, 1) == DATA[15:16]


def test_exit_removes_the_process(machine):
    """After exit the process is no longer alive, with its status and no signal."""
    p = machine.spawn()
    assert p.exit(3) is None
    assert not p.alive
    assert p.exit_status == 3
    assert p.term_signal is None
    assert p not in machine.processes
    with pytest.raises(ProcessLookupError):
        p.maps()


def test_exit_keeps_what_was_written_through_a_shared_mapping(machine):
    """Data stored through a shared mapping is in the file after the process exits."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a + PAGE, b"last words")
    p.exit(0)
    assert machine.read_file("/tmp/f")[PAGE : PAGE + 10] == b"last words"


def test_exit_of_the_parent_leaves_the_child_shared_memory(machine):
    """Shared anonymous memory outlives the parent's exit in the child."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, SHARED_ANON)
    parent.store(a, b"inherited")
    child = parent.fork()
    parent.exit(0)
    assert child.load(a, 9) == b"inherited"
    child.store(a, b"still here")
    assert child.load(a, 10) == b"still here"


def test_exit_closes_every_fd(machine):
    """Exit closes every fd: a pipe's reader then sees end of file."""
    p = machine.spawn()
    rfd, wfd = p.pipe()
    child = p.fork()
    p.close(wfd)
    child.write(wfd, b"bye")
    child.exit(0)
    assert p.read(rfd, 100) == b"bye"
    assert p.read(rfd, 100) == b""


def test_exit_of_a_child_leaves_the_parent_pages(machine):
    """A child's exit leaves the parent's copy-on-write pages intact."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, ANON)
    parent.store(a, b"survives")
    child = parent.fork()
    child.exit(0)
    parent.store(a + 8, b"!")
    assert parent.load(a, 9) == b"survives!"
    assert parent.pagemap(a).exclusive


def test_processes_lists_the_live_processes(machine):
    """Machine.processes lists processes until they end, and zombies until waited for."""
    p, q = machine.spawn(), machine.spawn()
    child = p.fork()
    pids = {x.pid for x in machine.processes}
    assert pids == {p.pid, q.pid, child.pid}
    assert len(pids) == 3
    child.exit(0)
    assert {x.pid for x in machine.processes} == {p.pid, q.pid, child.pid}
    assert not child.alive
    p.waitpid(child.pid)
    assert {x.pid for x in machine.processes} == {p.pid, q.pid}
    q.exit(0)
    assert {x.pid for x in machine.processes} == {p.pid}


def test_a_closed_file_is_still_mapped_in_the_child(machine):
    """A mapping survives close(fd) and fork: the child reads the file through it."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    p.close(fd)
    child = p.fork()
    assert child.load(a, 8) == DATA[:8]
    with pytest.raises(OSError) as exc:
        child.read(fd, 1)
    assert exc.value.errno == errno.EBADF


def test_fork_does_not_copy_page_tables_of_never_written_anonymous_memory(machine):
    """Anonymous memory that was only read (the zero frame) is not present in the child."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, ANON)
    parent.load(a, 1)
    child = parent.fork()
    assert parent.pagemap(a).present
    assert not child.pagemap(a).present
    assert child.load(a, 4) == bytes(4)


def test_the_child_does_not_inherit_memory_locks(machine):
    """fork does not pass MAP_LOCKED on: the child's copy of a locked mapping is unlocked."""
    parent = machine.spawn()
    a = parent.mmap(0, PAGE, RW, SHARED_ANON | MAP_LOCKED)
    child = parent.fork()
    assert child.msync(a, PAGE, MS_INVALIDATE) is None
    with pytest.raises(OSError) as exc:
        parent.msync(a, PAGE, MS_INVALIDATE)
    assert exc.value.errno == errno.EBUSY
    assert smaps_at(child, a)["Locked"] == 0
    assert smaps_at(parent, a)["Locked"] == 4
