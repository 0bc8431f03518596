"""System V shared memory segments and their ids (Linux's ipc/shm.c, ipc/util.c).

A segment is a shmem inode (tmpfs, never written back) with the bookkeeping of
``struct shmid_kernel``: its key, permission bits, size, creator and last pid,
times and attach count.  The segment holds the inode open (as ``shm_file``
holds its file); every attach maps it through an open file description named
``/SYSV<key>`` that has no name on any file system, so maps shows it
``/SYSV%08x (deleted)``.

``shm_nattch`` counts the segment's VMAs, not processes: the count goes up in
the VMA's open operation (shmat, fork, a split) and down in its close (munmap,
shmdt, exit, execve), as Linux's ``shm_open``/``shm_close`` do; and such VMAs
never merge.  IPC_RMID marks the segment (``SHM_DEST``) and makes its key
private; the segment goes when the last VMA closes.

Ids are made as ``ipc_idr_alloc`` makes them: a cyclic index below
``max(in_use * 3 / 2, 64)``, and a sequence number that grows each time the
index wraps, ``id = seq << 15 | index``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from mmapsim.constants import IPC_PRIVATE, PAGE_SHIFT, SHM_DEST, SHM_HUGETLB, SHM_NORESERVE
from mmapsim.errors import KernelPanic, syscall_error
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.fs.pagecache import PageCache
from mmapsim.shminfo import ShmInfo

if TYPE_CHECKING:
    from mmapsim.fs.namespace import FileSystem
    from mmapsim.mm.vma import Vma

#: Linux's defaults (include/uapi/linux/shm.h, ipc/util.h).
SHMMNI: Final = 4096
SHMMAX: Final = 2**64 - 1 - (1 << 24)
SHMALL: Final = 2**64 - 1 - (1 << 24)
IPCMNI: Final = 1 << 15
IPCMNI_SEQ_SHIFT: Final = 15
IPC_MIN_CYCLE: Final = 64
SEQ_MAX: Final = (2**31 - 1) >> IPCMNI_SEQ_SHIFT
S_IRWXUGO: Final = 0o777


class ShmSegment:
    """One segment (Linux's ``struct shmid_kernel``) and its VMAs' open and close."""

    def __init__(self, ids: ShmIds, shmid: int, key: int, mode: int, inode: Inode) -> None:
        self.ids = ids
        self.id = shmid
        self.key = key
        self.mode = mode
        self.inode = inode
        self.uid = self.gid = self.cuid = self.cgid = 0
        self.seq = shmid >> IPCMNI_SEQ_SHIFT
        self.segsz = inode.size
        self.cpid = ids.current_pid()
        self.lpid = 0
        self.nattch = 0
        self.atime = self.dtime = 0
        self.ctime = ids.now()

    @property
    def name(self) -> str:
        """The name of the segment's file: ``/SYSV`` and the key in 8 hex digits."""
        return f"/SYSV{self.key & 0xFFFFFFFF:08x}"

    def vma_open(self, vma: Vma) -> None:
        """shm_open: one more attach, made by the current task."""
        self.nattch += 1
        self.atime = self.ids.now()
        self.lpid = self.ids.current_pid()

    def vma_close(self, vma: Vma) -> None:
        """shm_close: one attach fewer; a marked segment goes with its last one."""
        self.nattch -= 1
        self.dtime = self.ids.now()
        self.lpid = self.ids.current_pid()
        if self.nattch == 0 and self.mode & SHM_DEST:
            self.ids.destroy(self)

    def info(self) -> ShmInfo:
        """What IPC_STAT copies out."""
        return ShmInfo(
            shm_perm_key=self.key,
            shm_perm_uid=self.uid,
            shm_perm_gid=self.gid,
            shm_perm_cuid=self.cuid,
            shm_perm_cgid=self.cgid,
            shm_perm_mode=self.mode,
            shm_perm_seq=self.seq,
            shm_segsz=self.segsz,
            shm_atime=self.atime,
            shm_dtime=self.dtime,
            shm_ctime=self.ctime,
            shm_cpid=self.cpid,
            shm_lpid=self.lpid,
            shm_nattch=self.nattch,
        )

    def __repr__(self) -> str:
        return f"<ShmSegment {self.id} key={self.key:#x} size={self.segsz} nattch={self.nattch}>"


class ShmIds:
    """The segments of one IPC namespace, by id and by key (``struct ipc_ids``)."""

    def __init__(
        self, pagecache: PageCache, now: Callable[[], int], current_pid: Callable[[], int]
    ) -> None:
        self.pagecache = pagecache
        self.now = now
        self.current_pid = current_pid
        self.segments: dict[int, ShmSegment] = {}  # by index (id % IPCMNI)
        self.shm_tot = 0  # pages of every segment
        self._next_idx = 0  # idr_alloc_cyclic's cursor
        self._last_idx = -1
        self._seq = 0

    def get(self, shmid: int) -> ShmSegment | None:
        """ipc_obtain_object_check: the segment with exactly this id."""
        seg = self.segments.get(shmid % IPCMNI)
        return seg if seg is not None and seg.id == shmid else None

    def by_key(self, key: int) -> ShmSegment | None:
        """ipc_findkey: the segment with ``key`` (never IPC_PRIVATE)."""
        return next((s for s in self.segments.values() if s.key == key), None)

    def full(self) -> bool:
        """ipc_addid's limit: SHMMNI segments at most."""
        return len(self.segments) >= SHMMNI

    def add(self, key: int, mode: int, inode: Inode) -> ShmSegment:
        """ipc_addid: a new segment with the next id.

        Preconditions: not ``full()``; ``inode`` is a fresh shmem inode of the size.
        """
        idx = self._alloc_idx()
        if idx <= self._last_idx:
            self._seq = 0 if self._seq + 1 >= SEQ_MAX else self._seq + 1
        self._last_idx = idx
        shmid = (self._seq << IPCMNI_SEQ_SHIFT) + idx
        seg = ShmSegment(self, shmid, key, mode, inode)
        inode.vm_ops = seg
        inode.opens += 1  # the segment's own reference (shm_file)
        self.segments[idx] = seg
        self.shm_tot += self.pages(seg)
        return seg

    def newseg(
        self, fs: FileSystem, memory_pages: int, key: int, size: int, shmflg: int
    ) -> ShmSegment:
        """newseg (ipc/shm.c): the size checks, the memory charge, a shmem inode, an id.

        ``memory_pages``: the machine's RAM in pages, for shmem_acct_size's
        overcommit heuristic.  Raises OSError (EINVAL, ENOSPC, ENOMEM) before
        anything changes.
        """
        if size < 1 or size > SHMMAX:
            raise syscall_error(errno.EINVAL)
        numpages = (size + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
        if self.shm_tot + numpages > SHMALL:
            raise syscall_error(errno.ENOSPC)
        if shmflg & SHM_HUGETLB:  # no huge page is reserved (nr_hugepages 0)
            raise syscall_error(errno.ENOMEM)
        if not shmflg & SHM_NORESERVE and numpages > memory_pages:
            raise syscall_error(errno.ENOMEM)
        if self.full():
            raise syscall_error(errno.ENOSPC)
        inode = fs.new_inode(InodeKind.SHMEM, shmflg & S_IRWXUGO)
        self.pagecache.resize(inode, size)
        seg = self.add(key, shmflg & S_IRWXUGO, inode)
        inode.name = seg.name
        inode.ino = seg.id  # maps shows the id in the inode column, as Linux does
        return seg

    def _alloc_idx(self) -> int:
        """idr_alloc_cyclic below ``max(in_use * 3 / 2, 64)``, capped at IPCMNI."""
        limit = min(max(len(self.segments) * 3 // 2, IPC_MIN_CYCLE), IPCMNI)
        for start, end in ((self._next_idx, limit), (0, limit)):
            for idx in range(start, end):
                if idx not in self.segments:
                    self._next_idx = idx + 1
                    return idx
        raise KernelPanic("ShmIds._alloc_idx", "no free index below the limit")

    @staticmethod
    def pages(seg: ShmSegment) -> int:
        return (seg.segsz + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT

    def remove(self, seg: ShmSegment) -> None:
        """do_shm_rmid: destroy now if nothing is attached, else mark it and hide its key."""
        if seg.nattch:
            seg.mode |= SHM_DEST
            seg.key = IPC_PRIVATE
        else:
            self.destroy(seg)

    def destroy(self, seg: ShmSegment) -> None:
        """shm_destroy: the id goes; the pages go once no mapping holds them."""
        del self.segments[seg.id % IPCMNI]
        self.shm_tot -= self.pages(seg)
        inode = seg.inode
        inode.opens -= 1
        if inode.unreachable:
            self.pagecache.release(inode)
