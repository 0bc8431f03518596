"""The program's memory boundary on HostMachine: the worker's own pages are out of reach.

Each attack is made through the contract, as a hostile scenario or program
would; each is refused with HostRefused before it reaches the kernel, and the
process goes on serving calls afterwards.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmapsim import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MS_SYNC,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from mmapsim.host.boundary import HostRefused, ProgramPages

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


@pytest.fixture
def host() -> Iterator[object]:
    from mmapsim.host import HostMachine

    with HostMachine() as m:
        yield m


def _worker_page(p: object) -> int:
    """The start of a mapping of the worker's interpreter (a libc or python line)."""
    for line in p.maps().splitlines():  # type: ignore[attr-defined]
        if "libc" in line or "python" in line:
            return int(line.split("-", 1)[0], 16)
    raise AssertionError("no interpreter mapping in maps()")


def _still_serves(p: object, a: int) -> None:
    p.store(a, b"alive")  # type: ignore[attr-defined]
    assert p.load(a, 5) == b"alive"  # type: ignore[attr-defined]
    assert p.alive  # type: ignore[attr-defined]


def test_HostRefused_is_a_PermissionError_naming_the_address(host):
    p = host.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    with pytest.raises(HostRefused) as info:
        p.load(a + PAGE_SIZE, 8)  # the fence right above the first mapping
    assert isinstance(info.value, PermissionError)
    assert info.value.errno == errno.EPERM
    assert info.value.addr == a + PAGE_SIZE
    assert f"{a + PAGE_SIZE:#x}" in str(info.value)
    assert "host worker" in str(info.value)
    _still_serves(p, a)


def test_no_load_or_store_reaches_the_interpreter(host):
    p = host.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    libc = _worker_page(p)
    with pytest.raises(HostRefused):
        p.load(libc, 8)
    with pytest.raises(HostRefused):
        p.store(libc, b"\xcc" * 66)
    with pytest.raises(HostRefused):  # nor a range that runs from the program's page into it
        p.load(a, 2 * PAGE_SIZE)
    with pytest.raises(HostRefused):
        p.store(a, b"x" * (2 * PAGE_SIZE))
    _still_serves(p, a)


def test_the_attack_of_the_issue_is_refused(host):
    """Read a pointer above the first mapping, make libc writable, store code: all refused."""
    p = host.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    with pytest.raises(HostRefused):
        p.load(a + PAGE_SIZE, 8)
    libc = _worker_page(p)
    with pytest.raises(HostRefused):
        p.mprotect(libc, PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC)
    with pytest.raises(HostRefused):
        p.store(libc, b"\x90" * 66)
    _still_serves(p, a)


def test_mprotect_munmap_msync_and_MAP_FIXED_over_the_worker_are_refused(host):
    p = host.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    libc = _worker_page(p)
    with pytest.raises(HostRefused):
        p.mprotect(libc, PAGE_SIZE, PROT_NONE)
    with pytest.raises(HostRefused):
        p.munmap(libc, PAGE_SIZE)
    with pytest.raises(HostRefused):
        p.munmap(a, 2 * PAGE_SIZE)
    with pytest.raises(HostRefused):
        p.msync(libc, PAGE_SIZE, MS_SYNC)
    with pytest.raises(HostRefused):
        p.mmap(libc, PAGE_SIZE, RW, ANON | MAP_FIXED)
    with pytest.raises(HostRefused):
        p.mmap(a, 2 * PAGE_SIZE, RW, ANON | MAP_FIXED)
    with pytest.raises(HostRefused):
        p.mmap(libc, PAGE_SIZE, RW, ANON | MAP_FIXED_NOREPLACE)
    _still_serves(p, a)


def test_mprotect_of_2_63_is_ENOMEM_and_changes_only_the_program(host):
    """As on the simulator: the program's mapping changes, then ENOMEM at the first hole."""
    p = host.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    with pytest.raises(OSError) as info:
        p.mprotect(a, 2**63, PROT_READ)
    assert info.value.errno == errno.ENOMEM
    assert not isinstance(info.value, HostRefused)
    assert p.alive
    assert p.load(a, 1) == b"\0"
    assert " r--p " in p.maps().splitlines()[0] or "r--p" in p.program_maps()[0]


def test_a_MAP_FIXED_that_the_kernel_rejects_anyway_keeps_its_errno(host):
    p = host.spawn()
    libc = _worker_page(p)
    with pytest.raises(OSError) as info:
        p.mmap(libc, PAGE_SIZE, RW, MAP_PRIVATE | MAP_FIXED, 99, 0)  # no fd 99
    assert info.value.errno == errno.EBADF


def test_the_boundary_refuses_nothing_of_the_programs_own(host):
    p = host.spawn()
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    p.store(a, b"x" * (4 * PAGE_SIZE))
    assert p.load(a, 4 * PAGE_SIZE) == b"x" * (4 * PAGE_SIZE)
    p.mprotect(a, 4 * PAGE_SIZE, PROT_READ)
    p.mprotect(a, 4 * PAGE_SIZE, RW)
    b = p.mmap(a + PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED)
    assert b == a + PAGE_SIZE
    p.msync(a, 4 * PAGE_SIZE, MS_SYNC)
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)
    with pytest.raises(OSError) as info:  # a hole of the program's own: Linux's answer
        p.mprotect(a, 4 * PAGE_SIZE, PROT_READ)
    assert info.value.errno == errno.ENOMEM
    assert not isinstance(info.value, HostRefused)
    p.munmap(a, 4 * PAGE_SIZE)
    assert p.program_maps() == ("", p.maps().count("\n"))


def test_a_fork_child_inherits_the_programs_pages(host):
    p = host.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    c = p.fork()
    c.store(a, b"child")
    assert c.load(a, 5) == b"child"
    with pytest.raises(HostRefused):
        c.load(a + PAGE_SIZE, 1)
    assert c.pages.ranges() == [(a, a + PAGE_SIZE)]


def test_show_maps_on_the_host_lists_the_program_and_counts_the_rest(host, tmp_path: Path):
    p = host.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    text, left_out = p.program_maps()
    assert text.startswith(f"{a:x}-{a + PAGE_SIZE:x} rw-p")
    assert text.count("\n") == 1
    assert left_out == p.maps().count("\n") - 1 > 10


def _run(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "hostile.mmap"
    path.write_text(textwrap.dedent(body))
    cmd = [sys.executable, "-m", "mmapsim", "run", "--kernel", "host", *args, str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def test_a_hostile_scenario_ends_with_file_line_col_and_exit_2(tmp_path: Path):
    run = _run(
        tmp_path,
        """\
        A: p = mmap(0, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
        A: x = p.long[512]
        """,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "hostile.mmap:2:" in run.stderr
    assert "belongs to the host worker" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_show_maps_in_a_scenario_hides_the_worker_unless_asked(tmp_path: Path):
    body = """\
        A: p = mmap(0, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
        show maps A
        """
    run = _run(tmp_path, body)
    assert run.returncode == 0, run.stderr
    assert "mappings of the host worker left out" in run.stdout
    assert "libc" not in run.stdout
    full = _run(tmp_path, body, "--all-maps")
    assert "libc" in full.stdout


def test_program_pages_keep_sorted_disjoint_ranges():
    pages = ProgramPages()
    pages.add(0x10000, 3 * PAGE_SIZE)
    pages.add(0x13000, PAGE_SIZE)  # joins
    assert pages.ranges() == [(0x10000, 0x14000)]
    pages.remove(0x11000, PAGE_SIZE)
    assert pages.ranges() == [(0x10000, 0x11000), (0x12000, 0x14000)]
    assert pages.first_gap(0x10000, 0x14000) == 0x11000
    assert pages.first_gap(0x12000, 0x14000) is None
    assert pages.first_gap(0x12000, 0x15000) == 0x14000
    assert 0x12FFF in pages
    assert 0x11000 not in pages
    pages.move(0x12000, 2 * PAGE_SIZE, 0x20000, PAGE_SIZE)
    assert pages.ranges() == [(0x10000, 0x11000), (0x20000, 0x21000)]
    pages.keep_only([(0x20000, 0x30000)])
    assert pages.ranges() == [(0x20000, 0x21000)]


def test_the_worker_table_cannot_be_forged_and_a_forged_status_is_not_believed(host):
    """The status table is the worker's memory; even written behind the contract's back,
    a live process stays alive for the controller and a bad signal number crashes nothing."""
    import struct

    from mmapsim.host.slots import SLOT_SIZE

    p = host.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    with pytest.raises(HostRefused):
        p.store(a + PAGE_SIZE, b"\1" * 16)
    state, record = host._state, p._record
    offset = record.slot * SLOT_SIZE + 8
    struct.pack_into("<qq", state.table.buf, offset, 1, 63)  # REAPED, "signal 63"
    assert p.alive
    _still_serves(p, a)
    q = host.spawn()
    q.exit(3)
    assert q.exit_status == 3
