"""POSIX shared memory (shm_open, shm_unlink: a tmpfs at /dev/shm) and
memfd_create, on both machines."""

from __future__ import annotations

import errno
import stat
from typing import Any

import pytest

from elfgen import static_program
from helpers import PAGE, RW, smaps_at, vma_at
from mmapsim import (
    MAP_PRIVATE,
    MAP_SHARED,
    MFD_ALLOW_SEALING,
    MFD_CLOEXEC,
    MS_SYNC,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
)


def _errno(call: Any, *args: Any) -> int | None:
    try:
        call(*args)
    except OSError as exc:
        return exc.errno
    return None


def test_shm_open_shares_an_object_by_name(machine: Any) -> None:
    """Two unrelated processes open one name and share its pages through mappings."""
    a, b = machine.spawn(), machine.spawn()
    fa = a.shm_open("/board", O_RDWR | O_CREAT | O_EXCL, 0o600)
    a.ftruncate(fa, PAGE)
    pa = a.mmap(0, PAGE, RW, MAP_SHARED, fa, 0)
    fb = b.shm_open("/board", O_RDWR)
    pb = b.mmap(0, PAGE, RW, MAP_SHARED, fb, 0)
    a.store(pa, b"posted")
    assert b.load(pb, 6) == b"posted"
    assert a.pagemap(pa).pfn == b.pagemap(pb).pfn
    assert b.pread(fb, 6, 0) == b"posted"
    assert machine.read_file("/dev/shm/board")[:6] == b"posted"
    assert vma_at(a, pa).name == "/dev/shm/board"


def test_shm_open_is_open_of_dev_shm(machine: Any) -> None:
    """The object is the file /dev/shm/NAME: open(2) reaches it too, leading slashes go."""
    p = machine.spawn()
    fd = p.shm_open("obj", O_RDWR | O_CREAT, 0o640)
    p.write(fd, b"abc")
    assert p.read(p.open("/dev/shm/obj", O_RDONLY), 3) == b"abc"
    assert p.pread(p.shm_open("//obj", O_RDONLY), 3, 0) == b"abc"
    st = p.fstat(fd)
    assert stat.S_ISREG(st.st_mode)
    assert st.st_mode & 0o777 == 0o640 & ~0o022
    assert st.st_size == 3


def test_shm_open_names_and_flags(machine: Any) -> None:
    """Name rules (EINVAL, ENAMETOOLONG), O_EXCL (EEXIST), a missing name (ENOENT)."""
    p = machine.spawn()
    assert _errno(p.shm_open, "", O_RDWR | O_CREAT) == errno.EINVAL
    assert _errno(p.shm_open, "/", O_RDWR | O_CREAT) == errno.EINVAL
    assert _errno(p.shm_open, "/a/b", O_RDWR | O_CREAT) == errno.EINVAL
    assert _errno(p.shm_open, "/" + "x" * 256, O_RDWR | O_CREAT) == errno.ENAMETOOLONG
    p.shm_open("/" + "x" * 255, O_RDWR | O_CREAT)
    assert _errno(p.shm_open, "/missing", O_RDWR) == errno.ENOENT
    p.shm_open("/once", O_RDWR | O_CREAT)
    assert _errno(p.shm_open, "/once", O_RDWR | O_CREAT | O_EXCL) == errno.EEXIST


def test_shm_unlink(machine: Any) -> None:
    """shm_unlink removes the name; the mapping lives on as '(deleted)'; errors are ENOENT."""
    p = machine.spawn()
    fd = p.shm_open("/gone", O_RDWR | O_CREAT)
    p.ftruncate(fd, PAGE)
    addr = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.store(addr, b"alive")
    p.close(fd)
    p.shm_unlink("/gone")
    assert vma_at(p, addr).name == "/dev/shm/gone (deleted)"
    assert p.load(addr, 5) == b"alive"
    assert _errno(p.shm_open, "/gone", O_RDWR) == errno.ENOENT
    assert _errno(p.shm_unlink, "/gone") == errno.ENOENT
    assert _errno(p.shm_unlink, "") == errno.ENOENT
    assert _errno(p.shm_unlink, "/a/b") == errno.ENOENT
    assert _errno(p.shm_unlink, "/" + "x" * 256) == errno.ENAMETOOLONG


def test_tmpfs_pages_are_never_written_back(machine: Any) -> None:
    """A page of a /dev/shm file stays dirty through msync and fsync: there is no disk."""
    p = machine.spawn()
    fd = p.shm_open("/mem", O_RDWR | O_CREAT | O_TRUNC)
    p.ftruncate(fd, PAGE)
    addr = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.store(addr, b"dirty")
    p.msync(addr, PAGE, MS_SYNC)
    p.fsync(fd)
    fields = smaps_at(p, addr)
    assert fields["Private_Dirty"] == 4
    assert fields["Private_Clean"] == 0


def test_memfd_create(machine: Any) -> None:
    """memfd_create: an empty O_RDWR file with no link, /memfd:NAME (deleted) in maps."""
    p = machine.spawn()
    fd = p.memfd_create("scratch")
    st = p.fstat(fd)
    assert (st.st_size, st.st_nlink, st.st_mode) == (0, 0, stat.S_IFREG | 0o777)
    p.ftruncate(fd, 2 * PAGE)
    addr = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    line = vma_at(p, addr)
    assert (line.perms, line.name, line.inode) == ("rw-s", "/memfd:scratch (deleted)", st.st_ino)
    p.store(addr + PAGE, b"via memory")
    assert p.pread(fd, 10, PAGE) == b"via memory"
    p.write(fd, b"via write")
    assert p.load(addr, 9) == b"via write"


def test_memfd_is_shared_with_a_child(machine: Any) -> None:
    """After fork the child's fd is the same file: its store reaches the parent's mapping."""
    p = machine.spawn()
    fd = p.memfd_create("ipc", MFD_CLOEXEC | MFD_ALLOW_SEALING)
    p.ftruncate(fd, PAGE)
    addr = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    child = p.fork()
    caddr = child.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    child.store(caddr, b"hello parent")
    assert p.load(addr, 12) == b"hello parent"
    private = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(private, b"mine")
    assert child.load(caddr, 4) == b"hell"


def test_memfd_create_errors(machine: Any) -> None:
    """Unknown flags, MFD_EXEC with MFD_NOEXEC_SEAL and a name over 249 bytes: EINVAL."""
    p = machine.spawn()
    assert _errno(p.memfd_create, "x", 0x100) == errno.EINVAL
    assert _errno(p.memfd_create, "x", 0x10 | 0x8) == errno.EINVAL
    assert _errno(p.memfd_create, "x" * 250) == errno.EINVAL
    p.memfd_create("x" * 249)
    fd = p.memfd_create("sealed", 0x8)  # MFD_NOEXEC_SEAL
    assert p.fstat(fd).st_mode & 0o777 == 0o666


def test_cloexec_fds_close_at_execve(machine: Any) -> None:
    """shm_open's fd and an MFD_CLOEXEC memfd close at execve; a plain memfd stays."""
    machine.write_file("/tmp/prog", static_program())
    p = machine.spawn()
    p.chmod("/tmp/prog", 0o755)
    shm = p.shm_open("/x", O_RDWR | O_CREAT)
    closing = p.memfd_create("closing", MFD_CLOEXEC)
    staying = p.memfd_create("staying")
    p.execve("/tmp/prog")
    assert _errno(p.fstat, shm) == errno.EBADF
    assert _errno(p.fstat, closing) == errno.EBADF
    assert p.fstat(staying).st_nlink == 0


def test_a_name_may_be_bytes(machine: Any) -> None:
    """Names are str or bytes, as os functions take them; other types are TypeError."""
    p = machine.spawn()
    fd = p.shm_open(b"/bytes", O_RDWR | O_CREAT)
    p.write(fd, b"b")
    assert machine.read_file("/dev/shm/bytes") == b"b"
    with pytest.raises(TypeError):
        p.shm_open(3, O_RDWR)
    with pytest.raises(TypeError):
        p.memfd_create(None)


def test_a_read_only_object_cannot_be_mapped_writable_shared(machine: Any) -> None:
    """shm_open O_RDONLY: a writable shared mapping is EACCES, ftruncate EINVAL."""
    p = machine.spawn()
    p.ftruncate(p.shm_open("/ro", O_RDWR | O_CREAT), PAGE)
    fd = p.shm_open("/ro", O_RDONLY)
    assert _errno(p.mmap, 0, PAGE, RW, MAP_SHARED, fd, 0) == errno.EACCES
    assert _errno(p.ftruncate, fd, 0) == errno.EINVAL
    addr = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(addr, b"private")
    assert machine.read_file("/dev/shm/ro") == bytes(PAGE)


def test_an_object_grows_and_reads_back(machine: Any) -> None:
    """A tmpfs object is a file: written past its end it grows; fstat and lseek agree."""
    p = machine.spawn()
    fd = p.memfd_create("grow")
    p.pwrite(fd, b"end", 3 * PAGE)
    assert p.fstat(fd).st_size == 3 * PAGE + 3
    assert p.lseek(fd, 0, 2) == 3 * PAGE + 3
    assert p.pread(fd, 4, 3 * PAGE - 1) == b"\0end"
