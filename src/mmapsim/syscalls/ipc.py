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
    PAGE_SHIFT,
    PAGE_SIZE,
    SHM_EXEC,
    SHM_HUGETLB,
    SHM_LOCK,
    SHM_LOCKED,
    SHM_NORESERVE,
    SHM_RDONLY,
    SHM_REMAP,
    SHM_RND,
    SHM_UNLOCK,
    SHMLBA,
    OpenFlag,
)
from mmapsim.errors import syscall_error
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import InodeKind
from mmapsim.ipc.shm import S_IRWXUGO, SHMALL, SHMMAX, ShmSegment
from mmapsim.kernel import Kernel, Task
from mmapsim.mm import mapping
from mmapsim.mm.memlayout import MMAP_MIN_ADDR, TASK_SIZE
from mmapsim.mm.unmapped_area import get_unmapped_area
from mmapsim.mm.vma import (
    VM_EXEC,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    Vma,
)
from mmapsim.shminfo import ShmInfo

_PAGE_OFF = PAGE_SIZE - 1


def sys_shmget(k: Kernel, task: Task, key: int, size: int, shmflg: int) -> int:
    """Implements shmget(2) (ipcget): a new segment, or the id of ``key``'s.

    ENOENT: no segment has ``key`` and IPC_CREAT is not set; EEXIST: one has it
    and IPC_CREAT|IPC_EXCL are set; EINVAL: it is smaller than ``size``.
    """
    if key == IPC_PRIVATE:
        return _newseg(k, key, size, shmflg).id
    seg = k.shm.by_key(key)
    if seg is None:
        if not shmflg & IPC_CREAT:
            raise syscall_error(errno.ENOENT)
        return _newseg(k, key, size, shmflg).id
    if shmflg & IPC_CREAT and shmflg & IPC_EXCL:
        raise syscall_error(errno.EEXIST)
    if seg.segsz < size:
        raise syscall_error(errno.EINVAL)
    return seg.id


def _newseg(k: Kernel, key: int, size: int, shmflg: int) -> ShmSegment:
    """newseg: the size checks, the memory charge, then a new id."""
    if size < 1 or size > SHMMAX:
        raise syscall_error(errno.EINVAL)
    numpages = (size + _PAGE_OFF) >> PAGE_SHIFT
    if k.shm.shm_tot + numpages > SHMALL:
        raise syscall_error(errno.ENOSPC)
    if shmflg & SHM_HUGETLB:  # no huge page is reserved (nr_hugepages 0)
        raise syscall_error(errno.ENOMEM)
    if not shmflg & SHM_NORESERVE and numpages > k.physmem.limit:
        raise syscall_error(errno.ENOMEM)  # shmem_acct_size: the overcommit heuristic
    if k.shm.full():
        raise syscall_error(errno.ENOSPC)
    inode = k.fs.new_inode(InodeKind.SHMEM, shmflg & S_IRWXUGO)
    k.pagecache.resize(inode, size)
    seg = k.shm.add(key, shmflg & S_IRWXUGO, inode)
    inode.name = seg.name
    inode.ino = seg.id  # maps shows the id in the inode column, as Linux does
    return seg


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
    return _map_segment(k, task, seg, addr, fixed, prot, readonly)


def _map_segment(
    k: Kernel, task: Task, seg: ShmSegment, addr: int, fixed: bool, prot: int, readonly: bool
) -> int:
    """do_mmap of the segment's file, MAP_SHARED (MAP_FIXED when an address was given)."""
    length = ((seg.segsz + _PAGE_OFF) & ~_PAGE_OFF) & U64_MAX
    mm = task.mm
    if fixed:
        if length > TASK_SIZE or addr > TASK_SIZE - length:
            raise syscall_error(errno.ENOMEM)
        if addr < MMAP_MIN_ADDR:
            raise syscall_error(errno.EPERM)  # as mmap's deviation (docs/deviations.md)
    if len(mm.vmas) > k.max_map_count:
        raise syscall_error(errno.ENOMEM)
    if not fixed:
        found = get_unmapped_area(mm, 0, length, False)
        if found is None:
            raise syscall_error(errno.ENOMEM)
        addr = found
    vm_flags = prot | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_SHARED | VM_MAYSHARE
    if readonly:  # a read-only file: never writable, not VM_SHARED
        vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
    access = OpenFlag.RDONLY if readonly else OpenFlag.RDWR
    ofd = OpenFile(seg.inode, access, seg.name)
    mapping.map_region(mm, addr, length, vm_flags, 0, ofd, seg.inode)
    return addr


def sys_shmdt(k: Kernel, task: Task, addr: int) -> None:
    """Implements shmdt(2): unmap the attach that starts at ``addr``.

    As Linux does: the first segment VMA at or above ``addr`` whose page offset
    equals its distance from ``addr`` is unmapped, then every later VMA of the
    same attach that lies within the segment's size of ``addr``.  EINVAL when
    ``addr`` is not page aligned or no attach starts there.
    """
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    mm = task.mm
    vmas = [v for v in mm.vmas if v.end > addr]
    first = next((i for i, v in enumerate(vmas) if _attached_at(v, addr)), None)
    if first is None:
        raise syscall_error(errno.EINVAL)
    found = vmas[first]
    file, size = found.file, found.inode.size if found.inode is not None else 0
    size = (size + _PAGE_OFF) & ~_PAGE_OFF
    doomed = [found]
    for vma in vmas[first + 1 :]:
        if vma.end - addr > size:
            break
        if _attached_at(vma, addr) and vma.file is file:
            doomed.append(vma)
    for vma in doomed:
        mapping.unmap(mm, vma.start, vma.end)


def _attached_at(vma: Vma, addr: int) -> bool:
    """A segment VMA whose page offset is its distance in pages from ``addr``."""
    inode = vma.inode
    if inode is None or not isinstance(inode.vm_ops, ShmSegment):
        return False
    return ((vma.start - addr) & U64_MAX) >> PAGE_SHIFT == vma.pgoff


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
