"""The worker's side of the second round's process calls: System V shared
memory, memfd, dup and waitpid, each one real system call.

:class:`IpcOps` is mixed into :class:`mmapsim.host.worker.Worker`.  The raw
system calls go through ``syscall(2)``, so the kernel sees the arguments and
chooses the errno.  The controller has checked the memory boundary before a
request arrives (see ``boundary``); descriptors are the program's view, in
which the worker's channel does not exist.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Final

from mmapsim.constants import IPC_SET, IPC_STAT, WNOHANG
from mmapsim.host.worker_memory import claimed

SYS_SHMGET: Final = 29
SYS_SHMAT: Final = 30
SYS_SHMCTL: Final = 31
SYS_DUP: Final = 32
SYS_DUP2: Final = 33
SYS_SHMDT: Final = 67
SHMID_DS_SIZE: Final = 112
#: The descriptor of the worker's channel (worker.CHANNEL_FD).
CHANNEL_FD: Final = 1023

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long] * 4
_U64: Final = 2**64
#: IPC_SET's new mode, uid and gid (None: as the segment has them).
_Patch = tuple[int, int | None, int | None]


def _sys(number: int, *args: int) -> int:
    """One raw system call; OSError with the kernel's errno when it fails."""
    padded = [a - _U64 if a >= 2**63 else a for a in args] + [0] * (3 - len(args))
    result = int(_syscall(number, *padded))
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result % _U64


def _visible(fd: int) -> int:
    """The program's view of a descriptor number: the channel is not open."""
    return -1 if fd == CHANNEL_FD else fd


class IpcOps:
    """shmget, shmat, shmdt, shmctl, memfd_create, dup, dup2, waitpid."""

    def op_shmget(self, key: int, size: int, shmflg: int) -> int:
        return _sys(SYS_SHMGET, key, size, shmflg)

    def op_shmat(self, shmid: int, addr: int, shmflg: int, *holes: tuple[int, int]) -> int:
        with claimed(holes):  # a fixed SHM_REMAP attach over holes (``worker_memory``)
            return _sys(SYS_SHMAT, shmid, addr, shmflg)

    def op_shmdt(self, addr: int) -> None:
        _sys(SYS_SHMDT, addr)

    def op_shmctl(self, shmid: int, cmd: int, patch: _Patch | None) -> bytes | None:
        """shmctl(2); IPC_STAT answers the raw shmid_ds, IPC_SET applies ``patch``.

        ``patch`` is (mode, uid, gid) (None: as the segment has them), or None for
        a NULL buffer, which the kernel answers with EFAULT.
        """
        buf = ctypes.create_string_buffer(SHMID_DS_SIZE)
        if cmd == IPC_SET:
            if patch is None:
                _sys(SYS_SHMCTL, shmid, cmd, 0)  # a NULL buffer: EFAULT, after the id's checks
                return None
            _sys(SYS_SHMCTL, shmid, IPC_STAT, ctypes.addressof(buf))
            mode, uid, gid = patch
            if uid is not None:
                ctypes.c_uint32.from_buffer(buf, 4).value = uid
            if gid is not None:
                ctypes.c_uint32.from_buffer(buf, 8).value = gid
            ctypes.c_uint16.from_buffer(buf, 20).value = mode & 0xFFFF
        _sys(SYS_SHMCTL, shmid, cmd, ctypes.addressof(buf))
        return buf.raw if cmd == IPC_STAT else None

    def op_memfd_create(self, name: str, flags: int) -> int:
        return os.memfd_create(name, flags)

    def op_dup(self, fd: int) -> int:
        return _sys(SYS_DUP, _visible(fd) % 2**32)

    def op_dup2(self, fd: int, fd2: int) -> int:
        """dup2(2); the worker's channel descriptor is not the program's to take."""
        if fd2 == CHANNEL_FD:
            raise OSError(errno.EBADF, "descriptor 1023 holds the host worker's channel")
        return _sys(SYS_DUP2, _visible(fd) % 2**32, fd2 % 2**32)

    def op_waitpid(self, pid: int, options: int) -> tuple[int, int]:
        """waitpid(2) that never blocks: EDEADLK where it would (the child cannot
        end while this process waits: one call runs at a time)."""
        got, status = os.waitpid(pid, options | WNOHANG)
        if got == 0 and not options & WNOHANG:
            raise OSError(
                errno.EDEADLK,
                "waitpid would block: a child runs only when a call is made in it",
            )
        return got, status
