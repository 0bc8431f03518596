"""System V shared memory (shmget, shmat, shmdt, shmctl) on both machines.

Every machine has its own IPC namespace, so ids start at 0 and keys are free.
"""

from __future__ import annotations

import errno
import signal
from typing import Any

import pytest

from elfgen import static_program
from helpers import PAGE, RW, fixed_anon, guarded, maps_in, vma_at
from mmapsim import (
    IPC_CREAT,
    IPC_EXCL,
    IPC_PRIVATE,
    IPC_RMID,
    IPC_SET,
    IPC_STAT,
    PROT_READ,
    SHM_EXEC,
    SHM_RDONLY,
    SHM_REMAP,
    SHM_RND,
    SHMLBA,
    ProcessKilled,
)
from mmapsim.constants import SHM_DEST, SHM_NORESERVE

KEY = 0x1234ABCD


def _errno(call: Any, *args: Any) -> int | None:
    try:
        call(*args)
    except OSError as exc:
        return exc.errno
    return None


def _nattch(p: Any, shmid: int) -> int:
    return int(p.shmctl(shmid, IPC_STAT).shm_nattch)


def test_ids_start_at_zero_in_each_machine(machine: Any) -> None:
    """A machine's first segments are ids 0, 1, 2: its IPC namespace is its own."""
    p = machine.spawn()
    assert [p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600) for _ in range(3)] == [0, 1, 2]
    assert p.shmget(KEY, PAGE, IPC_CREAT | 0o600) == 3


def test_a_freed_index_is_not_reused_at_once(machine: Any) -> None:
    """Ids are handed out cyclically: a removed segment's id is not the next one's."""
    p = machine.spawn()
    ids = [p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600) for _ in range(3)]
    p.shmctl(ids[1], IPC_RMID)
    assert p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600) == 3
    assert _errno(p.shmctl, ids[1], IPC_STAT) == errno.EINVAL


def test_shmget_by_key(machine: Any) -> None:
    """A key finds its segment; IPC_CREAT|IPC_EXCL, a missing key and a larger size fail."""
    p = machine.spawn()
    shmid = p.shmget(KEY, 5000, IPC_CREAT | 0o640)
    assert p.shmget(KEY, 5000, 0) == shmid
    assert p.shmget(KEY, 0, 0) == shmid  # size 0 is allowed for an existing segment
    assert p.shmget(KEY, 100, IPC_CREAT) == shmid
    assert _errno(p.shmget, KEY, PAGE, IPC_CREAT | IPC_EXCL) == errno.EEXIST
    assert _errno(p.shmget, KEY, 5001, 0) == errno.EINVAL
    assert _errno(p.shmget, KEY, 5001, IPC_CREAT | IPC_EXCL) == errno.EEXIST  # before EINVAL
    assert _errno(p.shmget, KEY + 1, PAGE, 0o600) == errno.ENOENT
    assert _errno(p.shmget, KEY + 1, 0, IPC_CREAT) == errno.EINVAL


def test_shmget_size_limits(machine: Any) -> None:
    """Size 0 and one beyond SHMMAX are EINVAL; more than memory is ENOMEM unless not reserved."""
    p = machine.spawn()
    assert _errno(p.shmget, IPC_PRIVATE, 0, IPC_CREAT) == errno.EINVAL
    assert _errno(p.shmget, IPC_PRIVATE, 2**64 - 1, IPC_CREAT) == errno.EINVAL
    assert _errno(p.shmget, IPC_PRIVATE, 1 << 46, IPC_CREAT) == errno.ENOMEM
    shmid = p.shmget(IPC_PRIVATE, 1 << 46, IPC_CREAT | SHM_NORESERVE)
    p.shmctl(shmid, IPC_RMID)


def test_shmat_maps_the_segment_as_linux_names_it(machine: Any) -> None:
    """maps shows rw-s, offset 0, the id as inode and /SYSV<key> (deleted); size rounds up."""
    p = machine.spawn()
    shmid = p.shmget(KEY, 5000, IPC_CREAT | 0o600)
    addr = p.shmat(shmid)
    line = vma_at(p, addr)
    assert line is not None
    assert (line.start, line.end, line.perms, line.offset) == (addr, addr + 2 * PAGE, "rw-s", 0)
    assert (line.dev, line.inode, line.name) == ("00:01", shmid, "/SYSV1234abcd (deleted)")
    private = p.shmat(p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600))
    assert vma_at(p, private).name == "/SYSV00000000 (deleted)"
    negative = p.shmat(p.shmget(-1, PAGE, IPC_CREAT | 0o600))
    assert vma_at(p, negative).name == "/SYSVffffffff (deleted)"


def test_a_segment_is_shared_between_unrelated_processes(machine: Any) -> None:
    """Two processes attaching one key share the frames: a store is seen at once."""
    a, b = machine.spawn(), machine.spawn()
    pa = a.shmat(a.shmget(KEY, PAGE, IPC_CREAT | 0o666))
    pb = b.shmat(b.shmget(KEY, PAGE, 0))
    assert b.load(pb, 4) == bytes(4)
    a.store(pa, b"ping")
    assert b.load(pb, 4) == b"ping"
    assert a.pagemap(pa).pfn == b.pagemap(pb).pfn
    assert a.pagemap(pa).file_or_shared


def test_the_data_outlives_every_attach(machine: Any) -> None:
    """With no attach left and no IPC_RMID, the segment and its bytes stay."""
    p = machine.spawn()
    shmid = p.shmget(KEY, PAGE, IPC_CREAT | 0o600)
    addr = p.shmat(shmid)
    p.store(addr, b"kept")
    p.shmdt(addr)
    p.exit(0)
    q = machine.spawn()
    assert q.load(q.shmat(q.shmget(KEY, 0, 0)), 4) == b"kept"


def test_shm_rdonly_maps_read_only_for_good(machine: Any) -> None:
    """SHM_RDONLY: r--s; a store kills with SIGSEGV; mprotect cannot add write (EACCES)."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    addr = p.shmat(shmid, 0, SHM_RDONLY)
    assert vma_at(p, addr).perms == "r--s"
    assert _errno(p.mprotect, addr, PAGE, RW) == errno.EACCES
    p.mprotect(addr, PAGE, PROT_READ)
    with pytest.raises(ProcessKilled) as killed:
        p.store(addr, b"x")
    assert killed.value.signal == signal.SIGSEGV


def test_shm_exec_adds_execute(machine: Any) -> None:
    """SHM_EXEC maps the segment rwxs."""
    p = machine.spawn()
    addr = p.shmat(p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o700), 0, SHM_EXEC)
    assert vma_at(p, addr).perms == "rwxs"


def test_shmat_at_an_address(machine: Any) -> None:
    """A given address is used exactly; SHM_RND rounds down to SHMLBA; else it must be aligned."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    base = guarded(p, 2)
    p.munmap(base, 2 * PAGE)
    assert SHMLBA == PAGE
    assert p.shmat(shmid, base) == base
    assert p.shmat(shmid, base + PAGE + 123, SHM_RND) == base + PAGE
    assert _errno(p.shmat, shmid, base + 123, 0) == errno.EINVAL
    assert [m.name for m in maps_in(p, base, base + 2 * PAGE)] == ["/SYSV00000000 (deleted)"] * 2


def test_shmat_over_a_mapping_needs_shm_remap(machine: Any) -> None:
    """Over an existing mapping shmat fails with EINVAL; SHM_REMAP replaces the mapping."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    base = guarded(p, 1)
    fixed_anon(p, base, 1)
    p.store(base, b"anon")
    assert _errno(p.shmat, shmid, base, 0) == errno.EINVAL
    assert vma_at(p, base).name == ""
    assert p.shmat(shmid, base, SHM_REMAP) == base
    assert vma_at(p, base).name == "/SYSV00000000 (deleted)"
    assert p.load(base, 4) == bytes(4)


def test_shmat_errors(machine: Any) -> None:
    """A negative or unknown id is EINVAL; so is SHM_REMAP without an address."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    assert _errno(p.shmat, -1, 0, 0) == errno.EINVAL
    assert _errno(p.shmat, shmid + 1, 0, 0) == errno.EINVAL
    assert _errno(p.shmat, shmid + (1 << 15), 0, 0) == errno.EINVAL  # same index, other seq
    assert _errno(p.shmat, shmid, 0, SHM_REMAP) == errno.EINVAL


def test_nattch_counts_attaches_across_fork_and_exit(machine: Any) -> None:
    """shm_nattch: +1 per attach and per fork, -1 per detach and exit; lpid follows."""
    p = machine.spawn()
    shmid = p.shmget(KEY, PAGE, IPC_CREAT | 0o600)
    info = p.shmctl(shmid, IPC_STAT)
    assert (info.shm_nattch, info.shm_cpid, info.shm_lpid, info.shm_segsz) == (0, p.pid, 0, PAGE)
    assert info.shm_perm_mode == 0o600
    assert info.shm_perm_key == KEY
    addr = p.shmat(shmid)
    assert (_nattch(p, shmid), p.shmctl(shmid, IPC_STAT).shm_lpid) == (1, p.pid)
    child = p.fork()
    assert _nattch(p, shmid) == 2
    assert p.shmctl(shmid, IPC_STAT).shm_lpid == p.pid  # the attach is made by the parent
    child.store(addr, b"from the child")
    assert p.load(addr, 14) == b"from the child"
    child.exit(0)
    info = p.shmctl(shmid, IPC_STAT)
    assert (info.shm_nattch, info.shm_lpid) == (1, child.pid)
    assert info.shm_dtime >= info.shm_atime > 0


def test_a_split_attach_counts_twice_and_shmdt_removes_both(machine: Any) -> None:
    """mprotect splits an attach into two VMAs (nattch 2, never merged); shmdt removes both."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, 2 * PAGE, IPC_CREAT | 0o600)
    addr = p.shmat(shmid)
    p.mprotect(addr, PAGE, PROT_READ)
    assert _nattch(p, shmid) == 2
    p.mprotect(addr, PAGE, RW)
    assert [m.offset for m in maps_in(p, addr, addr + 2 * PAGE)] == [0, PAGE]
    assert _errno(p.shmdt, addr + PAGE) == errno.EINVAL  # its page offset is not 0
    assert _errno(p.shmdt, addr + 1) == errno.EINVAL
    p.shmdt(addr)
    assert maps_in(p, addr, addr + 2 * PAGE) == []
    assert _nattch(p, shmid) == 0
    assert _errno(p.shmdt, addr) == errno.EINVAL


def test_shmdt_of_a_partly_unmapped_attach(machine: Any) -> None:
    """After munmap of its first page, shmdt at the old start removes the rest."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, 3 * PAGE, IPC_CREAT | 0o600)
    addr = p.shmat(shmid)
    p.munmap(addr, PAGE)
    assert _nattch(p, shmid) == 1
    p.shmdt(addr)
    assert maps_in(p, addr, addr + 3 * PAGE) == []
    assert _nattch(p, shmid) == 0


def test_ipc_rmid_waits_for_the_last_detach(machine: Any) -> None:
    """IPC_RMID: SHM_DEST and a private key at once, the segment goes with its last attach."""
    p = machine.spawn()
    shmid = p.shmget(KEY, PAGE, IPC_CREAT | 0o600)
    addr = p.shmat(shmid)
    p.store(addr, b"still here")
    child = p.fork()
    p.shmctl(shmid, IPC_RMID)
    info = p.shmctl(shmid, IPC_STAT)
    assert (info.shm_perm_key, info.shm_perm_mode) == (IPC_PRIVATE, SHM_DEST | 0o600)
    assert _errno(p.shmget, KEY, PAGE, 0) == errno.ENOENT
    assert child.load(addr, 10) == b"still here"
    again = p.shmat(shmid)  # Linux still attaches a segment marked for removal
    p.shmdt(again)
    p.shmdt(addr)
    assert _nattch(p, shmid) == 1
    child.exit(0)  # the last attach goes with the child
    assert _errno(p.shmctl, shmid, IPC_STAT) == errno.EINVAL
    assert p.shmget(KEY, PAGE, IPC_CREAT | 0o600) != shmid


def test_ipc_rmid_of_an_unattached_segment_is_immediate(machine: Any) -> None:
    """IPC_RMID with nothing attached removes the segment at once."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    assert p.shmctl(shmid, IPC_RMID) is None
    assert _errno(p.shmctl, shmid, IPC_STAT) == errno.EINVAL
    assert _errno(p.shmctl, shmid, IPC_RMID) == errno.EINVAL


def test_ipc_set_changes_the_low_mode_bits(machine: Any) -> None:
    """IPC_SET takes the permission bits of buf; without buf it is EFAULT."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    info = p.shmctl(shmid, IPC_STAT)
    p.shmctl(shmid, IPC_SET, type("Buf", (), {"shm_perm_mode": 0o7444})())
    assert p.shmctl(shmid, IPC_STAT).shm_perm_mode == 0o444
    assert p.shmctl(shmid, IPC_STAT).shm_ctime >= info.shm_ctime
    assert _errno(p.shmctl, shmid, IPC_SET, None) == errno.EFAULT
    assert _errno(p.shmctl, shmid + 1, IPC_SET, None) == errno.EFAULT  # before the lookup


def test_shmctl_errors(machine: Any) -> None:
    """A negative id or command, an unknown id or command: EINVAL."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    assert _errno(p.shmctl, -1, IPC_STAT) == errno.EINVAL
    assert _errno(p.shmctl, shmid, -1) == errno.EINVAL
    assert _errno(p.shmctl, shmid, 99) == errno.EINVAL
    assert _errno(p.shmctl, shmid + 1, IPC_STAT) == errno.EINVAL


def test_exit_and_execve_detach(machine: Any) -> None:
    """exit and execve detach every attach: a marked segment goes with the last of them."""
    machine.write_file("/tmp/prog", static_program())
    p = machine.spawn()
    p.chmod("/tmp/prog", 0o755)
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    p.shmat(shmid)
    child = p.fork()
    assert _nattch(p, shmid) == 2
    child.execve("/tmp/prog")
    assert _nattch(p, shmid) == 1
    assert p.shmctl(shmid, IPC_STAT).shm_lpid == child.pid
    p.shmctl(shmid, IPC_RMID)
    p.exit(0)
    assert _errno(child.shmctl, shmid, IPC_STAT) == errno.EINVAL


def test_types_are_checked() -> None:
    """Wrong Python types are TypeError and out-of-range ints OverflowError."""
    from mmapsim import Machine

    with Machine() as m:
        p = m.spawn()
        with pytest.raises(TypeError):
            p.shmget("key", PAGE, 0)
        with pytest.raises(OverflowError):
            p.shmget(2**31, PAGE, 0)
        with pytest.raises(OverflowError):
            p.shmat(0, -1)


def test_shm_lock_and_unlock_show_in_the_mode(machine: Any) -> None:
    """SHM_LOCK sets SHM_LOCKED in the mode, SHM_UNLOCK clears it (root may lock)."""
    from mmapsim.constants import SHM_LOCK, SHM_LOCKED, SHM_UNLOCK

    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    assert p.shmctl(shmid, SHM_LOCK) is None
    assert p.shmctl(shmid, IPC_STAT).shm_perm_mode == SHM_LOCKED | 0o600
    p.shmctl(shmid, SHM_UNLOCK)
    assert p.shmctl(shmid, IPC_STAT).shm_perm_mode == 0o600
    assert _errno(p.shmctl, shmid + 1, SHM_LOCK) == errno.EINVAL


def test_ipc_set_changes_owner_too(machine: Any) -> None:
    """IPC_SET takes shm_perm_uid and shm_perm_gid from buf when it has them."""
    p = machine.spawn()
    shmid = p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600)
    buf = type("Buf", (), {"shm_perm_mode": 0o640, "shm_perm_uid": 1000, "shm_perm_gid": 100})()
    p.shmctl(shmid, IPC_SET, buf)
    info = p.shmctl(shmid, IPC_STAT)
    assert (info.shm_perm_uid, info.shm_perm_gid, info.shm_perm_cuid) == (1000, 100, 0)
    assert info.shm_perm_mode == 0o640


def test_a_detached_segment_is_gone_from_the_address_space(machine: Any) -> None:
    """After shmdt a load at the old address is SIGSEGV (LTP shmdt01)."""
    p = machine.spawn()
    addr = p.shmat(p.shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0o600))
    p.store(addr, b"x")
    p.shmdt(addr)
    with pytest.raises(ProcessKilled) as killed:
        p.load(addr, 1)
    assert killed.value.signal == signal.SIGSEGV
