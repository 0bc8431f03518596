"""A full disk on both machines: the simulator's ``Machine(disk=N)`` and HostMachine's
``max_disk_bytes=N`` answer a disk filler alike (ENOSPC as Linux gives it)."""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from mmapsim import O_CREAT, O_RDWR, PAGE_SIZE, Machine

LIMIT = 1 << 20


@pytest.fixture(params=["sim", "host"])
def small_disk(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A machine of each kind whose disk holds 1 MiB of files."""
    if request.param == "host":
        if not sys.platform.startswith("linux"):
            pytest.skip("HostMachine needs the Linux kernel")
        from mmapsim.host import HostMachine

        m: Any = HostMachine(max_disk_bytes=LIMIT)
    else:
        m = Machine(disk=LIMIT, check_invariants=True)
    with m:
        yield m


def _fill(p: Any, fd: int) -> list[int | str]:
    answers: list[int | str] = []
    for _ in range(5):
        try:
            answers.append(p.write(fd, b"x" * 300_001))
        except OSError as err:
            answers.append(errno.errorcode[err.errno])
    return answers


def test_a_disk_filler_gets_a_short_write_then_enospc(small_disk: Any) -> None:
    p = small_disk.spawn()
    fd = p.open("/tmp/filler", O_RDWR | O_CREAT)
    answers = _fill(p, fd)
    assert answers[:3] == [300_001] * 3
    assert isinstance(answers[3], int)
    assert 0 < answers[3] < 300_001
    assert answers[4] == "ENOSPC"
    assert LIMIT - PAGE_SIZE < p.fstat(fd).st_size <= LIMIT


def test_a_full_disk_has_room_again_once_a_file_goes(small_disk: Any) -> None:
    p = small_disk.spawn()
    fd = p.open("/tmp/filler", O_RDWR | O_CREAT)
    _fill(p, fd)
    p.close(fd)
    p.unlink("/tmp/filler")
    fd = p.open("/tmp/again", O_RDWR | O_CREAT)
    assert p.write(fd, b"y" * 300_001) == 300_001


def test_write_file_beyond_the_disk_is_enospc_and_changes_nothing(small_disk: Any) -> None:
    small_disk.write_file("/tmp/kept", b"kept")
    with pytest.raises(OSError) as caught:
        small_disk.write_file("/tmp/kept", b"z" * (2 * LIMIT))
    assert caught.value.errno == errno.ENOSPC
    assert small_disk.read_file("/tmp/kept") == b"kept"
