"""Durability in the language: disk(), sync and crash, through the mmapsim command."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mmapsim.cli import main
from mmapsim.errors import NotOnThisKernel

KERNELS = [
    "sim",
    pytest.param(
        "host",
        marks=pytest.mark.skipif(
            not sys.platform.startswith("linux"), reason="HostMachine needs Linux"
        ),
    ),
]

WRITTEN_BACK = """\
file /tmp/f "hello, world"
A: fd = open("/tmp/f", O_RDWR)
A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
expect disk("/tmp/f") == "hello, world"
A: p[0:5] = "HELLO"
A: msync(p, 4096, MS_SYNC)
expect disk("/tmp/f") == file("/tmp/f") == "HELLO, world"
A: p[7:12] = "WORLD"
sync
expect disk("/tmp/f") == "HELLO, WORLD"
A: expect disk("/nope") == -1
"""

BEFORE_MSYNC = """\
file /tmp/f "hello, world"
A: fd = open("/tmp/f", O_RDWR)
A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
A: p[0:5] = "HELLO"
expect file("/tmp/f")[0:5] == "HELLO"
expect disk("/tmp/f")[0:5] == "hello"
"""

CRASH = """\
file /tmp/f "hello, world"
A: fd = open("/tmp/f", O_RDWR)
A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
A: p[0:5] = "HELLO"
A: msync(p, 4096, MS_SYNC)
A: p[7:12] = "WORLD"
crash
expect file("/tmp/f") == disk("/tmp/f") == "HELLO, world"
B: fd = open("/tmp/f", O_RDONLY)
B: expect read(fd, 12) == "HELLO, world"
"""


def invoke(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    """``mmapsim run ARGS`` of a scenario holding ``text``."""
    path = tmp_path / "d.mmap"
    path.write_text(text)
    result = CliRunner().invoke(main, ["run", *args, str(path)])
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("kernel", KERNELS)
def test_disk_follows_msync_and_sync(tmp_path: Path, kernel: str) -> None:
    """disk() holds what was written back: by write_file, msync(MS_SYNC) and sync."""
    code, out, err = invoke(tmp_path, WRITTEN_BACK, "--kernel", kernel)
    assert code == 0, out + err
    assert "sync: 1 dirty page written to the disk" in out
    assert "4 expects: all hold" in out


def test_disk_is_older_than_the_cache_before_msync(tmp_path: Path) -> None:
    """A store through a shared mapping is in the page cache (file()) and not on the disk."""
    code, out, _ = invoke(tmp_path, BEFORE_MSYNC)
    assert code == 0, out
    failing = BEFORE_MSYNC.replace('[0:5] == "hello"', '[0:5] == "HELLO"')
    code, out, _ = invoke(tmp_path, failing)
    assert code == 1
    assert '✗ FAILED: disk("/tmp/f")[0:5] is "hello"' in out


def test_disk_under_a_dirty_page_is_refused_on_the_host(tmp_path: Path) -> None:
    """The host cannot read the disk under a dirty page: a clear error, exit 2, no writeback."""
    if not sys.platform.startswith("linux"):
        pytest.skip("HostMachine needs Linux")
    code, out, err = invoke(tmp_path, BEFORE_MSYNC, "--kernel", "host")
    assert code == 2
    assert "d.mmap:6:8: /tmp/f has 1 dirty page in the page cache" in err
    assert "the simulator can: --kernel sim" in err
    assert "Traceback" not in out + err


def test_crash_keeps_what_reached_the_disk(tmp_path: Path) -> None:
    """crash: every process dies, unsynced stores are lost, a new process reads the disk."""
    code, out, _ = invoke(tmp_path, CRASH)
    assert code == 0, out
    assert "power failure: every process died" in out
    assert "2 expects: all hold" in out


def test_a_process_that_died_in_the_crash_runs_nothing(tmp_path: Path) -> None:
    """A later line of a process that the crash killed is skipped, naming the crash's line."""
    code, out, _ = invoke(tmp_path, CRASH + "A: p[0]\n")
    assert code == 0, out
    assert "– skipped: A died in the crash at line 7" in out
    assert "all hold, 1 skipped" in out


def test_crash_on_the_host_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """--kernel host with a crash line: exit 2 at that line, no step has run."""
    if not sys.platform.startswith("linux"):
        pytest.skip("HostMachine needs Linux")
    code, out, err = invoke(tmp_path, CRASH, "--kernel", "host")
    assert code == 2
    assert "d.mmap:7:1: crash needs the simulator (--kernel sim)" in err
    assert "open(" not in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A: crash\n", "a crash stands on its own"),
        ("sync = 1\n", "'sync' is a keyword"),
        ('A: x = disk("/tmp/f", 1)\n', "disk takes 1 argument"),
    ],
)
def test_durability_mistakes(tmp_path: Path, text: str, message: str) -> None:
    """Misused statements are mistakes found before the run: file:line:col, exit 2."""
    code, _, err = invoke(tmp_path, text)
    assert code == 2
    assert message in err


def test_sync_with_a_label_and_with_parentheses(tmp_path: Path) -> None:
    """``A: sync`` is sync(2) called by A; ``sync()`` is the same statement."""
    text = WRITTEN_BACK.replace("\nsync\n", "\nA: sync()\n")
    code, out, _ = invoke(tmp_path, text)
    assert code == 0, out


def test_read_disk_of_either_machine(machine: Any) -> None:
    """m.read_disk: the disk's bytes, and Linux's errno for a bad path."""
    machine.write_file("/tmp/f", b"abc" * 2000)
    assert machine.read_disk("/tmp/f") == b"abc" * 2000
    machine.write_file("/tmp/empty", b"")
    assert machine.read_disk("/tmp/empty") == b""
    with pytest.raises(OSError) as missing:
        machine.read_disk("/tmp/nope")
    assert missing.value.errno == errno.ENOENT
    with pytest.raises(OSError) as folder:
        machine.read_disk("/tmp")
    assert folder.value.errno == errno.EISDIR


def test_read_disk_on_a_tmpfs_host_says_there_is_no_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A HostMachine rooted on a tmpfs has no disk: NotOnThisKernel names the tmpfs."""
    if not sys.platform.startswith("linux") or not os.path.isdir("/dev/shm"):
        pytest.skip("needs Linux and /dev/shm")
    from mmapsim.host import HostMachine

    monkeypatch.setenv("MMAPSIM_HOST_TMPDIR", "/dev/shm")
    with HostMachine() as m:
        m.write_file("/tmp/f", b"x")
        with pytest.raises(NotOnThisKernel, match="tmpfs"):
            m.read_disk("/tmp/f")


def test_diff_agrees_on_sync_whatever_the_folio_sizes(tmp_path: Path) -> None:
    """Linux may write back a folio of several pages where the simulator writes one."""
    if not sys.platform.startswith("linux"):
        pytest.skip("HostMachine needs Linux")
    path = tmp_path / "s.mmap"
    path.write_text(
        'file /tmp/f "a" * 12288\n'
        'A: fd = open("/tmp/f", O_RDWR)\n'
        "A: p = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)\n"
        'A: p[0] = "b"\n'
        "sync\n"
        'expect disk("/tmp/f")[0:2] == "ba"\n'
    )
    result = CliRunner().invoke(main, ["diff", str(path)])
    assert result.exit_code == 0, result.stdout
    assert "the kernels agree" in result.stdout
