"""System V shared memory: shmget(2), shmat(2), shmdt(2), shmctl(2).

Each call checks its arguments in the order Linux 6.x's ipc/shm.c does, then
works on the machine's segments (:mod:`mmapsim.ipc.shm`).  Processes run as
root, so the permission bits never refuse (``ipcperms`` grants
CAP_IPC_OWNER); they are kept and reported.

Deviation: shmctl knows IPC_STAT, IPC_SET, IPC_RMID, SHM_LOCK and SHM_UNLOCK;
the commands that report system-wide tables (IPC_INFO, SHM_INFO, SHM_STAT,
SHM_STAT_ANY) fail with EINVAL.
"""

from __future__ import annotations

import errno

from mmapsim.abi import U64_MAX
from mmapsim.constants import (
    IPC_CREAT,
    IPC_EXCL,
    IPC_PRIVATE,
    IPC_RMID,
    IPC_SET,
    IPC_STAT,
    PAGE_SIZE,
    SHM_EXEC,
    SHM_LOCK,
    SHM_LOCKED,
    SHM_RDONLY,
    SHM_REMAP,
    SHM_RND,
    SHM_UNLOCK,
    SHMLBA,
    OpenFlag,
)
from mmapsim.errors import syscall_error
from mmapsim.fs.file import OpenFile
from mmapsim.ipc.shm import S_IRWXUGO
from mmapsim.kernel import Kernel, Task
from mmapsim.mm.shm_attach import shm_detach, shm_mmap
from mmapsim.mm.vma import (
    VM_EXEC,
    VM_READ,
    VM_WRITE,
)
from mmapsim.shminfo import ShmInfo

_PAGE_OFF = PAGE_SIZE - 1


def sys_shmget(k: Kernel, task: Task, key: int, size: int, shmflg: int) -> int:
    """Implements shmget(2) (ipcget): a new segment, or the id of ``key``'s.

    ENOENT: no segment has ``key`` and IPC_CREAT is not set; EEXIST: one has it
    and IPC_CREAT|IPC_EXCL are set; EINVAL: it is smaller than ``size``.
    """
    if key == IPC_PRIVATE:
        return k.shm.newseg(k.fs, k.physmem.limit, key, size, shmflg).id
    seg = k.shm.by_key(key)
    if seg is None:
        if not shmflg & IPC_CREAT:
            raise syscall_error(errno.ENOENT)
        return k.shm.newseg(k.fs, k.physmem.limit, key, size, shmflg).id
    if shmflg & IPC_CREAT and shmflg & IPC_EXCL:
        raise syscall_error(errno.EEXIST)
    if seg.segsz < size:
        raise syscall_error(errno.EINVAL)
    return seg.id


def sys_shmat(k: Kernel, task: Task, shmid: int, addr: int, shmflg: int) -> int:
    """Implements shmat(2) (do_shmat): map the segment, shared; returns the address.

    ``addr`` 0 lets the kernel choose; otherwise it must be SHMLBA aligned
    (SHM_RND rounds it down) and is used as MAP_FIXED: over other mappings
    only with SHM_REMAP (else EINVAL).  SHM_RDONLY maps it read-only (and
    mprotect can never make it writable); SHM_EXEC adds execute permission.
    """
    if shmid < 0:
        raise syscall_error(errno.EINVAL)
    fixed = bool(addr)
    if addr:
        if addr & (SHMLBA - 1):
            if not shmflg & SHM_RND:
                raise syscall_error(errno.EINVAL)
            addr &= ~(SHMLBA - 1)
            if not addr and shmflg & SHM_REMAP:
                raise syscall_error(errno.EINVAL)
    elif shmflg & SHM_REMAP:
        raise syscall_error(errno.EINVAL)
    prot = VM_READ | (VM_EXEC if shmflg & SHM_EXEC else 0)
    readonly = bool(shmflg & SHM_RDONLY)
    if not readonly:
        prot |= VM_WRITE
    seg = k.shm.get(shmid)
    if seg is None:
        raise syscall_error(errno.EINVAL)
    size = seg.segsz
    if addr and not shmflg & SHM_REMAP:
        if addr + size > U64_MAX:
            raise syscall_error(errno.EINVAL)
        if task.mm.vmas.overlapping(addr, addr + size):
            raise syscall_error(errno.EINVAL)
    access = OpenFlag.RDONLY if readonly else OpenFlag.RDWR
    ofd = OpenFile(seg.inode, access, seg.name)
    return shm_mmap(task.mm, ofd, size, addr if fixed else None, prot, k.max_map_count)


def sys_shmdt(k: Kernel, task: Task, addr: int) -> None:
    """Implements shmdt(2): unmap the attach that starts at ``addr``.

    EINVAL when ``addr`` is not page aligned or no attach starts there (see
    :func:`mmapsim.mm.shm_attach.shm_detach`).
    """
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    shm_detach(task.mm, addr)


def sys_shmctl(k: Kernel, task: Task, shmid: int, cmd: int, buf: object) -> ShmInfo | None:
    """Implements shmctl(2) with IPC_STAT, IPC_SET and IPC_RMID.

    IPC_STAT returns the segment's ShmInfo; SHM_LOCK and SHM_UNLOCK set and
    clear SHM_LOCKED in its mode (the pages are never swapped here anyway).
    IPC_SET takes from ``buf`` (an object with ``shm_perm_mode``, and optionally
    ``shm_perm_uid`` and ``shm_perm_gid``) the low nine mode bits; EFAULT
    without ``buf``.  IPC_RMID
    removes the segment now, or marks it to go with its last attach.
    """
    if cmd < 0 or shmid < 0:
        raise syscall_error(errno.EINVAL)
    if cmd == IPC_SET and buf is None:
        raise syscall_error(errno.EFAULT)
    if cmd not in (IPC_STAT, IPC_SET, IPC_RMID, SHM_LOCK, SHM_UNLOCK):
        raise syscall_error(errno.EINVAL)
    seg = k.shm.get(shmid)
    if seg is None:
        raise syscall_error(errno.EINVAL)
    if cmd == IPC_STAT:
        return seg.info()
    if cmd in (SHM_LOCK, SHM_UNLOCK):  # root may lock (CAP_IPC_LOCK); the mode shows it
        seg.mode = seg.mode | SHM_LOCKED if cmd == SHM_LOCK else seg.mode & ~SHM_LOCKED
        return None
    if cmd == IPC_RMID:
        k.shm.remove(seg)
        return None
    mode = int(getattr(buf, "shm_perm_mode"))  # noqa: B009 - any object with the field
    seg.uid = int(getattr(buf, "shm_perm_uid", seg.uid)) & 0xFFFFFFFF
    seg.gid = int(getattr(buf, "shm_perm_gid", seg.gid)) & 0xFFFFFFFF
    seg.mode = (seg.mode & ~S_IRWXUGO) | (mode & S_IRWXUGO)
    seg.ctime = k.shm.now()
    return None
