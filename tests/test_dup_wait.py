"""dup, dup2 and waitpid with zombies, on both machines."""

from __future__ import annotations

import errno
import os
import signal
from typing import Any

import pytest

from helpers import new_file
from mmapsim import O_RDWR, SEEK_CUR, SEEK_SET, WNOHANG, ProcessKilled


def _errno(call: Any, *args: Any) -> int | None:
    try:
        call(*args)
    except OSError as exc:
        return exc.errno
    return None


def test_dup_shares_the_file_position(machine: Any) -> None:
    """dup gives the lowest free fd, sharing the description: one offset for both."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"abcdef")
    copy = p.dup(fd)
    assert copy == fd + 1
    assert p.read(fd, 2) == b"ab"
    assert p.lseek(copy, 0, SEEK_CUR) == 2
    assert p.read(copy, 2) == b"cd"
    p.close(fd)
    assert p.read(copy, 2) == b"ef"
    assert p.dup(copy) == fd  # the lowest free number again


def test_dup2_replaces_the_target(machine: Any) -> None:
    """dup2 closes what fd2 held and makes it share fd's description."""
    p = machine.spawn()
    a = new_file(machine, p, "/tmp/a", b"AAAA")
    b = new_file(machine, p, "/tmp/b", b"BBBB")
    assert p.dup2(a, b) == b
    assert p.read(b, 4) == b"AAAA"
    assert p.lseek(a, 0, SEEK_CUR) == 4
    assert p.dup2(a, 50) == 50
    p.lseek(50, 1, SEEK_SET)
    assert p.read(a, 1) == b"A"
    assert p.dup2(a, a) == a


def test_dup_errors(machine: Any) -> None:
    """A closed fd is EBADF; so is fd2 out of range, and dup2 of a closed fd onto itself."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"x")
    assert _errno(p.dup, 77) == errno.EBADF
    assert _errno(p.dup, -1) == errno.EBADF
    assert _errno(p.dup2, 77, 5) == errno.EBADF
    assert _errno(p.dup2, 77, 77) == errno.EBADF
    assert _errno(p.dup2, fd, -1) == errno.EBADF
    assert _errno(p.dup2, fd, 1 << 20) == errno.EBADF
    assert _errno(p.dup2, 77, -1) == errno.EBADF


def test_a_dup_of_a_pipe_end_keeps_it_open(machine: Any) -> None:
    """With a dup of the write end open, closing the original is no end of file."""
    p = machine.spawn()
    r, w = p.pipe()
    w2 = p.dup(w)
    p.close(w)
    p.write(w2, b"still")
    assert p.read(r, 5) == b"still"
    assert _errno(p.read, r, 1) == errno.EAGAIN  # a writer remains
    p.close(w2)
    assert p.read(r, 1) == b""


def test_an_exited_child_is_a_zombie_until_waited(machine: Any) -> None:
    """The child stays in processes, not alive, until waitpid returns its status."""
    p = machine.spawn()
    child = p.fork()
    child.exit(7)
    assert child in machine.processes
    assert not child.alive
    pid, status = p.waitpid(child.pid)
    assert pid == child.pid
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 7
    assert child not in machine.processes
    assert _errno(p.waitpid, child.pid) == errno.ECHILD


def test_a_killed_child_reports_its_signal(machine: Any) -> None:
    """A child killed by SIGSEGV: WIFSIGNALED, WTERMSIG SIGSEGV, no core."""
    p = machine.spawn()
    child = p.fork()
    with pytest.raises(ProcessKilled):
        child.store(0, b"x")
    assert child in machine.processes
    pid, status = p.waitpid(-1, 0)
    assert pid == child.pid
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGSEGV
    assert not os.WCOREDUMP(status)


def test_wnohang_while_children_run(machine: Any) -> None:
    """WNOHANG answers (0, 0) while the children run; a blocking wait would never return."""
    p = machine.spawn()
    child = p.fork()
    assert p.waitpid(child.pid, WNOHANG) == (0, 0)
    assert p.waitpid(-1, WNOHANG) == (0, 0)
    assert _errno(p.waitpid, -1, 0) == errno.EDEADLK
    child.exit(0)
    assert p.waitpid(0, WNOHANG) == (child.pid, 0)


def test_waitpid_takes_the_oldest_child_first(machine: Any) -> None:
    """waitpid(-1) reaps the ended children in the order they were forked."""
    p = machine.spawn()
    first, second, third = p.fork(), p.fork(), p.fork()
    third.exit(3)
    first.exit(1)
    second.exit(2)
    assert [p.waitpid(-1)[0] for _ in range(3)] == [first.pid, second.pid, third.pid]
    assert _errno(p.waitpid, -1) == errno.ECHILD


def test_echild(machine: Any) -> None:
    """ECHILD without children, for another's child, for a grandchild, for a spawned process."""
    p, q = machine.spawn(), machine.spawn()
    assert _errno(p.waitpid, -1) == errno.ECHILD
    child = p.fork()
    grandchild = child.fork()
    grandchild.exit(0)
    assert _errno(p.waitpid, grandchild.pid) == errno.ECHILD
    assert _errno(q.waitpid, child.pid) == errno.ECHILD
    assert _errno(p.waitpid, q.pid) == errno.ECHILD
    assert child.waitpid(grandchild.pid) == (grandchild.pid, 0)


def test_a_parent_that_ends_takes_its_zombies_along(machine: Any) -> None:
    """When the parent exits, its zombie children are reaped (by init): gone from processes."""
    p = machine.spawn()
    child = p.fork()
    child.exit(0)
    assert child in machine.processes
    p.exit(0)
    assert machine.processes == []


def test_an_orphan_is_no_zombie(machine: Any) -> None:
    """A child that outlives its parent is reaped as it ends."""
    p = machine.spawn()
    child = p.fork()
    p.exit(0)
    assert machine.processes == [child]
    child.exit(0)
    assert machine.processes == []


def test_a_spawned_process_is_no_zombie(machine: Any) -> None:
    """A process with no parent on the machine leaves processes as it ends."""
    p = machine.spawn()
    p.exit(0)
    assert p not in machine.processes


def test_waitpid_options_are_checked(machine: Any) -> None:
    """Unknown options are EINVAL; INT_MIN is ESRCH; a zombie's calls are ESRCH."""
    p = machine.spawn()
    child = p.fork()
    assert _errno(p.waitpid, -1, 0x100) == errno.EINVAL
    assert _errno(p.waitpid, -(2**31), 0) == errno.ESRCH
    child.exit(0)
    with pytest.raises(ProcessLookupError):
        child.dup(0)
    assert p.waitpid(child.pid, WNOHANG | 2) == (child.pid, 0)  # WUNTRACED is allowed


def test_a_dup_is_not_close_on_exec(machine: Any) -> None:
    """dup and dup2 clear close-on-exec: after execve the copy is open, the original is not."""
    from elfgen import static_program
    from mmapsim import O_CLOEXEC

    machine.write_file("/tmp/prog", static_program())
    p = machine.spawn()
    p.chmod("/tmp/prog", 0o755)
    fd = new_file(machine, p, "/tmp/f", b"kept", O_RDWR | O_CLOEXEC)
    copy = p.dup(fd)
    p.dup2(fd, 20)
    p.execve("/tmp/prog")
    assert _errno(p.fstat, fd) == errno.EBADF
    assert p.read(copy, 4) == b"kept"
    assert p.pread(20, 4, 0) == b"kept"


@pytest.mark.parametrize("fd2", [1024, 4096, 2**31 - 1])
def test_dup2_beyond_rlimit_nofile_is_ebadf(machine: Any, fd2: int) -> None:
    """RLIMIT_NOFILE is 1024 on both machines: dup2 to 1024 or above is EBADF."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"x")
    with pytest.raises(OSError) as caught:
        p.dup2(fd, fd2)
    assert caught.value.errno == errno.EBADF
    assert p.dup2(fd, 1000) == 1000


def test_fork_with_every_descriptor_open(machine: Any) -> None:
    """fork(2) needs no descriptor: with the table full it works, the child's table
    is full too (EMFILE), and a closed one is reused at once."""
    p = machine.spawn()
    machine.write_file("/tmp/f", b"x")
    failure: OSError | None = None
    opened = 0
    while failure is None and opened < 2000:
        try:
            p.open("/tmp/f", O_RDWR)
            opened += 1
        except OSError as exc:
            failure = exc
    assert failure is not None
    assert failure.errno == errno.EMFILE
    assert 1000 < opened < 1024
    child = p.fork()
    with pytest.raises(OSError) as caught:
        child.open("/tmp/f", O_RDWR)
    assert caught.value.errno == errno.EMFILE
    child.close(5)
    assert child.open("/tmp/f", O_RDWR) == 5
    assert p.fork().pid > 0
