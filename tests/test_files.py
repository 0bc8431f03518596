"""The file calls: their basics, their errors, and the page cache they share with mappings."""

from __future__ import annotations

import errno
import stat

import pytest

from helpers import PAGE, RW, new_file, pattern, vma_at
from mmapsim import (
    MAP_PRIVATE,
    MAP_SHARED,
    O_APPEND,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    PROT_READ,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
)

DATA = pattern(2 * PAGE)


def _error(call, *args) -> int:
    with pytest.raises(OSError) as exc:
        call(*args)
    return exc.value.errno


# -- open and close ------------------------------------------------------------------


def test_open_of_a_missing_file_is_ENOENT(machine):
    """open of a path that does not exist, without O_CREAT, is ENOENT."""
    p = machine.spawn()
    assert _error(p.open, "/tmp/missing", O_RDONLY) == errno.ENOENT
    assert _error(p.open, "/tmp/no/such/dir", O_RDWR | O_CREAT) == errno.ENOENT


def test_open_with_O_CREAT_creates_an_empty_file(machine):
    """open with O_CREAT makes a new empty file."""
    p = machine.spawn()
    fd = p.open("/tmp/new", O_RDWR | O_CREAT, 0o600)
    assert fd >= 0
    assert p.fstat(fd).st_size == 0
    assert stat.S_ISREG(p.fstat(fd).st_mode)
    assert machine.read_file("/tmp/new") == b""


def test_O_CREAT_O_EXCL_on_an_existing_file_is_EEXIST(machine):
    """O_CREAT|O_EXCL of a file that exists is EEXIST."""
    p = machine.spawn()
    machine.write_file("/tmp/f", b"here")
    assert _error(p.open, "/tmp/f", O_RDWR | O_CREAT | O_EXCL) == errno.EEXIST
    fd = p.open("/tmp/g", O_RDWR | O_CREAT | O_EXCL)
    assert p.fstat(fd).st_size == 0


@pytest.mark.parametrize("flags", [O_WRONLY, O_RDWR, O_RDWR | O_CREAT])
def test_opening_a_directory_for_writing_is_EISDIR(machine, flags):
    """A directory cannot be opened for writing: EISDIR."""
    p = machine.spawn()
    assert _error(p.open, "/tmp", flags) == errno.EISDIR


def test_reading_a_directory_is_EISDIR(machine):
    """A directory opened read-only cannot be read: EISDIR."""
    p = machine.spawn()
    fd = p.open("/tmp", O_RDONLY)
    assert _error(p.read, fd, 10) == errno.EISDIR
    assert stat.S_ISDIR(p.fstat(fd).st_mode)


def test_O_TRUNC_empties_the_file(machine):
    """open with O_TRUNC cuts the file to zero bytes."""
    p = machine.spawn()
    machine.write_file("/tmp/f", DATA)
    fd = p.open("/tmp/f", O_RDWR | O_TRUNC)
    assert p.fstat(fd).st_size == 0
    assert machine.read_file("/tmp/f") == b""


def test_close_frees_the_descriptor(machine):
    """After close the descriptor is invalid (EBADF), and the next open may reuse it."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert p.close(fd) is None
    assert _error(p.read, fd, 1) == errno.EBADF
    assert _error(p.close, fd) == errno.EBADF
    assert p.open("/tmp/f", O_RDONLY) == fd


@pytest.mark.parametrize("fd", [-1, 999])
def test_calls_on_a_bad_descriptor_are_EBADF(machine, fd):
    """Every file call on a descriptor that is not open is EBADF."""
    p = machine.spawn()
    calls = [
        (p.close, fd),
        (p.read, fd, 1),
        (p.write, fd, b"x"),
        (p.pread, fd, 1, 0),
        (p.pwrite, fd, b"x", 0),
        (p.lseek, fd, 0, SEEK_SET),
        (p.ftruncate, fd, 0),
        (p.fsync, fd),
        (p.fstat, fd),
    ]
    for call, *args in calls:
        assert _error(call, *args) == errno.EBADF, call.__name__


# -- read, write, lseek ----------------------------------------------------------------


def test_read_and_write_move_the_file_position(machine):
    """read and write start at the file position and advance it."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert p.read(fd, 10) == DATA[:10]
    assert p.read(fd, 5) == DATA[10:15]
    assert p.write(fd, b"HERE") == 4
    assert p.lseek(fd, 0, SEEK_CUR) == 19
    assert machine.read_file("/tmp/f")[15:19] == b"HERE"


def test_read_at_end_of_file_returns_nothing(machine):
    """read at or past the end of the file returns no bytes; a short read returns the rest."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"short")
    assert p.read(fd, 100) == b"short"
    assert p.read(fd, 100) == b""


def test_read_of_a_write_only_descriptor_is_EBADF(machine):
    """read from a descriptor opened O_WRONLY is EBADF."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_WRONLY)
    assert _error(p.read, fd, 1) == errno.EBADF
    assert _error(p.pread, fd, 1, 0) == errno.EBADF


def test_write_to_a_read_only_descriptor_is_EBADF(machine):
    """write to a descriptor opened O_RDONLY is EBADF."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    assert _error(p.write, fd, b"x") == errno.EBADF
    assert _error(p.pwrite, fd, b"x", 0) == errno.EBADF


def test_lseek_whence(machine):
    """lseek sets the position from the start, the current position or the end."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert p.lseek(fd, 100, SEEK_SET) == 100
    assert p.lseek(fd, 10, SEEK_CUR) == 110
    assert p.lseek(fd, -10, SEEK_CUR) == 100
    assert p.lseek(fd, -1, SEEK_END) == len(DATA) - 1
    assert p.read(fd, 5) == DATA[-1:]


def test_lseek_to_a_negative_position_is_EINVAL(machine):
    """lseek to a position before the start of the file is EINVAL."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    p.lseek(fd, 5, SEEK_SET)
    assert _error(p.lseek, fd, -1, SEEK_SET) == errno.EINVAL
    assert _error(p.lseek, fd, -len(DATA) - 1, SEEK_END) == errno.EINVAL
    assert p.lseek(fd, 0, SEEK_CUR) == 5


def test_lseek_with_a_bad_whence_is_EINVAL(machine):
    """lseek with an unknown whence is EINVAL."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert _error(p.lseek, fd, 0, 42) == errno.EINVAL


def test_writing_past_the_end_leaves_a_hole_of_zeros(machine):
    """A write after lseek past the end fills the gap with zeros."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"ab")
    p.lseek(fd, 10, SEEK_SET)
    p.write(fd, b"z")
    assert machine.read_file("/tmp/f") == b"ab" + bytes(8) + b"z"


def test_pread_and_pwrite_leave_the_position_alone(machine):
    """pread and pwrite work at the given offset and do not move the file position."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    p.lseek(fd, 7, SEEK_SET)
    assert p.pread(fd, 4, PAGE) == DATA[PAGE : PAGE + 4]
    assert p.pwrite(fd, b"PW", 3) == 2
    assert p.lseek(fd, 0, SEEK_CUR) == 7
    assert machine.read_file("/tmp/f")[:6] == DATA[:3] + b"PW" + DATA[5:6]


def test_pread_and_pwrite_at_a_negative_offset_are_EINVAL(machine):
    """pread and pwrite at a negative offset are EINVAL."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert _error(p.pread, fd, 1, -1) == errno.EINVAL
    assert _error(p.pwrite, fd, b"x", -1) == errno.EINVAL


def test_O_APPEND_writes_at_the_end(machine):
    """With O_APPEND every write goes to the end of the file, wherever the position was."""
    p = machine.spawn()
    machine.write_file("/tmp/f", b"start")
    fd = p.open("/tmp/f", O_WRONLY | O_APPEND)
    p.write(fd, b"-one")
    p.lseek(fd, 0, SEEK_SET)
    p.write(fd, b"-two")
    assert machine.read_file("/tmp/f") == b"start-one-two"
    assert p.lseek(fd, 0, SEEK_CUR) == len(b"start-one-two")


# -- ftruncate, fsync, unlink, chmod, fstat ----------------------------------------------


def test_ftruncate_shrinks_and_grows_with_zeros(machine):
    """ftruncate cuts a file, and grows it with zero bytes."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert p.ftruncate(fd, 10) is None
    assert machine.read_file("/tmp/f") == DATA[:10]
    p.ftruncate(fd, 20)
    assert machine.read_file("/tmp/f") == DATA[:10] + bytes(10)
    assert p.fstat(fd).st_size == 20


def test_ftruncate_of_a_read_only_descriptor_is_EINVAL(machine):
    """ftruncate needs a descriptor open for writing: EINVAL otherwise."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    assert _error(p.ftruncate, fd, 0) == errno.EINVAL
    assert machine.read_file("/tmp/f") == DATA


def test_ftruncate_to_a_negative_length_is_EINVAL(machine):
    """ftruncate to a negative length is EINVAL."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert _error(p.ftruncate, fd, -1) == errno.EINVAL


def test_fsync_of_a_file_succeeds(machine):
    """fsync of a regular file succeeds and keeps its contents."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    p.write(fd, b"dirty")
    assert p.fsync(fd) is None
    assert machine.read_file("/tmp/f")[:5] == b"dirty"


@pytest.mark.simonly
def test_fsync_writes_every_dirty_page_to_disk(sim):
    """fsync writes the file's dirty pages to its disk image and cleans them."""
    p = sim.spawn()
    fd = new_file(sim, p, "/tmp/f", DATA)
    p.pwrite(fd, b"one", 0)
    p.pwrite(fd, b"two", PAGE)
    inode = sim.kernel.fs.lookup("/tmp/f")
    assert inode.dirty == {0, 1}
    p.fsync(fd)
    assert not inode.dirty
    assert bytes(inode.disk[PAGE : PAGE + 3]) == b"two"


def test_unlink_removes_the_name(machine):
    """After unlink the path no longer opens: ENOENT."""
    p = machine.spawn()
    machine.write_file("/tmp/f", DATA)
    assert p.unlink("/tmp/f") is None
    assert _error(p.open, "/tmp/f", O_RDONLY) == errno.ENOENT
    assert _error(p.unlink, "/tmp/f") == errno.ENOENT


def test_unlink_of_a_directory_is_EISDIR(machine):
    """unlink of a directory is EISDIR on Linux."""
    p = machine.spawn()
    assert _error(p.unlink, "/tmp") == errno.EISDIR


def test_an_unlinked_open_file_is_still_usable(machine):
    """An open file lives on after unlink: read and write through its descriptor work."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    p.unlink("/tmp/f")
    assert p.pread(fd, 4, 0) == DATA[:4]
    p.pwrite(fd, b"more", 0)
    assert p.pread(fd, 4, 0) == b"more"
    assert p.fstat(fd).st_nlink == 0


def test_chmod_changes_the_mode(machine):
    """chmod changes the permission bits that fstat reports."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    assert p.chmod("/tmp/f", 0o640) is None
    assert stat.S_IMODE(p.fstat(fd).st_mode) == 0o640
    p.chmod("/tmp/f", 0o4755)
    assert stat.S_IMODE(p.fstat(fd).st_mode) == 0o4755


def test_chmod_of_a_missing_file_is_ENOENT(machine):
    """chmod of a path that does not exist is ENOENT."""
    p = machine.spawn()
    assert _error(p.chmod, "/tmp/missing", 0o600) == errno.ENOENT


def test_open_with_O_CREAT_applies_the_umask(machine):
    """O_CREAT's mode is cut by the umask 022."""
    p = machine.spawn()
    fd = p.open("/tmp/new", O_RDWR | O_CREAT, 0o666)
    assert stat.S_IMODE(p.fstat(fd).st_mode) == 0o644


def test_fstat_size_follows_writes_and_truncation(machine):
    """fstat's st_size follows write, pwrite past the end and ftruncate."""
    p = machine.spawn()
    fd = p.open("/tmp/f", O_RDWR | O_CREAT)
    p.write(fd, b"12345")
    assert p.fstat(fd).st_size == 5
    p.pwrite(fd, b"x", 99)
    assert p.fstat(fd).st_size == 100
    p.ftruncate(fd, 3)
    assert p.fstat(fd).st_size == 3


def test_fstat_mtime_increases_with_each_change(machine):
    """Every write and truncation makes st_mtime_ns later than before."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    times = [p.fstat(fd).st_mtime_ns]
    for change in (
        lambda: p.write(fd, b"a"),
        lambda: p.pwrite(fd, b"b", 100),
        lambda: p.ftruncate(fd, 50),
    ):
        change()
        times.append(p.fstat(fd).st_mtime_ns)
    assert times == sorted(set(times))


def test_fstat_mtime_does_not_change_on_read(machine):
    """Reading a file leaves its st_mtime_ns alone."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    before = p.fstat(fd).st_mtime_ns
    p.read(fd, 100)
    p.pread(fd, 100, 0)
    assert p.fstat(fd).st_mtime_ns == before


# -- pipes -----------------------------------------------------------------------------


def test_pipe_carries_bytes_in_order(machine):
    """What is written to a pipe's write end is read from its read end, in order."""
    p = machine.spawn()
    rfd, wfd = p.pipe()
    assert p.write(wfd, b"hello ") == 6
    p.write(wfd, b"world")
    assert p.read(rfd, 100) == b"hello world"


def test_pipe_ends_are_one_way(machine):
    """A pipe's read end cannot be written and its write end cannot be read: EBADF."""
    p = machine.spawn()
    rfd, wfd = p.pipe()
    assert _error(p.write, rfd, b"x") == errno.EBADF
    assert _error(p.read, wfd, 1) == errno.EBADF


def test_seeking_on_a_pipe_is_ESPIPE(machine):
    """lseek, pread and pwrite on a pipe are ESPIPE."""
    p = machine.spawn()
    rfd, wfd = p.pipe()
    assert _error(p.lseek, rfd, 0, SEEK_SET) == errno.ESPIPE
    assert _error(p.pread, rfd, 1, 0) == errno.ESPIPE
    assert _error(p.pwrite, wfd, b"x", 0) == errno.ESPIPE


def test_ftruncate_and_fsync_of_a_pipe_are_EINVAL(machine):
    """ftruncate and fsync of a pipe are EINVAL."""
    p = machine.spawn()
    _, wfd = p.pipe()
    assert _error(p.ftruncate, wfd, 0) == errno.EINVAL
    assert _error(p.fsync, wfd) == errno.EINVAL


def test_writing_to_a_pipe_with_no_reader_is_EPIPE(machine):
    """A write to a pipe whose read end is closed fails with EPIPE (SIGPIPE is ignored)."""
    p = machine.spawn()
    rfd, wfd = p.pipe()
    p.close(rfd)
    assert _error(p.write, wfd, b"nobody listens") == errno.EPIPE
    assert p.alive


def test_reading_an_empty_pipe_with_no_writer_is_end_of_file(machine):
    """A read from an empty pipe whose write end is closed returns no bytes."""
    p = machine.spawn()
    rfd, wfd = p.pipe()
    p.write(wfd, b"last")
    p.close(wfd)
    assert p.read(rfd, 100) == b"last"
    assert p.read(rfd, 100) == b""


def test_fstat_of_a_pipe_shows_a_fifo(machine):
    """fstat of a pipe end reports a FIFO."""
    p = machine.spawn()
    rfd, _ = p.pipe()
    assert stat.S_ISFIFO(p.fstat(rfd).st_mode)


# -- the unified page cache ------------------------------------------------------------


def test_write_is_visible_through_a_shared_mapping_at_once(machine):
    """A write() is seen at once through every shared mapping of the file."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert p.load(a + PAGE, 5) == DATA[PAGE : PAGE + 5]
    p.pwrite(fd, b"fresh", PAGE)
    assert p.load(a + PAGE, 5) == b"fresh"
    p.lseek(fd, 0, SEEK_SET)
    p.write(fd, b"start")
    assert p.load(a, 5) == b"start"


def test_store_is_visible_to_read_at_once(machine):
    """A store through a shared mapping is seen at once by read() and pread()."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a + 3, b"stored")
    assert p.pread(fd, 9, 0) == DATA[:3] + b"stored"
    assert p.read(fd, 9) == DATA[:3] + b"stored"


def test_store_is_visible_to_another_process_read(machine):
    """A store through a shared mapping is seen by read() in another process."""
    p, q = machine.spawn(), machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a, b"from p")
    qfd = q.open("/tmp/f", O_RDONLY)
    assert q.read(qfd, 6) == b"from p"


def test_write_is_visible_through_an_unwritten_private_page(machine):
    """A write() is seen through a private mapping's pages that were never written."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.load(a, 1)
    p.pwrite(fd, b"later", 0)
    assert p.load(a, 5) == b"later"


def test_unlinking_a_mapped_file_keeps_the_mapping(machine):
    """An unlinked mapped file shows as '(deleted)' in maps and its data stays readable."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    p.close(fd)
    assert vma_at(p, a).name == "/tmp/f"
    p.unlink("/tmp/f")
    assert vma_at(p, a).name == "/tmp/f (deleted)"
    assert p.load(a, 2 * PAGE) == DATA
    p.store(a, b"still works")
    assert p.load(a, 11) == b"still works"


def test_a_new_file_at_the_unlinked_path_is_a_different_file(machine):
    """After unlink a new file at the same path is not the mapped one."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.unlink("/tmp/f")
    machine.write_file("/tmp/f", b"new file")
    p.store(a, b"old")
    assert machine.read_file("/tmp/f") == b"new file"
    assert p.load(a, 8) == b"old" + DATA[3:8]


def test_open_of_an_empty_path_is_ENOENT(machine):
    """open of the empty path is ENOENT."""
    p = machine.spawn()
    assert _error(p.open, "", O_RDONLY) == errno.ENOENT


def test_open_below_a_regular_file_is_ENOTDIR(machine):
    """A path that goes through a regular file as if it were a directory is ENOTDIR."""
    p = machine.spawn()
    machine.write_file("/tmp/f", DATA)
    assert _error(p.open, "/tmp/f/x", O_RDONLY) == errno.ENOTDIR
    assert _error(p.open, "/tmp/f/x", O_RDWR | O_CREAT) == errno.ENOTDIR


def test_O_CREAT_on_an_existing_file_keeps_its_contents(machine):
    """O_CREAT without O_EXCL or O_TRUNC opens an existing file as it is."""
    p = machine.spawn()
    machine.write_file("/tmp/f", DATA)
    fd = p.open("/tmp/f", O_RDWR | O_CREAT)
    assert p.fstat(fd).st_size == len(DATA)
    assert p.open("/tmp/f", O_RDWR | O_EXCL) >= 0  # O_EXCL alone means nothing


def test_pwrite_with_O_APPEND_appends_whatever_the_offset(machine):
    """On Linux pwrite to a file opened O_APPEND writes at the end, ignoring its offset."""
    p = machine.spawn()
    machine.write_file("/tmp/f", b"hello")
    fd = p.open("/tmp/f", O_WRONLY | O_APPEND)
    assert p.pwrite(fd, b"X", 0) == 1
    assert machine.read_file("/tmp/f") == b"helloX"


def test_reading_dev_zero_gives_zeros(machine):
    """read from /dev/zero gives zero bytes, as many as asked for."""
    p = machine.spawn()
    fd = p.open("/dev/zero", O_RDONLY)
    assert p.read(fd, 5000) == bytes(5000)


def test_chmod_makes_ctime_later(machine):
    """chmod changes the file's status: st_ctime_ns is later than before."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    before = p.fstat(fd).st_ctime_ns
    p.chmod("/tmp/f", 0o600)
    assert p.fstat(fd).st_ctime_ns > before


def test_a_write_changes_mtime_and_ctime_together(machine):
    """A write makes st_mtime_ns and st_ctime_ns later, to the same instant."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    before = p.fstat(fd)
    p.write(fd, b"z")
    after = p.fstat(fd)
    assert after.st_mtime_ns > before.st_mtime_ns
    assert after.st_ctime_ns == after.st_mtime_ns
