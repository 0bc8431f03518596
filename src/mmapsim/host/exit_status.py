"""How the controller learns how a real process of a machine ended.

A process that dies cannot say how it died, and only its parent can reap it.
Nothing that a worker writes decides it: no worker holds a record of any other
process, nor a descriptor or a mapping through which it could write one.

- The wait status is the kernel's own: an ended process stays a zombie (no
  worker reaps on SIGCHLD, and the zygote reaps only when the controller asks
  it), and the controller reads the zombie's exit code, in waitpid(2)'s
  encoding, from field 52 of ``/proc/<pid>/stat``.
- The lowest faulting address of a load or store is the process's report of
  its *own* death: each worker maps one page of its own memfd (its *fault
  page*) shared with the controller alone, and writes into it the address it is
  about to touch before it touches each page.  A forked child unmaps its
  parent's fault page before it serves anything, and hands its new page to the
  controller over its own channel.
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Final

from mmapsim.constants import MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE
from mmapsim.host import libc

_WORD: Final = struct.Struct("<Q")


class FaultPage:
    """A worker's own fault page, mapped shared in the worker (see the module doc)."""

    __slots__ = ("addr", "word")

    def __init__(self, addr: int) -> None:
        self.addr = addr
        self.word = ctypes.c_uint64.from_address(addr)

    @classmethod
    def create(cls) -> tuple[FaultPage, int]:
        """A new zeroed fault page mapped here, and its memfd (for the controller)."""
        memfd = os.memfd_create("mmapsim-fault", os.MFD_CLOEXEC)
        os.ftruncate(memfd, PAGE_SIZE)
        return cls.attach(memfd), memfd

    @classmethod
    def attach(cls, memfd: int) -> FaultPage:
        """The fault page behind ``memfd``, mapped shared here through libc.

        Through libc rather than Python's mmap module, which would keep a
        duplicate of the memfd open in the worker.
        """
        return cls(libc.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0))

    def release(self) -> None:
        """Unmap this page (a forked child gives up its parent's)."""
        libc.munmap(self.addr, PAGE_SIZE)


def fault_va(memfd: int) -> int:
    """The last address that the process of fault page ``memfd`` was about to touch."""
    raw = os.pread(memfd, _WORD.size, 0)
    return int(_WORD.unpack(raw)[0]) if len(raw) == _WORD.size else 0


def ended(pid: int) -> tuple[bool, int | None, int]:
    """Whether ``pid`` has ended, its wait status if it is a zombie, and its parent.

    A pid without a /proc entry has ended and been reaped (status None, parent 0).
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return True, None, 0
    state, ppid = fields[0], int(fields[1])
    if state in (b"Z", b"X"):
        return True, int(fields[49]) if len(fields) > 49 else None, ppid
    return False, None, ppid
