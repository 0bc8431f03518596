"""HostMachine's own behaviour: real processes, real faults, nothing left behind."""

from __future__ import annotations

import errno
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from mmapsim import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    O_CREAT,
    O_RDONLY,
    O_RDWR,
    PAGE_SIZE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    ProcessKilled,
)
from mmapsim.host import HostMachine, HostProcess, proc_read
from mmapsim.pageinfo import PageInfo

pytestmark = [
    pytest.mark.hostonly,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux"),
]

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
SHANON = MAP_SHARED | MAP_ANONYMOUS


@pytest.fixture
def m() -> Iterator[HostMachine]:
    with HostMachine() as machine:
        yield machine


def _state(pid: int) -> str | None:
    """The state letter of ``pid`` in /proc, or None when the pid does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _all_pids(m: HostMachine) -> list[int]:
    return [p.pid for p in m.processes] + [m._state.zpid]


def _wait_gone(pids: list[int], allow_zombie: bool = False, timeout: float = 5.0) -> list[int]:
    """The pids still there after ``timeout`` (zombies count unless allowed)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if _state(p) not in (None, "Z" if allow_zombie else None)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.01)


def _family(m: HostMachine) -> list[int]:
    p = m.spawn()
    q = m.spawn()
    p.fork().fork()
    q.fork()
    return _all_pids(m)


# -- nothing is left behind ---------------------------------------------------


def test_close_kills_and_reaps_every_process() -> None:
    """close() ends every real process, spawned or forked, and reaps it (no zombie)."""
    m = HostMachine()
    pids = _family(m)
    assert all(_state(pid) is not None for pid in pids)
    m.close()
    assert [_state(pid) for pid in pids] == [None] * len(pids)


def test_close_removes_the_files_and_is_idempotent() -> None:
    """close() deletes the machine's private root; a second close() does nothing."""
    m = HostMachine()
    m.write_file("/tmp/f", b"data")
    root = m._state.ns.root
    assert os.path.exists(root + "/tmp/f")
    m.close()
    m.close()
    assert not os.path.exists(root)


def test_a_dead_controllers_files_are_swept_by_the_next_machine() -> None:
    """A root left by a controller that was killed outright is removed by the next machine."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with HostMachine() as m:
        base = os.path.dirname(m._state.ns.root)
    orphan = os.path.join(base, f"mmapsim-host-{dead.stdout.strip()}-orphan")
    os.mkdir(orphan)
    with HostMachine():
        assert not os.path.exists(orphan)


def test_garbage_collection_kills_every_process() -> None:
    """A machine that nobody references any more takes its processes with it."""

    def make() -> list[int]:
        return _family(HostMachine())

    pids = make()
    gc.collect()
    assert [_state(pid) for pid in pids] == [None] * len(pids)


def test_an_exception_in_the_with_block_kills_every_process() -> None:
    """Leaving ``with`` by an exception (or Ctrl-C) closes the machine."""
    pids: list[int] = []

    def interrupted() -> None:
        with HostMachine() as m:
            pids.extend(_family(m))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert pids
    assert [_state(pid) for pid in pids] == [None] * len(pids)


def test_processes_die_when_the_controller_dies(tmp_path: os.PathLike[str]) -> None:
    """A controller killed with SIGKILL leaves no running process behind."""
    script = textwrap.dedent(
        """
        import sys, time
        from mmapsim.host import HostMachine
        m = HostMachine()
        p = m.spawn(); p.fork().fork(); m.spawn()
        print(" ".join(str(x.pid) for x in m.processes), m._state.zpid,
              m._state.master.proc.pid, flush=True)
        time.sleep(60)
        """
    )
    ctl = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert ctl.stdout is not None
    with ctl.stdout:
        pids = [int(x) for x in ctl.stdout.readline().split()]
    assert len(pids) == 6
    ctl.kill()
    ctl.wait()
    # the master, zygote and spawned workers die with their parent; forked children
    # see their channel close; orphans are reaped by whatever reaps orphans here
    assert _wait_gone(pids, allow_zombie=True) == []


def test_a_child_that_exits_is_reaped_and_its_status_kept(m: HostMachine) -> None:
    """exit(status) ends the real process, a zombie until its parent's waitpid reaps it."""
    p = m.spawn()
    c = p.fork()
    c.exit(300)
    assert (c.alive, c.exit_status, c.term_signal) == (False, 300 & 0xFF, None)
    assert m.processes == [p, c]
    assert _state(c.pid) == "Z"  # a real zombie of its parent
    assert p.waitpid(c.pid) == (c.pid, (300 & 0xFF) << 8)
    assert _wait_gone([c.pid]) == []
    assert m.processes == [p]


def test_an_orphan_keeps_running_and_is_reaped(m: HostMachine) -> None:
    """A child outlives its parent's exit, still works, and is reaped when it exits."""
    p = m.spawn()
    a = p.mmap(None, PAGE_SIZE, RW, ANON)
    p.store(a, b"kept")
    c = p.fork()
    p.exit(3)
    assert p.exit_status == 3
    assert c.load(a, 4) == b"kept"
    c.exit(4)
    assert c.exit_status == 4
    assert _wait_gone([p.pid, c.pid]) == []


def test_workers_dump_no_core_and_leave_faults_to_the_kernel(m: HostMachine) -> None:
    """Workers have RLIMIT_CORE 0 and catch neither SIGSEGV nor SIGBUS (no faulthandler)."""
    p = m.spawn()
    with open(f"/proc/{p.pid}/limits") as f:
        core = next(line for line in f if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"]
    with open(f"/proc/{p.pid}/status") as f:
        caught = int(next(line for line in f if line.startswith("SigCgt")).split()[1], 16)
    assert not caught & (1 << (signal.SIGSEGV - 1))
    assert not caught & (1 << (signal.SIGBUS - 1))


# -- real processes, real fork --------------------------------------------------


def test_pid_is_the_real_pid(m: HostMachine) -> None:
    """p.pid is the pid of a real process that runs Python."""
    p = m.spawn("first")
    assert isinstance(p, HostProcess)
    assert p.name == "first"
    assert os.path.exists(f"/proc/{p.pid}")
    assert p.fork().pid != p.pid


def test_fork_shares_the_real_mappings(m: HostMachine) -> None:
    """After a real fork, shared pages are one frame; a private write copies."""
    p = m.spawn()
    shared = p.mmap(None, PAGE_SIZE, RW, SHANON)
    private = p.mmap(None, PAGE_SIZE, RW, ANON)
    p.store(shared, b"s0")
    p.store(private, b"p0")
    c = p.fork()
    assert c.load(shared, 2) == b"s0"
    assert c.load(private, 2) == b"p0"
    assert c.pagemap(private).pfn == p.pagemap(private).pfn  # copy-on-write, not yet copied
    c.store(shared, b"s1")
    c.store(private, b"p1")
    assert p.load(shared, 2) == b"s1"
    assert p.load(private, 2) == b"p0"
    assert c.pagemap(shared).pfn == p.pagemap(shared).pfn
    assert c.pagemap(private).pfn != p.pagemap(private).pfn


def test_the_first_descriptor_is_3_and_the_channel_is_not_open(m: HostMachine) -> None:
    """A worker's own channel is invisible: fds start at 3, closing it is EBADF."""
    m.write_file("/tmp/f", b"")
    p = m.spawn()
    assert p.open("/tmp/f", O_RDONLY) == 3
    with pytest.raises(OSError) as exc:
        p.close(1023)
    assert exc.value.errno == errno.EBADF
    assert p.fork().open("/tmp/f", O_RDONLY) == 4


def test_first_mapping_does_not_merge_with_the_interpreters(m: HostMachine) -> None:
    """The first anonymous mapping stands alone in maps(), as in a small program."""
    p = m.spawn()
    a = p.mmap(None, 2 * PAGE_SIZE, RW, ANON)
    lines = [ln for ln in p.maps().splitlines() if ln.startswith(f"{a:x}-")]
    assert lines
    assert lines[0].split()[0] == f"{a:x}-{a + 2 * PAGE_SIZE:x}"


# -- signals --------------------------------------------------------------------


def test_sigsegv_names_the_first_unmapped_page(m: HostMachine) -> None:
    """A load that runs into an unmapped page is killed at that page's first byte."""
    p = m.spawn()
    a = p.mmap(None, 2 * PAGE_SIZE, RW, ANON)
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)
    with pytest.raises(ProcessKilled) as exc:
        p.load(a + 100, PAGE_SIZE)
    assert (exc.value.signal, exc.value.pid, exc.value.addr) == (
        signal.SIGSEGV,
        p.pid,
        a + PAGE_SIZE,
    )
    assert (p.alive, p.term_signal, p.exit_status) == (False, signal.SIGSEGV, None)


def test_sigsegv_at_an_unaligned_start(m: HostMachine) -> None:
    """A fault on the first page is reported at the address the access started at."""
    p = m.spawn()
    a = p.mmap(None, PAGE_SIZE, PROT_READ, ANON)
    with pytest.raises(ProcessKilled) as exc:
        p.store(a + 5, b"x")
    assert (exc.value.signal, exc.value.addr) == (signal.SIGSEGV, a + 5)


def test_sigsegv_on_a_read_only_page_in_the_middle_of_a_store(m: HostMachine) -> None:
    """A store over a writable then a read-only page faults at the read-only one."""
    p = m.spawn()
    a = p.mmap(None, 2 * PAGE_SIZE, RW, ANON)
    p.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_NONE)
    with pytest.raises(ProcessKilled) as exc:
        p.store(a + PAGE_SIZE - 2, b"abcd")
    assert exc.value.addr == a + PAGE_SIZE


def test_sigbus_beyond_the_end_of_the_file(m: HostMachine) -> None:
    """A load from a page wholly beyond EOF is SIGBUS at that page."""
    m.write_file("/tmp/f", b"abc")
    p = m.spawn()
    fd = p.open("/tmp/f", O_RDWR)
    a = p.mmap(None, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0)
    assert p.load(a, 4) == b"abc\0"
    with pytest.raises(ProcessKilled) as exc:
        p.load(a + PAGE_SIZE - 1, 2)
    assert (exc.value.signal, exc.value.addr) == (signal.SIGBUS, a + PAGE_SIZE)
    assert p.term_signal == signal.SIGBUS


def test_non_canonical_and_kernel_addresses_are_sigsegv(m: HostMachine) -> None:
    """Addresses no user page can have fault at the address itself."""
    for va in (0, 2**63, 2**64 - 1):
        p = m.spawn()
        with pytest.raises(ProcessKilled) as exc:
            p.load(va, 1)
        assert (exc.value.signal, exc.value.addr) == (signal.SIGSEGV, va)


def test_every_call_on_a_dead_process_is_processlookuperror(m: HostMachine) -> None:
    """After death, any call raises ProcessLookupError."""
    p = m.spawn()
    p.exit(0)
    calls = [
        lambda: p.mmap(None, PAGE_SIZE, RW, ANON),
        lambda: p.munmap(PAGE_SIZE * 16, PAGE_SIZE),
        lambda: p.load(0, 1),
        lambda: p.store(0, b"x"),
        lambda: p.open("/tmp/x", O_CREAT | O_RDWR),
        lambda: p.fork(),
        lambda: p.exit(0),
        lambda: p.maps(),
        lambda: p.smaps(),
        lambda: p.pagemap(0),
    ]
    for call in calls:
        with pytest.raises(ProcessLookupError):
            call()


# -- contract paths ---------------------------------------------------------------


def test_maps_shows_contract_paths(m: HostMachine) -> None:
    """maps() and smaps() name files /tmp/f, then /tmp/f (deleted)."""
    m.write_file("/tmp/f", b"x" * PAGE_SIZE)
    p = m.spawn()
    fd = p.open("/tmp/f", O_RDONLY)
    a = p.mmap(None, PAGE_SIZE, PROT_READ, MAP_PRIVATE, fd, 0)
    line = next(ln for ln in p.maps().splitlines() if ln.startswith(f"{a:x}-"))
    assert line.endswith(" /tmp/f")
    assert m._state.ns.root not in p.smaps()
    p.unlink("/tmp/f")
    line = next(ln for ln in p.maps().splitlines() if ln.startswith(f"{a:x}-"))
    assert line.endswith(" /tmp/f (deleted)")


def test_errors_name_contract_paths(m: HostMachine) -> None:
    """A failed open reports the path the caller gave, not the real one."""
    p = m.spawn()
    with pytest.raises(FileNotFoundError) as exc:
        p.open("/nowhere/f", O_RDONLY)
    assert exc.value.filename == "/nowhere/f"


def test_dev_zero_is_the_real_device(m: HostMachine) -> None:
    """/dev/zero reads zeros and maps like the real device."""
    p = m.spawn()
    fd = p.open("/dev/zero", O_RDWR)
    assert p.read(fd, 3) == b"\0\0\0"
    a = p.mmap(None, PAGE_SIZE, RW, MAP_SHARED, fd, 0)
    line = next(ln for ln in p.maps().splitlines() if ln.startswith(f"{a:x}-"))
    assert line.endswith("/dev/zero (deleted)")


def test_write_file_rewrites_in_place(m: HostMachine) -> None:
    """write_file keeps the inode, so a live shared mapping sees the new bytes."""
    m.write_file("/tmp/f", b"old!")
    p = m.spawn()
    fd = p.open("/tmp/f", O_RDONLY)
    ino = p.fstat(fd).st_ino
    a = p.mmap(None, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)
    m.write_file("/tmp/f", b"new")
    assert p.load(a, 4) == b"new\0"
    assert p.fstat(fd).st_ino == ino
    assert m.read_file("/tmp/f") == b"new"


# -- arguments --------------------------------------------------------------------


def test_wrong_types_are_typeerror_and_nothing_is_sent(m: HostMachine) -> None:
    """A str for bytes, a float or a bool for an int: TypeError, the process lives."""
    p = m.spawn()
    bad = [
        lambda: p.store(PAGE_SIZE * 16, "text"),  # type: ignore[arg-type]
        lambda: p.write(1, "text"),  # type: ignore[arg-type]
        lambda: p.mmap(0.0, PAGE_SIZE, RW, ANON),  # type: ignore[arg-type]
        lambda: p.mmap(None, PAGE_SIZE, True, ANON),
        lambda: p.load("0", 1),  # type: ignore[arg-type]
        lambda: p.open(3, O_RDONLY),  # type: ignore[arg-type]
        lambda: p.lseek(0, 1.5, 0),  # type: ignore[arg-type]
    ]
    for call in bad:
        with pytest.raises(TypeError):
            call()
    assert p.alive


def test_ints_outside_their_c_type_are_overflowerror(m: HostMachine) -> None:
    """Addresses are u64, prot/flags/fd C ints, offsets s64: beyond is OverflowError."""
    p = m.spawn()
    bad = [
        lambda: p.mmap(-1, PAGE_SIZE, RW, ANON),
        lambda: p.mmap(2**64, PAGE_SIZE, RW, ANON),
        lambda: p.mmap(None, 2**64, RW, ANON),
        lambda: p.mmap(None, PAGE_SIZE, 2**31, ANON),
        lambda: p.mmap(None, PAGE_SIZE, RW, ANON, -(2**31) - 1),
        lambda: p.mmap(None, PAGE_SIZE, RW, ANON, -1, 2**63),
        lambda: p.munmap(0, -1),
        lambda: p.read(0, -1),
    ]
    for call in bad:
        with pytest.raises(OverflowError):
            call()
    assert p.alive


def test_edge_values_reach_the_kernel(m: HostMachine) -> None:
    """The extremes of each C type are passed on, and the kernel answers with an errno."""
    p = m.spawn()
    cases = [
        (lambda: p.munmap(2**64 - PAGE_SIZE, PAGE_SIZE), errno.EINVAL),
        (lambda: p.mmap(None, 2**64 - 1, RW, ANON), errno.ENOMEM),
        (lambda: p.mmap(None, PAGE_SIZE, -1, ANON), None),
        (lambda: p.mmap(None, PAGE_SIZE, RW, MAP_PRIVATE, -(2**31)), errno.EBADF),
        (lambda: p.mmap(None, PAGE_SIZE, RW, ANON, -1, -(2**63) + 1), errno.EINVAL),
        (lambda: p.mprotect(PAGE_SIZE * 16, PAGE_SIZE, -1), errno.EINVAL),
    ]
    for call, code in cases:
        try:
            call()
            got = None
        except OSError as exc:
            got = exc.errno
        assert code is None or got == code
    assert p.alive


def test_mmap_returns_the_address_and_none_lets_the_kernel_choose(m: HostMachine) -> None:
    """mmap answers an int address; None and 0 both let the kernel choose; MAP_FIXED is exact."""
    p = m.spawn()
    a = p.mmap(None, PAGE_SIZE, RW, ANON)
    b = p.mmap(0, PAGE_SIZE, RW, ANON)
    assert isinstance(a, int)
    assert a
    assert b
    assert a != b
    fixed = a - 16 * PAGE_SIZE
    assert p.mmap(fixed, PAGE_SIZE, RW, ANON | MAP_FIXED) == fixed
    assert p.munmap(fixed, PAGE_SIZE) is None


# -- pagemap ------------------------------------------------------------------------


def test_pagemap_fields(m: HostMachine) -> None:
    """present/pfn/file_or_shared/exclusive follow the real pagemap bits."""
    m.write_file("/tmp/f", b"f" * PAGE_SIZE)
    p = m.spawn()
    anon = p.mmap(None, PAGE_SIZE, RW, ANON)
    assert p.pagemap(anon) == PageInfo(
        present=False, pfn=None, file_or_shared=False, exclusive=False
    )
    p.store(anon, b"x")
    info = p.pagemap(anon)
    assert info.present
    assert info.pfn
    assert info.exclusive
    assert not info.file_or_shared
    fd = p.open("/tmp/f", O_RDONLY)
    file = p.mmap(None, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)
    p.load(file, 1)
    assert p.pagemap(file).file_or_shared
    c = p.fork()
    assert not p.pagemap(anon).exclusive
    assert c.pagemap(anon).pfn == p.pagemap(anon).pfn


def test_pagemap_without_frame_numbers_is_permissionerror(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Present pages with frame 0 mean the reader lacks CAP_SYS_ADMIN: say so."""
    monkeypatch.setattr(os, "pread", lambda fd, n, off: (1 << 63 | 1 << 56).to_bytes(8, "little"))
    with pytest.raises(PermissionError, match="root"):
        proc_read.pagemap(os.getpid(), 0)


def test_pageinfo_decode() -> None:
    """The raw 64-bit entry decodes bit by bit."""
    assert PageInfo.decode(1 << 63 | 1 << 61 | 0x1234) == PageInfo(True, 0x1234, True, False)
    assert PageInfo.decode(1 << 56) == PageInfo(False, None, False, True)


# -- elsewhere ------------------------------------------------------------------------


def test_host_machine_needs_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    """On another system, creating a HostMachine is a clear RuntimeError."""
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(RuntimeError, match="Linux"):
        HostMachine()


def test_processes_lists_the_live_ones(m: HostMachine) -> None:
    """m.processes drops processes that ended; close() ends them all."""
    p, q = m.spawn(), m.spawn()
    c = p.fork()
    assert m.processes == [p, q, c]
    q.exit(0)
    assert m.processes == [p, c]
    m.close()
    assert m.processes == []
    assert c.term_signal == signal.SIGKILL


def test_execve_errors_come_from_the_real_kernel(m: HostMachine) -> None:
    """ENOENT, EACCES without an exec bit, ENOEXEC for a non-program; the process lives."""
    m.write_file("/bin/data", b"not a program")
    m.write_file("/bin/text", b"not a program either")
    p = m.spawn()
    p.chmod("/bin/text", 0o755)
    expected = {"/bin/missing": errno.ENOENT, "/bin/data": errno.EACCES, "/bin/text": errno.ENOEXEC}
    for path, code in expected.items():
        with pytest.raises(OSError) as exc:
            p.execve(path)
        assert (exc.value.errno, exc.value.filename) == (code, path)
    assert p.alive
    assert m.processes == [p]


def test_execve_of_a_real_program_execs_a_fresh_worker(m: HostMachine) -> None:
    """A program the kernel accepts (here a dynamic one): the worker really execs itself."""
    with open("/bin/true", "rb") as f:
        m.write_file("/bin/true", f.read())
    p = m.spawn()
    p.chmod("/bin/true", 0o755)
    a = p.mmap(None, PAGE_SIZE, RW, ANON)
    pid = p.pid
    p.execve("/bin/true", ["true"])
    assert (p.pid, p.alive, p.name) == (pid, True, "true")
    assert f"{a:x}-" not in p.maps()
    assert m.processes == [p]


def test_devices_are_the_machines_own(m: HostMachine) -> None:
    """unlink and chmod of /dev/zero change the machine's node, never the real device."""
    p = m.spawn()
    p.chmod("/dev/null", 0o600)
    p.unlink("/dev/zero")
    assert os.path.exists("/dev/zero")
    assert os.stat("/dev/null").st_mode & 0o777 == 0o666
    with pytest.raises(FileNotFoundError):
        p.open("/dev/zero", O_RDONLY)
    with pytest.raises(NotADirectoryError):
        p.open("/dev/null/x", O_RDONLY)


def test_the_empty_path_is_enoent(m: HostMachine) -> None:
    """open("") fails with ENOENT, as on Linux (it never names the root)."""
    with pytest.raises(FileNotFoundError):
        m.spawn().open("", O_RDONLY)


def test_a_write_to_a_pipe_without_readers_is_epipe(m: HostMachine) -> None:
    """SIGPIPE stays ignored in workers: the write fails with EPIPE, the process lives."""
    p = m.spawn()
    rfd, wfd = p.pipe()
    p.close(rfd)
    with pytest.raises(BrokenPipeError):
        p.write(wfd, b"x")
    assert p.alive


def test_a_process_killed_from_outside_is_seen_dead(m: HostMachine) -> None:
    """A worker killed by someone else reads as dead, with that signal."""
    p = m.spawn()
    os.kill(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while p.alive and time.monotonic() < deadline:
        time.sleep(0.001)
    assert (p.alive, p.term_signal, p.exit_status) == (False, signal.SIGKILL, None)
    with pytest.raises(ProcessLookupError):
        p.mmap(None, PAGE_SIZE, RW, ANON)


def test_a_process_keeps_its_machine_alive() -> None:
    """Holding only a process keeps the machine (and the process) running."""
    p = HostMachine().spawn()
    gc.collect()
    assert p.alive
    assert p.mmap(None, PAGE_SIZE, RW, ANON)
    p.machine.close()
    assert not p.alive
    with pytest.raises(ProcessLookupError):
        p.fork()
