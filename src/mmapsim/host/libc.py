"""The few C entry points HostMachine needs, through ctypes on the running libc.

mmap(2), munmap(2), mprotect(2) and msync(2) go through ``syscall(2)`` so that
the kernel, not a libc wrapper, sees the arguments and chooses the errno.
Failures raise ``OSError(errno, strerror)`` exactly as Python's ``os`` functions.
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

SYS_MMAP: Final = 9
SYS_MPROTECT: Final = 10
SYS_MUNMAP: Final = 11
SYS_MSYNC: Final = 26

PR_SET_PDEATHSIG: Final = 1
PR_GET_PDEATHSIG: Final = 2
PR_SET_DUMPABLE: Final = 4
PR_SET_CHILD_SUBREAPER: Final = 36
PTRACE_TRACEME: Final = 0

_U64: Final = 2**64

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long] * 7
_prctl = _libc.prctl
_prctl.restype = ctypes.c_int
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_read = _libc.read
_read.restype = ctypes.c_ssize_t
_read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
_pread = _libc.pread64
_pread.restype = ctypes.c_ssize_t
_pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long]
_scratch = ctypes.create_string_buffer(4096)
_ptrace = _libc.ptrace
_ptrace.restype = ctypes.c_long
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def _signed(value: int) -> int:
    """An unsigned 64-bit value as the signed C long that carries the same bits."""
    return value - _U64 if value >= 2**63 else value


def _raise_errno() -> None:
    code = ctypes.get_errno()
    raise OSError(code, os.strerror(code))


def _call(number: int, *args: int) -> int:
    padded = [_signed(a) for a in args] + [0] * (6 - len(args))
    result: int = _syscall(number, *padded)
    if result == -1:
        _raise_errno()
    return result % _U64


def mmap(addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    """mmap(2): the address of the new mapping."""
    return _call(SYS_MMAP, addr, length, prot, flags, fd, offset)


def munmap(addr: int, length: int) -> None:
    """munmap(2)."""
    _call(SYS_MUNMAP, addr, length)


def mprotect(addr: int, length: int, prot: int) -> None:
    """mprotect(2)."""
    _call(SYS_MPROTECT, addr, length, prot)


def msync(addr: int, length: int, flags: int) -> None:
    """msync(2)."""
    _call(SYS_MSYNC, addr, length, flags)


def prctl(option: int, arg: int) -> None:
    """prctl(2) with one argument (PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, ...)."""
    if _prctl(option, arg, 0, 0, 0) == -1:
        _raise_errno()


_unshare = _libc.unshare
_unshare.restype = ctypes.c_int
_unshare.argtypes = [ctypes.c_int]
_mount = _libc.mount
_mount.restype = ctypes.c_int
_mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]


def unshare(flags: int) -> None:
    """unshare(2): new namespaces for this process (CLONE_NEWIPC, CLONE_NEWNS, ...)."""
    if _unshare(flags) == -1:
        _raise_errno()


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    """mount(2)."""
    enc = [None if v is None else os.fsencode(v) for v in (source, target, fstype, data)]
    if _mount(enc[0], enc[1], enc[2], flags, enc[3]) == -1:
        _raise_errno()


def syscall(number: int, *args: int) -> int:
    """A raw system call; OSError on failure."""
    return _call(number, *args)


def get_pdeathsig() -> int:
    """prctl(PR_GET_PDEATHSIG): the signal this process gets when its parent ends (0: none)."""
    sig = ctypes.c_int(0)
    if _prctl(PR_GET_PDEATHSIG, ctypes.addressof(sig), 0, 0, 0) == -1:
        _raise_errno()
    return sig.value


def ptrace_traceme() -> None:
    """ptrace(PTRACE_TRACEME): stop with SIGTRAP right after a successful execve."""
    if _ptrace(PTRACE_TRACEME, 0, None, None) == -1:
        _raise_errno()


def refuse_read(fd: int, count: int, pos: int | None) -> None:
    """read(2) or pread(2) of ``count`` bytes that no user buffer can hold.

    Precondition: ``count`` reaches beyond the user address space, so the kernel
    fails (EBADF, ESPIPE, EINVAL, EFAULT, in its own order) before copying a byte.
    """
    if pos is None:
        result = _read(fd, _scratch, count)
    else:
        result = _pread(fd, _scratch, count, pos)
    if result == -1:
        _raise_errno()
    raise AssertionError(f"refuse_read: the kernel read {result} bytes of {count:#x}")
