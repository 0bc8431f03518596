"""An independent set of hostile scenarios and programs, run on the real kernel.

Each file of ``tests/hostile/`` is an attack on HostMachine's boundary, its
kernel confinement or its limits.  Run with ``--kernel host`` it must end with
exit 1 (an expect that fails, a death) or 2 (a refused step, a mistake) and a
message: never exit 0 for a refused step, never a traceback, never a hang.  A
canary file outside the machine stays as it was, and neither a process nor a
private root is left behind.  The scenarios run in this process (click's
runner), so that the file stays fast.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim.cli.group import main
from mmapsim.constants import MAP_ANONYMOUS, MAP_PRIVATE, O_CREAT, O_RDWR, PROT_READ, PROT_WRITE

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")

HOSTILE = Path(__file__).parent / "hostile"
#: Every scenario names this file through ``..`` chains or absolute paths.
CANARY = Path("/tmp/mmapsim-redteam-canary")
REFUSED = "belongs to the host worker"

#: file -> (exit status, a fragment of the message that must be printed).
EXPECTED: dict[str, tuple[int, str]] = {
    # the program's memory boundary
    "heap_load": (2, REFUSED),
    "stack_store": (2, REFUSED),
    "libc_mprotect": (2, REFUSED),
    "memcpy_from_heap": (2, REFUSED),
    "memset_stack": (2, REFUSED),
    "munmap_user_space": (2, REFUSED),
    "msync_wrap": (2, REFUSED),
    "map_fixed_heap": (2, REFUSED),
    "map_fixed_zero_to_top": (2, REFUSED),
    "execve_elf_written": (2, REFUSED),
    "below_first_mapping": (1, "killed by SIGSEGV"),
    "mixed_range_mprotect": (1, "ENOMEM"),
    "mprotect_2_63": (0, "all hold"),  # ENOMEM, as Linux for the program alone; nothing else
    "mprotect_2_64": (0, "all hold"),
    # files outside the private root
    "dotdot_open": (1, "ENOENT"),
    "abs_etc_shadow": (1, "FAILED"),
    "file_proc_self_mem": (1, "FAILED"),
    "proc_self_mem": (0, "ENOENT"),
    "nul_path": (2, "NUL"),
    "surrogate_path": (2, "surrogate"),
    # exec
    "execve_bin_sh": (1, "ENOENT"),
    "execve_script": (1, "EACCES"),
    # limits
    "dev_zero_read": (1, "67108864"),
    "dev_zero_pread": (1, "67108864"),
    "sparse_file": (2, "a whole file is read only up to"),
    "fork_loop": (2, "EAGAIN"),
    "pipe_full": (0, "EAGAIN"),
    "pipe_empty": (0, "EAGAIN"),
    # the language
    "shift_huge": (2, "a shift by 0 to 127 bits"),
    "repeat_huge": (2, "cannot apply"),
    "big_int_print": (2, "more than 128 bits"),
    "deep_tilde": (2, "nests more than 100 levels"),
    "deep_paren": (2, "too many nested parentheses"),
    "deep_minus": (2, "65536 characters"),
    "eq_chain": (2, "65536 characters"),
    "long_line": (2, "65536 characters"),
    # views of the worker's memory
    "show_smaps_libc": (0, "Rss"),
    "show_cache_dev_zero": (2, "character device"),
    "file_setup_dotdot": (1, "FAILED"),
    "chmod_root": (1, "EISDIR"),
    "show_frame_heap": (2, REFUSED),
    "grow_worker_stack": (2, REFUSED),
    "sleep_an_hour": (2, "at most 30 seconds"),
    # System V shared memory and waitpid
    "shmat_over_heap": (2, REFUSED),
    "shmdt_worker": (1, "EINVAL"),
    "shm_huge": (1, "ENOMEM"),
    "waitpid_live_child": (0, "EDEADLOCK"),  # a wait that would block for ever is refused
    "show_layout": (0, "of the host worker left out"),
    "show_pages_neg": (0, "more pages"),
}

#: Attacks that succeed today: file -> the defect.
DEFECTS: dict[str, str] = {}

#: Attacks too slow for every run (a GiB of disk or memory): run by hand.
SLOW = {"disk_filler", "mem_filler", "many_maps"}


def _descendants() -> set[int]:
    """Every live process below this one but HostMachine's master (one per controller)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != b"Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return {pid for pid in found if not _is_master(pid)}


def _is_master(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"mmapsim.host.master" in cmdline.read()
    except OSError:
        return False


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the machines' private roots go; the canary stays as it was."""
    base = tmp_path / "roots"
    base.mkdir()
    monkeypatch.setenv("MMAPSIM_HOST_TMPDIR", str(base))
    CANARY.write_bytes(b"untouched")
    before = _descendants()
    try:
        yield base
        assert CANARY.read_bytes() == b"untouched"
    finally:
        CANARY.unlink(missing_ok=True)  # the computer keeps nothing of the test
    assert os.listdir(base) == []  # every private root is gone
    for _ in range(50):  # a killed worker may take a moment to be reaped
        if _descendants() <= before:
            break
        time.sleep(0.05)
    assert _descendants() <= before  # no worker is left behind


def _timeout(signum: int, frame: object) -> None:
    raise TimeoutError("the scenario hangs")


def _run(name: str, *command: str) -> tuple[int, str]:
    path = str(HOSTILE / f"{name}.mmap")
    result = CliRunner().invoke(main, [*command, path])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{name}: {result.exception!r}\n{result.output}"
    )
    return result.exit_code, result.output


def test_every_hostile_file_is_listed():
    names = {p.stem for p in HOSTILE.glob("*.mmap")}
    assert names == set(EXPECTED) | set(DEFECTS) | SLOW


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_scenario_is_refused_or_bounded(name: str, roots: Path):
    status, fragment = EXPECTED[name]
    code, output = _run(name, "run", "--kernel", "host")
    assert "Traceback" not in output
    assert (code, fragment in output) == (status, True), output
    if status == 2:
        assert f"{name}.mmap:" in output  # file:line:col


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_a_hostile_scenario_that_still_succeeds(name: str, roots: Path, request):
    request.applymarker(pytest.mark.xfail(strict=True, reason=DEFECTS[name]))
    previous = signal.signal(signal.SIGALRM, _timeout)  # a hang is stopped early
    signal.alarm(10)
    try:
        code, output = _run(name, "run", "--kernel", "host")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert "Traceback" not in output
    assert code == 2, output
    assert f"{name}.mmap:" in output


def test_diff_and_layout_end_a_refused_step_with_exit_2(roots: Path):
    for command in (["diff"], ["layout", "--kernel", "host"]):
        code, output = _run("stack_store", *command)
        assert code in (1, 2), output  # diff: 1, the kernels disagree at the refused step
        assert REFUSED in output
        assert "Traceback" not in output


# -- hostile Python programs through HostMachine's public API ---------------------


def test_a_disk_filler_gets_enospc_at_its_limit(roots: Path):
    from mmapsim.host import HostMachine

    with HostMachine(max_disk_bytes=1 << 20) as m:
        a = m.spawn("A")
        fd = a.open("/tmp/big", O_RDWR | O_CREAT)
        written = sum(a.pwrite(fd, b"\xff" * (256 << 10), i << 18) for i in range(4))
        with pytest.raises(OSError) as err:
            a.pwrite(fd, b"\xff" * (256 << 10), 4 << 18)
        assert err.value.errno == errno.ENOSPC
        assert written <= 1 << 20


def test_a_fork_loop_stops_at_max_processes(roots: Path):
    from mmapsim.host import HostMachine

    with HostMachine(max_processes=4) as m:
        a = m.spawn("A")
        children = []
        with pytest.raises(OSError) as err:  # noqa: PT012 (the fork that passes the limit)
            for _ in range(8):
                children.append(a.fork())
        assert err.value.errno == errno.EAGAIN
        assert len(children) == 3


def test_huge_and_wrapping_lengths_never_reach_the_worker(roots: Path):
    from mmapsim.host import HostMachine, HostRefused

    with HostMachine() as m:
        a = m.spawn("A")
        p = a.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        a.store(p, b"kept")
        for length in (1 << 63, (1 << 64) - 1, (1 << 64) - p):
            with pytest.raises(OSError) as err:
                a.mprotect(p, length, PROT_READ | PROT_WRITE)
            assert err.value.errno in (errno.ENOMEM, errno.EINVAL)
        with pytest.raises(HostRefused):
            a.load(p, 8192)  # the page above is the worker's fence
        with pytest.raises(HostRefused):
            a.munmap(p, 1 << 30)
        with pytest.raises(TypeError):
            a.load(p, 4.0)  # type: ignore[arg-type]
        with pytest.raises(OverflowError):
            a.load(p, 1 << 64)
        assert a.load(p, 4) == b"kept"
