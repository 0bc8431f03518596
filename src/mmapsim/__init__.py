"""mmapsim: the memory-mapping system of a Unix kernel, simulated page by page.

``Machine`` is the simulated computer; ``mmapsim.host.HostMachine`` runs the same
calls on the real Linux kernel.  Both implement the contract in API.md.

The constants are imported at once; ``Machine``, ``Process``, ``ProcessKilled``
and ``ShmInfo`` on first use (PEP 562), so that ``import mmapsim.cli`` does not
build the whole simulator before a command asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmapsim import lazy
from mmapsim.constants import (  # mremap, madvise, mlock: one block
    IPC_CREAT,
    IPC_EXCL,
    IPC_PRIVATE,
    IPC_RMID,
    IPC_SET,
    IPC_STAT,
    MADV_COLD,
    MADV_DODUMP,
    MADV_DOFORK,
    MADV_DONTDUMP,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_HUGEPAGE,
    MADV_KEEPONFORK,
    MADV_NOHUGEPAGE,
    MADV_NORMAL,
    MADV_PAGEOUT,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    MADV_WIPEONFORK,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MCL_CURRENT,
    MCL_FUTURE,
    MCL_ONFAULT,
    MFD_ALLOW_SEALING,
    MFD_CLOEXEC,
    MLOCK_ONFAULT,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    MS_ASYNC,
    MS_INVALIDATE,
    MS_SYNC,
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
    SHM_EXEC,
    SHM_RDONLY,
    SHM_REMAP,
    SHM_RND,
    SHMLBA,
    WNOHANG,
)

if TYPE_CHECKING:
    from mmapsim.errors import ProcessKilled
    from mmapsim.machine import Machine, Process
    from mmapsim.shminfo import ShmInfo

#: The public names imported on first use, and the module each comes from.
_LAZY = {
    "Machine": "mmapsim.machine",
    "Process": "mmapsim.machine",
    "ProcessKilled": "mmapsim.errors",
    "ShmInfo": "mmapsim.shminfo",
}


__getattr__, __dir__ = lazy.exports(__name__, _LAZY, globals())


__all__ = [
    "MADV_COLD",
    "MADV_DODUMP",
    "MADV_DOFORK",
    "MADV_DONTDUMP",
    "MADV_DONTFORK",
    "MADV_DONTNEED",
    "MADV_FREE",
    "MADV_HUGEPAGE",
    "MADV_KEEPONFORK",
    "MADV_NOHUGEPAGE",
    "MADV_NORMAL",
    "MADV_PAGEOUT",
    "MADV_POPULATE_READ",
    "MADV_POPULATE_WRITE",
    "MADV_RANDOM",
    "MADV_REMOVE",
    "MADV_SEQUENTIAL",
    "MADV_WILLNEED",
    "MADV_WIPEONFORK",
    "MAP_ANONYMOUS",
    "MAP_FIXED",
    "MAP_FIXED_NOREPLACE",
    "MAP_LOCKED",
    "MAP_NORESERVE",
    "MAP_POPULATE",
    "MAP_PRIVATE",
    "MAP_SHARED",
    "MAP_SHARED_VALIDATE",
    "MCL_CURRENT",
    "MCL_FUTURE",
    "MCL_ONFAULT",
    "MLOCK_ONFAULT",
    "MREMAP_DONTUNMAP",
    "MREMAP_FIXED",
    "MREMAP_MAYMOVE",
    "MS_ASYNC",
    "MS_INVALIDATE",
    "MS_SYNC",
    "O_APPEND",
    "O_CLOEXEC",
    "O_CREAT",
    "O_EXCL",
    "O_RDONLY",
    "O_RDWR",
    "O_TRUNC",
    "O_WRONLY",
    "PAGE_SIZE",
    "PROT_EXEC",
    "PROT_NONE",
    "PROT_READ",
    "PROT_WRITE",
    "SEEK_CUR",
    "SEEK_END",
    "SEEK_SET",
    "Machine",
    "Process",
    "ProcessKilled",
]
__all__ += [  # System V and POSIX shared memory, memfd, wait
    "IPC_CREAT",
    "IPC_EXCL",
    "IPC_PRIVATE",
    "IPC_RMID",
    "IPC_SET",
    "IPC_STAT",
    "MFD_ALLOW_SEALING",
    "MFD_CLOEXEC",
    "SHMLBA",
    "SHM_EXEC",
    "SHM_RDONLY",
    "SHM_REMAP",
    "SHM_RND",
    "WNOHANG",
    "ShmInfo",
]
