"""The numbers of Linux on x86-64, as <sys/mman.h> and <fcntl.h> define them.

Public names (``PROT_READ``, ``MAP_SHARED``, ...) are plain ints so that a value
printed by the simulator means the same on the real kernel.  Inside the kernel the
same values travel as the typed flags below (``Prot``, ``MapFlag``, ``MsFlag``,
``OpenFlag``): raw integers stop at the system-call layer.
"""

from __future__ import annotations

from enum import IntFlag
from typing import Final

PAGE_SHIFT: Final = 12
PAGE_SIZE: Final = 1 << PAGE_SHIFT
PAGE_MASK: Final = ~(PAGE_SIZE - 1)


class Prot(IntFlag):
    """``prot`` bits of mmap(2) and mprotect(2)."""

    NONE = 0
    READ = 0x1
    WRITE = 0x2
    EXEC = 0x4
    GROWSDOWN = 0x01000000
    GROWSUP = 0x02000000


class MapFlag(IntFlag):
    """``flags`` bits of mmap(2) (asm-generic/mman-common.h, x86 mman.h)."""

    SHARED = 0x01
    PRIVATE = 0x02
    SHARED_VALIDATE = 0x03
    DROPPABLE = 0x08
    TYPE = 0x0F
    FIXED = 0x10
    ANONYMOUS = 0x20
    BIT32 = 0x40
    GROWSDOWN = 0x0100
    DENYWRITE = 0x0800
    EXECUTABLE = 0x1000
    LOCKED = 0x2000
    NORESERVE = 0x4000
    POPULATE = 0x8000
    NONBLOCK = 0x10000
    STACK = 0x20000
    HUGETLB = 0x40000
    SYNC = 0x80000
    FIXED_NOREPLACE = 0x100000
    UNINITIALIZED = 0x4000000


class MsFlag(IntFlag):
    """``flags`` of msync(2)."""

    ASYNC = 1
    INVALIDATE = 2
    SYNC = 4


class OpenFlag(IntFlag):
    """``flags`` of open(2) on x86-64."""

    RDONLY = 0
    WRONLY = 0o1
    RDWR = 0o2
    ACCMODE = 0o3
    CREAT = 0o100
    EXCL = 0o200
    NOCTTY = 0o400
    TRUNC = 0o1000
    APPEND = 0o2000
    NONBLOCK = 0o4000
    DSYNC = 0o10000
    FASYNC = 0o20000
    DIRECT = 0o40000
    LARGEFILE = 0o100000
    DIRECTORY = 0o200000
    NOFOLLOW = 0o400000
    NOATIME = 0o1000000
    CLOEXEC = 0o2000000
    SYNC = 0o4010000  # __O_SYNC | O_DSYNC
    PATH = 0o10000000
    TMPFILE = 0o20200000  # __O_TMPFILE | O_DIRECTORY


PROT_NONE: Final = int(Prot.NONE)
PROT_READ: Final = int(Prot.READ)
PROT_WRITE: Final = int(Prot.WRITE)
PROT_EXEC: Final = int(Prot.EXEC)
PROT_GROWSDOWN: Final = int(Prot.GROWSDOWN)
PROT_GROWSUP: Final = int(Prot.GROWSUP)

MAP_SHARED: Final = int(MapFlag.SHARED)
MAP_PRIVATE: Final = int(MapFlag.PRIVATE)
MAP_SHARED_VALIDATE: Final = int(MapFlag.SHARED_VALIDATE)
MAP_DROPPABLE: Final = int(MapFlag.DROPPABLE)
MAP_TYPE: Final = int(MapFlag.TYPE)
MAP_FIXED: Final = int(MapFlag.FIXED)
MAP_ANONYMOUS: Final = int(MapFlag.ANONYMOUS)
MAP_ANON: Final = MAP_ANONYMOUS
MAP_32BIT: Final = int(MapFlag.BIT32)
MAP_GROWSDOWN: Final = int(MapFlag.GROWSDOWN)
MAP_DENYWRITE: Final = int(MapFlag.DENYWRITE)
MAP_EXECUTABLE: Final = int(MapFlag.EXECUTABLE)
MAP_LOCKED: Final = int(MapFlag.LOCKED)
MAP_NORESERVE: Final = int(MapFlag.NORESERVE)
MAP_POPULATE: Final = int(MapFlag.POPULATE)
MAP_NONBLOCK: Final = int(MapFlag.NONBLOCK)
MAP_STACK: Final = int(MapFlag.STACK)
MAP_HUGETLB: Final = int(MapFlag.HUGETLB)
MAP_SYNC: Final = int(MapFlag.SYNC)
MAP_FIXED_NOREPLACE: Final = int(MapFlag.FIXED_NOREPLACE)
MAP_UNINITIALIZED: Final = int(MapFlag.UNINITIALIZED)
MAP_FAILED: Final = 2**64 - 1

MS_ASYNC: Final = int(MsFlag.ASYNC)
MS_INVALIDATE: Final = int(MsFlag.INVALIDATE)
MS_SYNC: Final = int(MsFlag.SYNC)

O_RDONLY: Final = int(OpenFlag.RDONLY)
O_WRONLY: Final = int(OpenFlag.WRONLY)
O_RDWR: Final = int(OpenFlag.RDWR)
O_ACCMODE: Final = int(OpenFlag.ACCMODE)
O_CREAT: Final = int(OpenFlag.CREAT)
O_EXCL: Final = int(OpenFlag.EXCL)
O_NOCTTY: Final = int(OpenFlag.NOCTTY)
O_TRUNC: Final = int(OpenFlag.TRUNC)
O_APPEND: Final = int(OpenFlag.APPEND)
O_NONBLOCK: Final = int(OpenFlag.NONBLOCK)
O_DIRECTORY: Final = int(OpenFlag.DIRECTORY)
O_NOFOLLOW: Final = int(OpenFlag.NOFOLLOW)
O_CLOEXEC: Final = int(OpenFlag.CLOEXEC)

# -- mremap(2), madvise(2), mlock(2) and mlockall(2) -------------------------

MREMAP_MAYMOVE: Final = 1
MREMAP_FIXED: Final = 2
MREMAP_DONTUNMAP: Final = 4

MADV_NORMAL: Final = 0
MADV_RANDOM: Final = 1
MADV_SEQUENTIAL: Final = 2
MADV_WILLNEED: Final = 3
MADV_DONTNEED: Final = 4
MADV_FREE: Final = 8
MADV_REMOVE: Final = 9
MADV_DONTFORK: Final = 10
MADV_DOFORK: Final = 11
MADV_MERGEABLE: Final = 12
MADV_UNMERGEABLE: Final = 13
MADV_HUGEPAGE: Final = 14
MADV_NOHUGEPAGE: Final = 15
MADV_DONTDUMP: Final = 16
MADV_DODUMP: Final = 17
MADV_WIPEONFORK: Final = 18
MADV_KEEPONFORK: Final = 19
MADV_COLD: Final = 20
MADV_PAGEOUT: Final = 21
MADV_POPULATE_READ: Final = 22
MADV_POPULATE_WRITE: Final = 23
MADV_DONTNEED_LOCKED: Final = 24
MADV_COLLAPSE: Final = 25
MADV_HWPOISON: Final = 100
MADV_SOFT_OFFLINE: Final = 101
MADV_GUARD_INSTALL: Final = 102
MADV_GUARD_REMOVE: Final = 103

MCL_CURRENT: Final = 1
MCL_FUTURE: Final = 2
MCL_ONFAULT: Final = 4
MLOCK_ONFAULT: Final = 1

SEEK_SET: Final = 0
SEEK_CUR: Final = 1
SEEK_END: Final = 2

# -- System V and POSIX shared memory, memfd, wait (<sys/ipc.h>, <sys/shm.h>,
# <linux/memfd.h>, <sys/wait.h>) ---------------------------------------------
IPC_PRIVATE: Final = 0
IPC_CREAT: Final = 0o1000
IPC_EXCL: Final = 0o2000
IPC_NOWAIT: Final = 0o4000
IPC_RMID: Final = 0
IPC_SET: Final = 1
IPC_STAT: Final = 2
IPC_INFO: Final = 3
SHM_RDONLY: Final = 0o10000
SHM_RND: Final = 0o20000
SHM_REMAP: Final = 0o40000
SHM_EXEC: Final = 0o100000
SHM_HUGETLB: Final = 0o4000
SHM_NORESERVE: Final = 0o10000
SHM_DEST: Final = 0o1000
SHM_LOCKED: Final = 0o2000
SHM_LOCK: Final = 11
SHM_UNLOCK: Final = 12
SHMLBA: Final = PAGE_SIZE
MFD_CLOEXEC: Final = 0x0001
MFD_ALLOW_SEALING: Final = 0x0002
MFD_HUGETLB: Final = 0x0004
MFD_NOEXEC_SEAL: Final = 0x0008
MFD_EXEC: Final = 0x0010
WNOHANG: Final = 1
WUNTRACED: Final = 2
WCONTINUED: Final = 8
#: The C-name prefixes of this block, for C_CONSTANTS.
_IPC_PREFIXES: Final = frozenset(
    {"IPC", "SHM", "SHMLBA", "MFD", "WNOHANG", "WUNTRACED", "WCONTINUED"}
)

#: Every public constant by its C name, for scenario files and shells.
C_CONSTANTS: Final[dict[str, int]] = {
    name: value
    for name, value in dict(globals()).items()
    if name.isupper()
    and isinstance(value, int)
    and (
        name.split("_")[0] in {"PAGE", "PROT", "MAP", "MS", "O", "SEEK"}
        or name.split("_")[0] in _IPC_PREFIXES
        or name.split("_")[0] in {"MREMAP", "MADV", "MCL", "MLOCK"}
    )
}
