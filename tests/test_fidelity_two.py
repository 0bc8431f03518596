"""Regression tests of the second fidelity round: disagreements with Linux found
by differential testing and a conformance suite, each now an assertion that
runs on the simulator and on the real kernel (``machine``), or a simulator pin
where this computer cannot show the behaviour (the reason is in
docs/deviations.md).
"""

from __future__ import annotations

import errno
import os
import signal
from typing import Any

import pytest

from elfgen import static_program
from helpers import ANON, PAGE, RW, SHARED_ANON, guarded, maps_in, new_file, smaps_at
from mmapsim import Machine, ProcessKilled
from mmapsim.constants import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_STACK,
    MAP_SYNC,
    MS_SYNC,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from mmapsim.host.cpu import has_pkeys

MAP_32BIT = 0x40
MAP_ABOVE4G = 0x80
MAP_HUGETLB = 0x40000
SEEK_DATA, SEEK_HOLE = 3, 4
HUGE = 2 << 20
ON_EXT4 = not os.environ.get("MMAPSIM_HOST_TMPDIR")
ext4_only = pytest.mark.skipif(not ON_EXT4, reason="ext4's answer; MMAPSIM_HOST_TMPDIR moves files")


def _errno(call: Any) -> object:
    try:
        call()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, exc.errno)
    return "ok"


def _vmflags(p: Any, addr: int) -> set[str]:
    lines = p.smaps().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{addr:x}-"))
    line = next(line for line in lines[start:] if line.startswith("VmFlags:"))
    return set(line.split()[1:])


# -- 1. execute-only memory ------------------------------------------------------------


def test_exec_only_memory_follows_the_cpu(machine: Any) -> None:
    """PROT_EXEC alone: with protection keys a load is SIGSEGV and MAP_POPULATE maps
    nothing; without them exec implies read.  (The simulated CPU is this one's.)"""
    p = machine.spawn()
    a = p.mmap(None, PAGE, PROT_EXEC, ANON)
    b = p.mmap(None, PAGE, PROT_EXEC, ANON | MAP_POPULATE)
    assert p.pagemap(b).present is not has_pkeys()
    if has_pkeys():
        with pytest.raises(ProcessKilled) as killed:
            p.load(a, 1)
        assert killed.value.signal is signal.SIGSEGV
    else:
        assert p.load(a, 1) == b"\0"


@pytest.mark.simonly
def test_exec_only_memory_with_protection_keys() -> None:
    """Machine(pkeys=True), the default (a current x86-64 server): PROT_EXEC alone
    cannot be read, not even after mprotect(PROT_EXEC) of readable memory; PROT_READ
    back makes it readable; smaps shows ProtectionKey 1 on it and 0 elsewhere."""
    with Machine(check_invariants=True) as m:
        p = m.spawn()
        b = p.mmap(None, PAGE, PROT_EXEC, ANON | MAP_POPULATE)
        assert not p.pagemap(b).present
        r = p.mmap(None, PAGE, RW, ANON)
        p.store(r, b"x")
        p.mprotect(r, PAGE, PROT_EXEC)
        assert p.maps().count("--xp") == 2
        smaps = p.smaps()
        assert "ProtectionKey:         1" in smaps
        assert "ProtectionKey:         0" in smaps
        p.mprotect(r, PAGE, PROT_READ | PROT_EXEC)
        assert p.load(r, 1) == b"x"
        with pytest.raises(ProcessKilled) as killed:
            p.load(b, 1)
        assert killed.value.signal is signal.SIGSEGV
    with Machine(pkeys=False) as old:
        p = old.spawn()
        a = p.mmap(None, PAGE, PROT_EXEC, ANON)
        assert p.load(a, 1) == b"\0"
        assert "ProtectionKey" not in p.smaps()


def test_pkeys_option_is_a_bool() -> None:
    with pytest.raises(TypeError):
        Machine(pkeys=1)  # type: ignore[arg-type]


# -- 2-4, 11, 12. lseek and pipes -------------------------------------------------------


def test_lseek_whence_above_seek_hole_is_einval_before_espipe(machine: Any) -> None:
    p = machine.spawn()
    r, _w = p.pipe()
    fd = new_file(machine, p, "/tmp/f", b"abc")
    assert _errno(lambda: p.lseek(r, -1, 5)) == "EINVAL"
    assert _errno(lambda: p.lseek(r, 0, 0)) == "ESPIPE"
    assert _errno(lambda: p.lseek(fd, 0, 5)) == "EINVAL"
    assert _errno(lambda: p.lseek(fd, 0, -1)) == "EINVAL"


@ext4_only
def test_seek_data_and_hole_outside_the_file_are_enxio(machine: Any) -> None:
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"abc")
    assert [_errno(lambda w=w: p.lseek(fd, -1, w)) for w in (SEEK_DATA, SEEK_HOLE)] == ["ENXIO"] * 2
    assert [_errno(lambda w=w: p.lseek(fd, 3, w)) for w in (SEEK_DATA, SEEK_HOLE)] == ["ENXIO"] * 2
    assert p.lseek(fd, 1, SEEK_DATA) == 1
    assert p.lseek(fd, 1, SEEK_HOLE) == 3


@ext4_only
def test_seek_hole_and_data_know_the_holes(machine: Any) -> None:
    """An empty file ftruncated to 8292 bytes is one hole; a page written in the
    middle of a sparse file (dirty, not yet on disk) is data."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"")
    p.ftruncate(fd, 8292)
    assert p.lseek(fd, 0, SEEK_HOLE) == 0
    assert _errno(lambda: p.lseek(fd, 0, SEEK_DATA)) == "ENXIO"
    p.ftruncate(fd, 5 * PAGE)
    p.pwrite(fd, b"x", 2 * PAGE + 5)
    assert p.lseek(fd, 0, SEEK_DATA) == 2 * PAGE
    assert p.lseek(fd, 2 * PAGE + 9, SEEK_DATA) == 2 * PAGE + 9
    assert p.lseek(fd, 2 * PAGE, SEEK_HOLE) == 3 * PAGE
    assert _errno(lambda: p.lseek(fd, 3 * PAGE, SEEK_DATA)) == "ENXIO"
    p.fsync(fd)
    assert p.lseek(fd, PAGE, SEEK_DATA) == 2 * PAGE


def test_a_pipe_reports_size_zero_and_reads_zero_bytes_at_once(machine: Any) -> None:
    p = machine.spawn()
    r, w = p.pipe()
    assert p.read(r, 0) == b""
    assert _errno(lambda: p.read(r, 1)) == "EAGAIN"
    p.write(w, b"x")
    assert (p.fstat(r).st_size, p.fstat(w).st_size) == (0, 0)
    assert p.read(r, 0) == b""
    assert p.read(r, 5) == b"x"


# -- 5, 8, 9, 10. mmap flags and return values ------------------------------------------


def test_map_32bit_is_placed_below_2_gib(machine: Any) -> None:
    p = machine.spawn()
    for flags in (ANON | MAP_32BIT, ANON | MAP_32BIT | MAP_ABOVE4G):
        a = p.mmap(None, PAGE, RW, flags)
        assert 1 << 30 <= a < 1 << 31
    assert p.mmap(None, HUGE, RW, ANON | MAP_32BIT) < 1 << 31


def test_map_shared_validate_checks_bit_31_and_accepts_map_above4g(machine: Any) -> None:
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"x" * PAGE)
    null = p.open("/dev/null", O_RDWR)
    assert (
        _errno(lambda: p.mmap(None, PAGE, PROT_READ, MAP_SHARED_VALIDATE | 0x80000000, fd))
        == (errno.errorcode[errno.EOPNOTSUPP])
    )
    assert _errno(lambda: p.mmap(None, PAGE, PROT_READ, MAP_SHARED | 0x80000000, fd)) == "ok"
    assert _errno(lambda: p.mmap(None, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_ABOVE4G, fd)) == (
        "ok"
    )
    assert _errno(
        lambda: p.mmap(None, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_ABOVE4G, null)
    ) == ("ENODEV")


def test_a_fixed_address_in_the_last_page_reads_as_an_errno(machine: Any) -> None:
    """mmap returns a MAP_FIXED address as it is, and -1..-4095 are errno values."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"x" * PAGE)
    flags = MAP_SHARED | MAP_FIXED

    def code(addr: int, f: int = flags, fd: int = fd) -> object:
        try:
            p.mmap(addr, PAGE, PROT_READ, f, fd)
        except OSError as exc:
            return exc.errno
        return "ok"

    assert code(2**64 - 1) == errno.EPERM
    assert code(2**64 - 12) == errno.ENOMEM
    assert code(2**64 - 4095) == 4095
    assert code(2**64 - 4096) == errno.ENOMEM
    assert code(2**64 - 2, ANON | MAP_FIXED_NOREPLACE, -1) == 2


# -- 6. O_CREAT on a name with a trailing slash ------------------------------------------


def test_o_creat_with_a_trailing_slash_is_eisdir(machine: Any) -> None:
    p = machine.spawn()
    machine.write_file("/tmp/f0", b"abc")
    assert _errno(lambda: p.open("/tmp/f0/", O_CREAT | O_RDWR)) == "EISDIR"
    assert _errno(lambda: p.open("/tmp/f0/", O_CREAT | O_EXCL | O_RDWR)) == "EISDIR"
    assert _errno(lambda: p.open("/tmp/new/", O_CREAT | O_RDWR)) == "EISDIR"
    assert _errno(lambda: p.open("/tmp/no/such/", O_CREAT | O_RDWR)) == "ENOENT"
    assert _errno(lambda: p.open("/tmp/f0/x/", O_CREAT | O_RDWR)) == "ENOTDIR"
    assert _errno(lambda: p.open("/tmp/f0/", O_RDWR)) == "ENOTDIR"


# -- 7. /dev/zero ------------------------------------------------------------------------


def test_dev_zero_mappings_keep_their_offset(machine: Any) -> None:
    """Shared /dev/zero at offset 8192 shows offset 00002000 and, being one page of
    shared memory indexed from page 2, SIGBUS on access; through an O_RDONLY
    descriptor it is the plain /dev/zero file, r--s, reading zeros."""
    p = machine.spawn()
    rw, ro = p.open("/dev/zero", O_RDWR), p.open("/dev/zero", O_RDONLY)
    shared = p.mmap(None, PAGE, RW, MAP_SHARED, rw, 2 * PAGE)
    rdonly = p.mmap(None, PAGE, PROT_READ, MAP_SHARED, ro, 2 * PAGE)
    private = p.mmap(None, PAGE, RW, MAP_PRIVATE, rw, 2 * PAGE)
    (s,), (r,), (v,) = (maps_in(p, a, a + PAGE) for a in (shared, rdonly, private))
    assert (s.perms, s.offset, s.name) == ("rw-s", 2 * PAGE, "/dev/zero (deleted)")
    assert (r.perms, r.offset, r.name) == ("r--s", 2 * PAGE, "/dev/zero")
    assert (v.perms, v.offset, v.name) == ("rw-p", 2 * PAGE, "/dev/zero")
    assert p.load(rdonly, 4) == bytes(4)
    assert _errno(lambda: p.mprotect(rdonly, PAGE, RW)) == "EACCES"
    with pytest.raises(ProcessKilled) as killed:
        p.load(shared, 1)
    assert killed.value.signal is signal.SIGBUS


def test_dev_zero_map_sync(machine: Any) -> None:
    p = machine.spawn()
    z = p.open("/dev/zero", O_RDWR)
    assert (
        _errno(lambda: p.mmap(None, PAGE, RW, MAP_SHARED_VALIDATE | MAP_SYNC, z))
        == (errno.errorcode[errno.EOPNOTSUPP])
    )
    a = p.mmap(None, PAGE, RW, MAP_SHARED | MAP_SYNC, z)
    assert "sf" in _vmflags(p, a)


# -- 13, 14. VmFlags of MAP_STACK and MAP_SYNC -----------------------------------------------


def test_map_stack_is_nohugepage_and_map_sync_is_sf(machine: Any) -> None:
    p = machine.spawn()
    g = guarded(p, 3)
    a = p.mmap(g, PAGE, RW, ANON | MAP_FIXED | MAP_STACK)
    assert "nh" in _vmflags(p, a)
    p.mmap(g + PAGE, PAGE, RW, ANON | MAP_FIXED)
    b = p.mmap(g + 2 * PAGE, PAGE, RW, ANON | MAP_FIXED | MAP_SYNC)
    assert "sf" in _vmflags(p, b)
    assert "nh" not in _vmflags(p, b)
    assert len(maps_in(p, g, g + 3 * PAGE)) == 3  # none of the three merge
    s = p.mmap(None, PAGE, RW, SHARED_ANON | MAP_SYNC | MAP_STACK)
    assert {"sf", "nh"} <= _vmflags(p, s)


# -- 15. text busy ----------------------------------------------------------------------


def test_execve_of_a_file_open_for_writing_is_etxtbsy(machine: Any) -> None:
    machine.write_file("/tmp/prog", static_program())
    machine.write_file("/tmp/empty", b"")
    p, q = machine.spawn(), machine.spawn()
    p.chmod("/tmp/prog", 0o755)
    p.chmod("/tmp/empty", 0o755)
    w = q.open("/tmp/empty", O_WRONLY)
    assert _errno(lambda: p.execve("/tmp/empty")) == "ETXTBSY"
    q.close(w)
    assert _errno(lambda: p.execve("/tmp/empty")) == "ENOEXEC"
    fd = q.open("/tmp/prog", O_RDWR)
    shared = q.mmap(None, PAGE, RW, MAP_SHARED, fd)
    q.close(fd)
    assert _errno(lambda: p.execve("/tmp/prog")) == "ETXTBSY"  # the mapping holds the file
    q.munmap(shared, PAGE)
    ro = q.open("/tmp/prog", O_RDONLY)
    assert _errno(lambda: p.execve("/tmp/prog")) == "ok"
    q.close(ro)


# -- 16. pipes are noexec --------------------------------------------------------------------


def test_mmap_of_a_pipe(machine: Any) -> None:
    p = machine.spawn()
    r, w = p.pipe()
    assert _errno(lambda: p.mmap(None, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, r)) == "EPERM"
    assert _errno(lambda: p.mmap(None, PAGE, PROT_READ, MAP_PRIVATE, r)) == "ENODEV"
    assert _errno(lambda: p.mmap(None, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, w)) == "EACCES"


# -- 17. MAP_HUGETLB with no huge page reserved -------------------------------------------


def _no_huge_pages() -> bool:
    try:
        with open("/proc/sys/vm/nr_hugepages") as f:
            return f.read().strip() == "0"
    except OSError:
        return False


no_huge_pages = pytest.mark.skipif(not _no_huge_pages(), reason="huge pages are reserved here")


@no_huge_pages
def test_map_hugetlb_checks_in_linux_order(machine: Any) -> None:
    p = machine.spawn()
    g = guarded(p, 4)
    h = MAP_ANONYMOUS | MAP_HUGETLB
    calls = {
        "noreplace unaligned": lambda: p.mmap(g, HUGE, RW, MAP_PRIVATE | h | MAP_FIXED_NOREPLACE),
        "offset unaligned": lambda: p.mmap(None, HUGE, RW, MAP_PRIVATE | h, -1, PAGE),
        "map type 0xf": lambda: p.mmap(None, HUGE, RW, 0xF | h),
        "offset -4096": lambda: p.mmap(None, HUGE, RW, MAP_PRIVATE | h, -1, -PAGE),
        "every flag": lambda: p.mmap(None, PAGE, RW, ~0),
        "size log 16": lambda: p.mmap(None, HUGE, RW, MAP_PRIVATE | h | 16 << 26),
        "reserved": lambda: p.mmap(None, HUGE, RW, MAP_PRIVATE | h),
        "length 0": lambda: p.mmap(None, 0, RW, MAP_PRIVATE | h | MAP_NORESERVE),
    }
    got = {name: _errno(call) for name, call in calls.items()}
    assert got == {
        "noreplace unaligned": "EINVAL",
        "offset unaligned": "EINVAL",
        "map type 0xf": "EINVAL",
        "offset -4096": "EOVERFLOW",
        "every flag": "EINVAL",
        "size log 16": "EINVAL",
        "reserved": "ENOMEM",
        "length 0": "EINVAL",
    }


@no_huge_pages
def test_map_hugetlb_noreserve_succeeds_and_faults_sigbus(machine: Any) -> None:
    p = machine.spawn()
    h = MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE
    a = p.mmap(None, PAGE, RW, MAP_PRIVATE | h)
    s = p.mmap(None, HUGE, RW, MAP_SHARED | h)
    assert a % HUGE == 0
    assert s % HUGE == 0
    (line,) = maps_in(p, a, a + HUGE)
    assert (line.end - line.start, line.perms, line.name) == (
        HUGE,
        "rw-p",
        "/anon_hugepage (deleted)",
    )
    fields = smaps_at(p, a)
    assert (fields["KernelPageSize"], fields["MMUPageSize"], fields["Rss"]) == (2048, 2048, 0)
    assert {"ht", "de", "nr"} <= _vmflags(p, s)
    assert "sh" in _vmflags(p, s)
    assert _errno(lambda: p.munmap(a, PAGE)) == "EINVAL"
    assert _errno(lambda: p.mprotect(a, PAGE, PROT_READ)) == "EINVAL"
    assert p.mmap(None, HUGE, RW, MAP_PRIVATE | h | 30 << 26) % (1 << 30) == 0
    p.munmap(s, HUGE)
    with pytest.raises(ProcessKilled) as killed:
        p.load(a, 1)
    assert killed.value.signal is signal.SIGBUS


# -- 18. Referenced after populate ------------------------------------------------------------


def test_populated_pages_stay_referenced_in_the_child(machine: Any) -> None:
    """Populating marks the pages accessed (PG_referenced), which fork keeps; pages
    made by a plain store are referenced only through the parent's PTEs (the
    child's copies of the PTEs are old)."""
    p = machine.spawn()
    pop = p.mmap(None, 7 * PAGE, RW, ANON | MAP_POPULATE)
    locked = p.mmap(None, 7 * PAGE, RW, ANON | MAP_LOCKED)
    touched = p.mmap(None, 7 * PAGE, RW, ANON)
    shared = p.mmap(None, 7 * PAGE, RW, SHARED_ANON | MAP_POPULATE)
    for i in range(7):
        p.store(touched + i * PAGE, b"x")
    child = p.fork()
    for proc in (p, child):
        assert smaps_at(proc, pop)["Referenced"] == 28
        assert smaps_at(proc, locked)["Referenced"] == 28
    assert smaps_at(p, shared)["Referenced"] == 28
    assert smaps_at(child, shared)["Rss"] == 0  # fork copies no shared PTE
    assert smaps_at(p, touched)["Referenced"] == 28
    assert smaps_at(child, touched)["Referenced"] == 0


# -- 19. a MAP_FIXED mapping that fails in the file's mmap leaves a hole --------------------


@ext4_only
def test_map_sync_over_a_mapping_leaves_a_hole(machine: Any) -> None:
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"y" * PAGE)
    g = guarded(p, 16)
    a = p.mmap(g, 16 * PAGE, RW, ANON | MAP_FIXED)
    for i in range(16):
        p.store(a + i * PAGE, b"z")
    flags = MAP_PRIVATE | MAP_FIXED | MAP_SYNC
    assert (
        _errno(lambda: p.mmap(a + 14 * PAGE, PAGE, PROT_WRITE, flags, fd))
        == (errno.errorcode[errno.EOPNOTSUPP])
    )
    spans = [(m.start - a, m.end - a) for m in maps_in(p, a, a + 16 * PAGE)]
    assert spans == [(0, 14 * PAGE), (15 * PAGE, 16 * PAGE)]
    assert not p.pagemap(a + 14 * PAGE).present


# -- 20. writeback zeroes the tail of the last page --------------------------------------------


@ext4_only  # tmpfs never writes a page back
def test_writeback_zeroes_the_page_past_end_of_file(machine: Any) -> None:
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/g", b"abc")
    a = p.mmap(None, PAGE, RW, MAP_SHARED, fd)
    p.store(a + 100, b"Q")
    assert p.load(a + 100, 1) == b"Q"
    p.msync(a, PAGE, MS_SYNC)
    p.munmap(a, PAGE)
    b = p.mmap(None, PAGE, RW, MAP_SHARED, fd)
    assert p.load(b, 4) == b"abc\0"
    assert p.load(b + 100, 1) == b"\0"
    assert machine.read_file("/tmp/g") == b"abc"


# -- 21. a shared anonymous page that is read, then written, is dirty --------------------------


def test_shared_anonymous_page_read_then_written_is_dirty(machine: Any) -> None:
    p = machine.spawn()
    s = p.mmap(None, 2 * PAGE, RW, SHARED_ANON)
    p.load(s, 1)
    p.load(s + PAGE, 1)
    p.store(s, b"w")
    fields = smaps_at(p, s)
    assert (fields["Private_Dirty"], fields["Private_Clean"], fields["Rss"]) == (4, 4, 8)
    f = p.mmap(None, PAGE, PROT_NONE, ANON)
    assert smaps_at(p, f)["Rss"] == 0


@no_huge_pages
def test_a_fixed_hugetlb_mapping_that_cannot_reserve_leaves_a_hole(machine: Any) -> None:
    """MAP_FIXED | MAP_HUGETLB without MAP_NORESERVE fails in hugetlbfs's mmap (no
    page to reserve) after the old pages went; an unaligned one fails before."""
    p = machine.spawn()
    big = p.mmap(None, 8 << 20, RW, ANON)
    a = (big + HUGE - 1) & ~(HUGE - 1)
    for i in range(0, 2 * HUGE, PAGE):
        p.store(a + i, b"x")
    h = MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED
    assert _errno(lambda: p.mmap(a, HUGE, RW, MAP_PRIVATE | h)) == "ENOMEM"
    assert not p.pagemap(a).present
    assert p.pagemap(a + HUGE).present
    assert _errno(lambda: p.mmap(a + HUGE + PAGE, HUGE, RW, MAP_PRIVATE | h | MAP_NORESERVE)) == (
        "EINVAL"
    )
    assert p.pagemap(a + HUGE + PAGE).present
    assert _errno(lambda: p.mmap(a + HUGE, HUGE, RW, MAP_SHARED | h | MAP_NORESERVE)) == "ok"
    assert not p.pagemap(a + HUGE).present
    locked = p.mmap(
        None, HUGE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_LOCKED
    )
    assert "lo" not in _vmflags(p, locked)


@no_huge_pages
def test_a_hugetlb_mapping_is_the_programs_to_its_huge_end(machine: Any) -> None:
    """mmap(4096, MAP_HUGETLB) maps a whole huge page, which munmap can take back."""
    p = machine.spawn()
    a = p.mmap(None, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE)
    p.munmap(a, HUGE)
    assert not maps_in(p, a, a + HUGE)


def test_flag_words_may_be_written_unsigned(machine: Any) -> None:
    """A flag word is the same 32 bits written signed or unsigned, on every call
    that takes one."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", b"x")
    a = p.mmap(None, PAGE, RW, ANON)
    assert _errno(lambda: p.msync(a, PAGE, 0x80000000)) == "EINVAL"
    assert _errno(lambda: p.mprotect(a, PAGE, 0x80000000)) == "EINVAL"
    assert _errno(lambda: p.mmap(None, PAGE, RW, 0xFFFFFFFF)) == "EINVAL"
    assert p.open("/tmp/f", 0x80000000 | O_RDWR) > fd
    with pytest.raises(OverflowError):
        p.mmap(None, PAGE, RW, 2**32)


# -- a MAP_GROWSDOWN mapping grown by an access, then fork ---------------------------------

MAP_GROWSDOWN = 0x100


def test_a_grown_growsdown_mapping_is_inherited_by_fork(machine: Any) -> None:
    """A load just below a MAP_GROWSDOWN mapping extends it down (expand_downwards,
    which gives it its anon_vma first); fork copies the grown page's zero-page
    entry, and the child reads and writes it as its own memory."""
    p = machine.spawn()
    top = p.mmap(None, 2 * PAGE, RW, ANON | MAP_GROWSDOWN)
    below = top - PAGE
    assert p.load(below, 8) == bytes(8)
    grown = p.pagemap(below)
    assert grown.present
    child = p.fork()
    assert child.pagemap(below).present
    assert child.pagemap(below).pfn == grown.pfn  # the zero page, in both
    assert child.load(below, 8) == bytes(8)
    child.store(below, b"child's")
    assert child.load(below, 7) == b"child's"
    assert p.load(below, 7) == bytes(7)
