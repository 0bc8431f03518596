"""execve(2) on both machines, and what a real exec of a HostMachine worker keeps.

On HostMachine, a program the kernel accepts makes the worker really exec a
fresh worker image (the program itself does not run): the kernel drops every
old mapping and every O_CLOEXEC descriptor, and the process goes on serving.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from elfgen import static_program
from mmapsim import (
    MAP_ANONYMOUS,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    O_CLOEXEC,
    O_CREAT,
    O_RDONLY,
    O_RDWR,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    ProcessKilled,
)

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
#: Far from every image's own mappings (no PIE, heap or mmap base comes this low).
FAR = 0x100000000000


def _install(m: Any, path: str = "/tmp/prog") -> str:
    m.write_file(path, static_program())
    m.spawn().chmod(path, 0o755)
    return path


def _covers(maps: str, start: int, end: int) -> list[str]:
    """The lines of ``maps`` that overlap [start, end)."""
    out = []
    for line in maps.splitlines():
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        if lo < end and start < hi:
            out.append(line)
    return out


def _data_file(p: Any, size: int = PAGE_SIZE) -> int:
    fd = p.open("/tmp/data", O_RDWR | O_CREAT)
    p.ftruncate(fd, size)
    return int(fd)


# -- both machines --------------------------------------------------------------


def test_every_old_mapping_is_gone(machine: Any) -> None:
    """A shared file mapping and an anonymous one are gone from maps() after execve."""
    prog = _install(machine)
    p = machine.spawn()
    fd = _data_file(p)
    shared = p.mmap(FAR, PAGE_SIZE, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0)
    anon = p.mmap(FAR + 2 * PAGE_SIZE, 2 * PAGE_SIZE, RW, ANON | MAP_FIXED_NOREPLACE)
    p.store(anon, b"anon")
    assert len(_covers(p.maps(), FAR, FAR + 4 * PAGE_SIZE)) == 2
    p.execve(prog, ["prog"])
    maps = p.maps()
    assert _covers(maps, shared, anon + 2 * PAGE_SIZE) == []
    assert "/tmp/data" not in maps


def test_a_store_through_a_shared_mapping_is_in_the_file(machine: Any) -> None:
    """What the process stored through MAP_SHARED before execve is in the file after."""
    prog = _install(machine)
    p = machine.spawn()
    addr = p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, _data_file(p), 0)
    p.store(addr + 10, b"kept")
    p.execve(prog)
    assert machine.read_file("/tmp/data")[10:14] == b"kept"


def test_close_on_exec_descriptors_close_and_the_others_stay(machine: Any) -> None:
    """An O_CLOEXEC fd is EBADF after execve; a plain one still reads."""
    prog = _install(machine)
    p = machine.spawn()
    keep = p.open(prog, O_RDONLY)
    gone = p.open(prog, O_RDONLY | O_CLOEXEC)
    p.execve(prog)
    assert p.read(keep, 4) == b"\x7fELF"
    with pytest.raises(OSError) as exc:
        p.read(gone, 4)
    assert exc.value.errno == errno.EBADF


def test_the_pid_and_liveness_stay_and_the_name_is_the_programs(machine: Any) -> None:
    """execve keeps the process: same pid, alive, named after the file."""
    prog = _install(machine)
    p = machine.spawn()
    pid = p.pid
    p.execve(prog, ["prog", "arg"])
    assert (p.pid, p.alive, p.name) == (pid, True, "prog")
    assert p in machine.processes


def _without_heap(maps: str) -> list[str]:
    """maps() lines but the brk heap, which the host's interpreter may grow at will."""
    return [line for line in maps.splitlines() if not line.endswith("[heap]")]


@pytest.mark.parametrize(
    ("path", "data", "mode", "code"),
    [
        ("/tmp/missing", None, None, errno.ENOENT),
        ("/tmp/noexec", b"\x7fELF", 0o644, errno.EACCES),
        ("/tmp", None, None, errno.EACCES),
        ("/tmp/text", b"hello, world\n", 0o755, errno.ENOEXEC),
    ],
)
def test_errors_are_exact_and_change_nothing(
    machine: Any, path: str, data: bytes | None, mode: int | None, code: int
) -> None:
    """A failed execve keeps every mapping and descriptor; the process serves on."""
    p = machine.spawn()
    addr = p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, _data_file(p), 0)
    p.store(addr, b"here")
    if data is not None:
        machine.write_file(path, data)
        p.chmod(path, mode or 0o644)
    before = p.maps()
    with pytest.raises(OSError) as exc:
        p.execve(path)
    assert exc.value.errno == code
    assert _without_heap(p.maps()) == _without_heap(before)
    assert p.load(addr, 4) == b"here"
    assert p.pread(3, 4, 0) == b"here"


# -- HostMachine: the worker after its real exec ---------------------------------


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process whose parent is ``pid``."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append((int(name), fields[0]))
    return out


def _fds(pid: int) -> set[int]:
    return {int(n) for n in os.listdir(f"/proc/{pid}/fd")}


@pytest.fixture
def hm() -> Iterator[Any]:
    if not sys.platform.startswith("linux"):
        pytest.skip("HostMachine needs the Linux kernel")
    from mmapsim.host import HostMachine

    with HostMachine() as m:
        yield m


@pytest.mark.hostonly
def test_the_worker_really_execs_a_fresh_image(hm: Any) -> None:
    """Same pid, new image (the kernel's exec: new start time stays, new mm), no probe left."""
    prog = _install(hm)
    p = hm.spawn()
    p.mmap(FAR, PAGE_SIZE, RW, ANON | MAP_FIXED_NOREPLACE)
    with open(f"/proc/{p.pid}/cmdline", "rb") as f:
        assert b"reborn" not in f.read()
    p.execve(prog)
    with open(f"/proc/{p.pid}/cmdline", "rb") as f:
        assert b"mmapsim.host.reborn" in f.read()
    assert _covers(p.maps(), FAR, FAR + PAGE_SIZE) == []
    assert _children(p.pid) == []  # the traced probe was killed and reaped


@pytest.mark.hostonly
def test_the_process_serves_every_call_after_execve(hm: Any) -> None:
    """mmap, store, load, fork and exit work after execve, and after a second one."""
    prog = _install(hm)
    p = hm.spawn()
    p.execve(prog)
    p.execve(prog)
    a = p.mmap(None, 2 * PAGE_SIZE, RW, ANON)
    p.store(a + PAGE_SIZE - 2, b"span")
    assert p.load(a + PAGE_SIZE - 2, 4) == b"span"
    c = p.fork()
    assert c.load(a + PAGE_SIZE - 2, 4) == b"span"
    c.exit(7)
    assert (c.alive, c.exit_status) == (False, 7)
    p.exit(3)
    assert (p.alive, p.exit_status, p.term_signal) == (False, 3, None)
    with pytest.raises(ProcessLookupError):
        p.mmap(None, PAGE_SIZE, RW, ANON)


@pytest.mark.hostonly
def test_a_fault_after_execve_kills_with_the_address(hm: Any) -> None:
    """The fault word is set up again: SIGSEGV names the first unmapped page."""
    prog = _install(hm)
    p = hm.spawn()
    p.execve(prog)
    a = p.mmap(FAR, PAGE_SIZE, RW, ANON | MAP_FIXED_NOREPLACE)
    with pytest.raises(ProcessKilled) as exc:
        p.store(a + PAGE_SIZE - 2, b"over")
    assert (exc.value.signal, exc.value.pid, exc.value.addr) == (
        signal.SIGSEGV,
        p.pid,
        a + PAGE_SIZE,
    )
    assert (p.alive, p.term_signal) == (False, signal.SIGSEGV)


@pytest.mark.hostonly
def test_the_worker_settings_are_set_up_again(hm: Any) -> None:
    """No core dumps, SIGSEGV not caught, SIGCHLD caught (its reaper), nothing blocked."""
    prog = _install(hm)
    p = hm.spawn()
    p.execve(prog)
    with open(f"/proc/{p.pid}/limits") as f:
        core = next(line for line in f if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"]
    with open(f"/proc/{p.pid}/status") as f:
        status = dict(line.split(":", 1) for line in f)
    caught, blocked = int(status["SigCgt"], 16), int(status["SigBlk"], 16)
    ignored = int(status["SigIgn"], 16)
    assert not caught & (1 << (signal.SIGSEGV - 1))
    assert caught & (1 << (signal.SIGCHLD - 1))
    assert ignored & (1 << (signal.SIGPIPE - 1))
    assert blocked == 0


@pytest.mark.hostonly
def test_execve_leaks_no_descriptor(hm: Any) -> None:
    """After execve the process has exactly its old fds minus the close-on-exec ones."""
    prog = _install(hm)
    p = hm.spawn()
    keep = p.open(prog, O_RDONLY)
    gone = p.open(prog, O_RDONLY | O_CLOEXEC)
    rfd, wfd = p.pipe()
    before = _fds(p.pid)
    assert {keep, gone, rfd, wfd} <= before
    p.execve(prog)
    assert _fds(p.pid) == before - {gone}
    assert p.open(prog, O_RDONLY) == gone  # the lowest free number again


@pytest.mark.hostonly
def test_a_child_is_reaped_by_its_execd_parent(hm: Any) -> None:
    """The new image waits for the children forked before the exec (one exec'd itself)."""
    prog = _install(hm)
    p = hm.spawn()
    early, late = p.fork(), p.fork()
    early.execve(prog)
    p.execve(prog)
    late.exit(5)
    early.exit(6)
    assert (late.exit_status, early.exit_status) == (5, 6)
    assert p.waitpid(-1) == (early.pid, 6 << 8)  # the oldest child first
    assert p.waitpid(-1) == (late.pid, 5 << 8)
    deadline = time.monotonic() + 5
    while _children(p.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _children(p.pid) == []  # no zombie


@pytest.mark.hostonly
def test_an_execd_worker_dies_with_its_machine() -> None:
    """close() ends exec'd processes, forked or spawned, and reaps them all."""
    from mmapsim.host import HostMachine

    m = HostMachine()
    prog = _install(m)
    p = m.spawn()
    c = p.fork()
    c.execve(prog)
    p.execve(prog)
    orphan = c.fork()
    c.exit(0)
    orphan.execve(prog)
    pids = [p.pid, c.pid, orphan.pid, m._state.zpid]
    m.close()
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{pid}") for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [pid for pid in pids if os.path.exists(f"/proc/{pid}")] == []
