"""open(2)'s flags as Linux takes them (fs/open.c: build_open_how, build_open_flags):
invalid bits dropped, O_PATH keeping only its own, O_DIRECTORY with O_CREAT refused,
O_TMPFILE's unnamed file.  Every errno here was read from the real kernel."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from helpers import PAGE, RW, vma_at
from mmapsim import MAP_SHARED, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY, PROT_READ

O_DIRECTORY = 0o200000
O_PATH = 0o10000000
O_TMPFILE = 0o20200000  # __O_TMPFILE | O_DIRECTORY
_O_TMPFILE_BIT = 0o20000000
NOT_A_FLAG = 0o40000000  # outside VALID_OPEN_FLAGS


def _errno(call: Any, *args: Any) -> int:
    with pytest.raises(OSError) as caught:
        call(*args)
    return caught.value.errno


def test_o_directory_with_o_creat_is_einval_and_creates_nothing(machine: Any) -> None:
    """Linux 6.4 on: O_DIRECTORY | O_CREAT is EINVAL, before the path is looked at."""
    p = machine.spawn()
    assert _errno(p.open, "/tmp/new", O_DIRECTORY | O_CREAT | O_RDWR) == errno.EINVAL
    assert _errno(p.open, "/tmp/none/new", O_DIRECTORY | O_CREAT) == errno.EINVAL
    assert _errno(p.open, "/tmp/new", O_RDONLY) == errno.ENOENT


def test_bits_outside_the_valid_open_flags_are_ignored(machine: Any) -> None:
    """An unknown bit changes nothing: the file opens as without it."""
    machine.write_file("/tmp/f", b"hello")
    p = machine.spawn()
    fd = p.open("/tmp/f", O_RDONLY | NOT_A_FLAG)
    assert p.read(fd, 5) == b"hello"


@pytest.mark.parametrize("flags", [_O_TMPFILE_BIT | O_RDWR, O_TMPFILE | O_RDONLY])
def test_o_tmpfile_needs_o_directory_and_write_access(machine: Any, flags: int) -> None:
    """__O_TMPFILE without O_DIRECTORY, or without write access, is EINVAL."""
    p = machine.spawn()
    assert _errno(p.open, "/tmp", flags) == errno.EINVAL


def test_o_tmpfile_makes_a_file_no_name_reaches(machine: Any) -> None:
    """O_TMPFILE: a regular file in the directory, with no link, shown as DIR/#INO (deleted)."""
    machine.write_file("/tmp/f", b"x")
    p = machine.spawn()
    assert _errno(p.open, "/tmp/f", O_TMPFILE | O_RDWR) == errno.ENOTDIR
    assert _errno(p.open, "/tmp/none", O_TMPFILE | O_RDWR) == errno.ENOENT
    fd = p.open("/tmp", O_TMPFILE | O_RDWR, 0o600)
    st = p.fstat(fd)
    assert st.st_nlink == 0
    assert st.st_mode == 0o100600
    assert p.write(fd, b"unnamed" + bytes(PAGE - 7)) == PAGE
    addr = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    assert p.load(addr, 7) == b"unnamed"
    line = vma_at(p, addr)
    assert line is not None
    assert line.name == f"/tmp/#{st.st_ino} (deleted)"
    assert _errno(p.open, f"/tmp/#{st.st_ino}", O_RDONLY) == errno.ENOENT


def test_o_path_names_a_file_without_access_to_it(machine: Any) -> None:
    """An O_PATH fd: close, dup and fstat take it; read, write, lseek, ftruncate,
    fsync and mmap are EBADF."""
    machine.write_file("/tmp/f", b"hello")
    p = machine.spawn()
    fd = p.open("/tmp/f", O_PATH | O_RDWR)  # the access mode is dropped
    assert p.fstat(fd).st_size == 5
    assert _errno(p.read, fd, 1) == errno.EBADF
    assert _errno(p.write, fd, b"x") == errno.EBADF
    assert _errno(p.lseek, fd, 0, 0) == errno.EBADF
    assert _errno(p.ftruncate, fd, 0) == errno.EBADF
    assert _errno(p.fsync, fd) == errno.EBADF
    assert _errno(p.mmap, 0, PAGE, PROT_READ, MAP_SHARED, fd, 0) == errno.EBADF
    twin = p.dup(fd)
    assert p.fstat(twin).st_size == 5
    p.close(twin)
    p.close(fd)
    assert machine.read_file("/tmp/f") == b"hello"


def test_o_path_drops_o_creat_and_opens_directories(machine: Any) -> None:
    """O_PATH keeps only O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC: O_CREAT does nothing,
    a directory opens, and O_DIRECTORY on a file is ENOTDIR."""
    machine.write_file("/tmp/f", b"hello")
    p = machine.spawn()
    assert _errno(p.open, "/tmp/new", O_PATH | O_CREAT | O_EXCL | O_WRONLY) == errno.ENOENT
    p.close(p.open("/tmp", O_PATH | O_RDWR))
    assert _errno(p.open, "/tmp/f", O_PATH | O_DIRECTORY) == errno.ENOTDIR


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/tmp/f", errno.ENOTDIR), ("/tmp/none", errno.ENOENT), ("/tmp/f/", errno.ENOTDIR)],
)
def test_all_flag_bits_open_as_o_path_with_o_directory(
    machine: Any, path: str, expected: int
) -> None:
    """open(path, -1): O_PATH wins over every other bit, so a directory opens and
    anything else fails as O_PATH | O_DIRECTORY fails."""
    machine.write_file("/tmp/f", b"hello")
    p = machine.spawn()
    p.close(p.open("/tmp", -1))
    assert _errno(p.open, path, -1) == expected


_END = 2**63 - 1
_EINVAL, _ENXIO = OSError(errno.EINVAL, "EINVAL"), OSError(errno.ENXIO, "ENXIO")
#: (offset, whence) and what ext4 answers for a directory: an indexed directory's
#: end and limit are both 2**63-1 (EXT4_HTREE_EOF_64BIT).
_DIR_SEEKS: list[tuple[int, int, int | OSError]] = [
    (5, 0, 5), (3, 1, 8), (0, 2, _END), (-5, 2, _END - 5), (1, 2, _EINVAL), (7, 3, 7),
    (-1, 3, _ENXIO), (_END, 3, _ENXIO), (7, 4, _END), (-3, 0, _EINVAL), (_END, 0, _END),
    (_END, 1, _EINVAL),
]  # fmt: skip


def test_a_directory_seeks_as_ext4_seeks_an_indexed_one(machine: Any) -> None:
    """lseek on a directory of the disk: ext4_dir_llseek; fstat says one block."""
    p = machine.spawn()
    fd = p.open("/tmp", O_RDONLY)
    assert (p.fstat(fd).st_size, p.fstat(fd).st_blocks) == (4096, 8)
    for offset, whence, expected in _DIR_SEEKS:
        if isinstance(expected, OSError):
            assert _errno(p.lseek, fd, offset, whence) == expected.errno, (offset, whence)
        else:
            assert p.lseek(fd, offset, whence) == expected, (offset, whence)


def test_the_tmpfs_directory_seeks_only_from_start_or_position(machine: Any) -> None:
    """/dev/shm: dcache_dir_lseek takes SEEK_SET and SEEK_CUR only; its size is 20 bytes
    an entry, '.' and '..' included."""
    p = machine.spawn()
    fd = p.open("/dev/shm", O_RDONLY)
    assert p.fstat(fd).st_size == 40
    p.close(p.shm_open("/one", O_CREAT | O_RDWR, 0o600))
    assert p.fstat(fd).st_size == 60
    assert p.lseek(fd, 5, 0) == 5
    assert p.lseek(fd, 3, 1) == 8
    for whence in (2, 3, 4):
        assert _errno(p.lseek, fd, 0, whence) == errno.EINVAL
    assert _errno(p.lseek, fd, -9, 1) == errno.EINVAL
