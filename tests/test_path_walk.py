"""Path walking as Linux does it: '', '.', '..' and missing directories (issue 9 point 4,
issue 10 class 22).  Every errno here was read from the real kernel with ctypes."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from mmapsim import O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY

O_DIRECTORY = 0o200000

OPENS = [
    # (path, flags, the errno Linux gives or None when it opens)
    ("", O_RDWR | O_CREAT, errno.ENOENT),
    ("", O_RDONLY, errno.ENOENT),
    ("/tmp/..", O_RDWR, errno.EISDIR),
    ("/tmp/..", O_RDONLY, None),
    ("..", O_RDONLY, None),
    ("..", O_RDWR, errno.EISDIR),
    ("../..", O_RDWR, errno.EISDIR),
    ("..", O_RDWR | O_CREAT, errno.EISDIR),
    ("..", O_RDONLY | O_CREAT, errno.EISDIR),
    ("..", O_RDONLY | O_CREAT | O_EXCL, errno.EEXIST),
    ("/..", O_WRONLY, errno.EISDIR),
    ("/..", O_RDONLY | O_TRUNC, errno.EISDIR),
    ("/", O_RDWR | O_CREAT, errno.EISDIR),
    ("/", O_RDONLY | O_CREAT | O_EXCL, errno.EEXIST),
    (".", O_RDWR, errno.EISDIR),
    ("/tmp/.", O_RDWR | O_CREAT, errno.EISDIR),
    ("/tmp/../", O_RDWR, errno.EISDIR),
    ("..", O_RDONLY | O_DIRECTORY, None),
    ("/tmp/" + "n" * 256, O_RDWR | O_CREAT, errno.ENAMETOOLONG),
]


@pytest.mark.parametrize(("path", "flags", "expected"), OPENS)
def test_open_of_dots_and_empty_paths(
    machine: Any, is_host: bool, path: str, flags: int, expected: int | None
) -> None:
    p = machine.spawn()
    if expected is None:
        p.close(p.open(path, flags))
    else:
        with pytest.raises(OSError) as caught:
            p.open(path, flags)
        assert caught.value.errno == expected
    machine.write_file("/tmp/after", b"the root is still a directory")
    assert machine.read_file("/tmp/after") == b"the root is still a directory"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("..", errno.EISDIR),
        ("/..", errno.EISDIR),
        ("/", errno.EISDIR),
        ("/tmp/..", errno.EISDIR),
        (".", errno.EISDIR),
        ("/tmp/.", errno.EISDIR),
        ("", errno.ENOENT),
        ("/tmp", errno.EISDIR),
        ("../nothing", errno.ENOENT),
    ],
)
def test_unlink_of_dots_is_eisdir(machine: Any, path: str, expected: int) -> None:
    p = machine.spawn()
    with pytest.raises(OSError) as caught:
        p.unlink(path)
    assert caught.value.errno == expected
    fd = p.open("/tmp/f", O_RDWR | O_CREAT)
    assert p.write(fd, b"still here") == 10


def test_empty_path_with_o_creat_leaves_the_root_alone(machine: Any) -> None:
    """It used to replace '/' by a file; then unlink('..') removed it and every
    later look-up raised KeyError."""
    p = machine.spawn()
    with pytest.raises(FileNotFoundError):
        p.open("", O_RDWR | O_CREAT)
    with pytest.raises(IsADirectoryError):
        p.unlink("..")
    p.close(p.open("/", O_RDONLY))
    with pytest.raises(FileNotFoundError):
        machine.read_file("/no/such/file")
    with pytest.raises(FileNotFoundError):
        machine.write_file("/no/such/dir/x", b"x")
    with pytest.raises(FileNotFoundError):
        machine.write_file("", b"x")
    with pytest.raises(IsADirectoryError):
        machine.write_file("/tmp/..", b"x")


def test_dotdot_walks_up_and_stops_at_the_root(machine: Any) -> None:
    machine.write_file("/tmp/f", b"f")
    p = machine.spawn()
    fd = p.open("/../../tmp/./../tmp/f", O_RDONLY)
    assert p.read(fd, 10) == b"f"
    p.chmod("..", 0o755)


def test_a_regular_file_on_the_way_is_enotdir(machine: Any) -> None:
    machine.write_file("/tmp/f", b"f")
    p = machine.spawn()
    with pytest.raises(NotADirectoryError):
        p.open("/tmp/f/.", O_RDONLY)
    with pytest.raises(NotADirectoryError):
        p.unlink("/tmp/f/x")


def test_a_missing_directory_before_dotdot_is_an_error(machine: Any) -> None:
    machine.write_file("/tmp/f", b"f")
    p = machine.spawn()
    with pytest.raises(NotADirectoryError):
        p.open("/tmp/f/..", O_RDONLY)
    with pytest.raises(FileNotFoundError):
        p.open("/tmp/nothing/..", O_RDONLY)
    with pytest.raises(FileNotFoundError):
        p.unlink("/tmp/nothing/../f")


def test_a_path_of_path_max_bytes_is_enametoolong(machine: Any) -> None:
    p = machine.spawn()
    with pytest.raises(OSError) as caught:
        p.open("/" + "a/" * 2048, O_RDONLY)
    assert caught.value.errno == errno.ENAMETOOLONG


@pytest.mark.parametrize("bad", ["/tmp/a\0b", "/tmp/\ud800"])
def test_an_unencodable_path_is_a_valueerror(machine: Any, bad: str) -> None:
    """As Python's os functions answer: a NUL or a lone surrogate has no C string."""
    p = machine.spawn()
    with pytest.raises(ValueError):
        p.open(bad, O_RDWR | O_CREAT)
    with pytest.raises(ValueError):
        machine.write_file(bad, b"x")
    with pytest.raises(ValueError):
        machine.read_file(bad)
