"""memfd_create(2): an anonymous tmpfs file, reachable only through descriptors.

The file is a shmem inode with no name (``nlink`` 0), opened O_RDWR; maps and
``/proc/<pid>/fd`` call it ``/memfd:NAME (deleted)``.  Its pages live in memory
only and are never written back.  Like any file it can be grown with
ftruncate, written, mapped shared or private, and passed on by fork.

Deviation: file seals (fcntl F_ADD_SEALS) do not exist here, so
MFD_ALLOW_SEALING is accepted and has no further effect.
"""

from __future__ import annotations

import errno
from typing import Final

from mmapsim.constants import (
    MFD_ALLOW_SEALING,
    MFD_CLOEXEC,
    MFD_EXEC,
    MFD_HUGETLB,
    MFD_NOEXEC_SEAL,
    OpenFlag,
)
from mmapsim.errors import syscall_error
from mmapsim.fs import open as fs_open
from mmapsim.fs.file import OpenFile
from mmapsim.kernel import Kernel, Task

#: NAME_MAX minus the length of "memfd:".
MFD_NAME_MAX_LEN: Final = 255 - 6
MFD_ALL_FLAGS: Final = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC
#: MFD_HUGETLB's page-size bits (MFD_HUGE_SHIFT 26, MFD_HUGE_MASK 0x3f).
MFD_HUGE_BITS: Final = 0x3F << 26


def sys_memfd_create(k: Kernel, task: Task, name: str, flags: int) -> int:
    """Implements memfd_create(2); returns the descriptor.

    EINVAL for unknown flags, for MFD_EXEC with MFD_NOEXEC_SEAL, and for a name
    longer than 249 bytes; EMFILE when no descriptor is free.  The mode is 0777
    (executable, as ``vm.memfd_noexec = 0`` makes it), or 0666 with
    MFD_NOEXEC_SEAL.

    Deviation: MFD_HUGETLB fails with ENOMEM (no huge page is reserved); Linux
    makes the file and fails only when a page is mapped.
    """
    if not flags & MFD_HUGETLB:
        if flags & ~MFD_ALL_FLAGS:
            raise syscall_error(errno.EINVAL)
    elif flags & ~(MFD_ALL_FLAGS | MFD_HUGE_BITS):
        raise syscall_error(errno.EINVAL)
    if flags & MFD_EXEC and flags & MFD_NOEXEC_SEAL:
        raise syscall_error(errno.EINVAL)
    if len(name.encode("utf-8", "surrogateescape")) > MFD_NAME_MAX_LEN:
        raise syscall_error(errno.EINVAL)
    if task.fds.lowest_free() is None:
        raise syscall_error(errno.EMFILE)
    if flags & MFD_HUGETLB:
        raise syscall_error(errno.ENOMEM)
    mode = 0o666 if flags & MFD_NOEXEC_SEAL else 0o777
    inode = fs_open.new_memfd(k.fs, name, mode)
    ofd = OpenFile(inode, OpenFlag.RDWR, inode.name)
    return k.install_fd(task, ofd, bool(flags & MFD_CLOEXEC))
