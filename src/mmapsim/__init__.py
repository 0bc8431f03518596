"""mmapsim: the memory-mapping system of a Unix kernel, simulated page by page.

``Machine`` is the simulated computer; ``mmapsim.host.HostMachine`` runs the same
calls on the real Linux kernel.  Both implement the contract in API.md.
"""

from __future__ import annotations

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
)
from mmapsim.errors import ProcessKilled
from mmapsim.machine import Machine, Process

__all__ = [
    "MAP_ANONYMOUS",
    "MAP_FIXED",
    "MAP_FIXED_NOREPLACE",
    "MAP_LOCKED",
    "MAP_NORESERVE",
    "MAP_POPULATE",
    "MAP_PRIVATE",
    "MAP_SHARED",
    "MAP_SHARED_VALIDATE",
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
