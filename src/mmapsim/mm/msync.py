"""msync's walk over an address space (mm/msync.c).

Linux semantics: walk the VMAs of ``[start, end)``; for MS_SYNC, write back the
dirty page-cache pages of every shared file mapping in the range (what
``vfs_fsync_range`` does for that file range); MS_ASYNC does nothing more:
the dirty pages are already in the page cache where ``read()`` sees them, and
since Linux 2.6.19 MS_ASYNC starts no writeback either, so they wait for the
writeback daemon (:mod:`mmapsim.fs.writeback`);
MS_INVALIDATE fails with EBUSY over a locked VMA and otherwise does nothing
(the page cache is coherent).  Holes in the range are skipped but make the
call fail with ENOMEM at the end; with plain MS_ASYNC a leading hole fails at
once.
"""

from __future__ import annotations

import errno

from mmapsim.constants import MsFlag
from mmapsim.errors import syscall_error
from mmapsim.fs.inode import InodeKind
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.vma import VmFlag


def sync_range(mm: AddressSpace, start: int, end: int, flags: MsFlag) -> None:
    """Do msync's work on ``[start, end)`` (the VMA walk of ``SYSCALL_DEFINE3(msync)``).

    Raises OSError: ENOMEM for a hole (at once for plain MS_ASYNC, else after
    the walk), EBUSY for MS_INVALIDATE over a locked VMA.  Partial effect, as on
    Linux: the shared file mappings before the failing VMA are written back.

    Preconditions: ``start`` is page aligned and ``start < end``; ``flags`` holds
    no unknown bit and not both MS_ASYNC and MS_SYNC.
    """
    unmapped_error = 0
    vma = mm.vmas.find_from(start)
    while True:
        if vma is None:
            raise syscall_error(errno.ENOMEM)
        if start < vma.start:
            if flags == MsFlag.ASYNC:
                raise syscall_error(errno.ENOMEM)
            start = vma.start
            if start >= end:
                raise syscall_error(errno.ENOMEM)
            unmapped_error = errno.ENOMEM
        if flags & MsFlag.INVALIDATE and vma.flags & VmFlag.LOCKED:
            raise syscall_error(errno.EBUSY)
        first = vma.pgoff_of(start)
        last = vma.pgoff_of(min(end, vma.end) - 1)
        start = vma.end
        inode = vma.inode
        syncable = inode is not None and inode.kind is InodeKind.REGULAR
        if flags & MsFlag.SYNC and vma.shared and inode is not None and syncable:
            mm.pagecache.writeback(inode, first, last + 1, cause="msync")
        if start >= end:
            if unmapped_error:
                raise syscall_error(unmapped_error)
            return
        vma = mm.vmas.find_from(start)
