"""The system-call ABI of both machines: each call's C prototype, written once.

:data:`PROTOTYPES` gives every system call of API.md its parameters, in C's
order, each with its C type (:class:`CType`).  Both machines decode at the edge
with :func:`decode`, before any system call runs (the simulator) or anything is
sent to a worker (HostMachine); the scenario language builds its calls from
the same table (:mod:`mmapsim.scenario.lang.calls`).

API.md "Values": addresses and lengths are C's unsigned 64-bit values,
``prot``/``flags``/``fd`` C ints, ``offset`` a signed 64-bit ``off_t``.  A
caller's type mistake is a ``TypeError``, an int outside its C type an
``OverflowError`` and a path with a NUL a ``ValueError``, never a signal.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

U64_MAX: Final = 2**64 - 1
INT_MIN: Final = -(2**31)
INT_MAX: Final = 2**31 - 1
OFF_MIN: Final = -(2**63)
OFF_MAX: Final = 2**63 - 1


def _as_int(name: str, value: object) -> int:
    """``value`` as a Python int; bools and floats are a TypeError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return int(value)


def _in_range(name: str, value: int, low: int, high: int, ctype: str) -> int:
    if not low <= value <= high:
        raise OverflowError(f"{name} {value} does not fit in a C {ctype}")
    return value


def u64(name: str, value: object) -> int:
    """A length or count: C ``size_t`` (0 .. 2**64-1)."""
    return _in_range(name, _as_int(name, value), 0, U64_MAX, "unsigned long")


def address(name: str, value: object) -> int:
    """An address: C ``void *`` as an unsigned 64-bit value; None is NULL."""
    if value is None:
        return 0
    return u64(name, value)


def cint(name: str, value: object) -> int:
    """A C ``int`` (``prot``, ``flags``, ``fd``, ``whence``, ``mode``, exit status)."""
    return _in_range(name, _as_int(name, value), INT_MIN, INT_MAX, "int")


def flags32(name: str, value: object) -> int:
    """A C ``int`` of flag bits, as the kernel reads it: the 32 bits, unsigned.

    Written signed (``~0``) or unsigned (``0x80000000``): both are the same bits.
    """
    return (
        _in_range(name, _as_int(name, value), INT_MIN, 0xFFFFFFFF, "int or unsigned int")
        & 0xFFFFFFFF
    )


def signed_int(bits: int) -> int:
    """The 32 bits of a C ``int`` (as :func:`flags32` gives them), signed, as ``os`` takes them."""
    return bits - ((bits & 0x80000000) << 1)


def off_t(name: str, value: object) -> int:
    """A file offset or length: C ``off_t`` (signed 64-bit)."""
    return _in_range(name, _as_int(name, value), OFF_MIN, OFF_MAX, "off_t")


def data(name: str, value: object) -> bytes:
    """Bytes to store or write: bytes, bytearray or memoryview (a str is a TypeError)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{name} must be bytes-like, not {type(value).__name__}")


def path(name: str, value: object) -> str:
    """A path: str or bytes, as ``os`` functions accept."""
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str or bytes, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{name}: embedded null character")
    os.fsencode(value)  # a lone surrogate has no bytes: UnicodeEncodeError, as os says
    return value


def argv(name: str, value: object) -> list[str]:
    """execve's ``char *const argv[]``: a sequence of strings (one str is not one)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence of str or bytes, not {type(value).__name__}")
    return [path(name, arg) for arg in value]


def _as_is(name: str, value: object) -> object:
    """A pointer to a structure that the call itself reads (shmctl's ``buf``)."""
    del name
    return value


@dataclass(frozen=True, slots=True, eq=False)
class CType:
    """A parameter type of the C ABI: how C spells it, and how a Python value becomes it."""

    spelling: str
    convert: Callable[[str, object], object]

    def __repr__(self) -> str:
        return f"CType({self.spelling!r}, {self.convert.__name__})"


PTR: Final = CType("void *", address)
SIZE: Final = CType("size_t", u64)
INT: Final = CType("int", cint)
#: An ``int`` of flag bits: Linux reads its 32 bits, so ``~0`` and ``0xffffffff`` are alike.
FLAGS: Final = CType("int", flags32)
#: An ``unsigned int`` of flag bits (mlock2's, memfd_create's): the same 32 bits.
UINT: Final = CType("unsigned int", flags32)
MODE: Final = CType("mode_t", cint)
KEY: Final = CType("key_t", cint)
PID: Final = CType("pid_t", cint)
OFF: Final = CType("off_t", off_t)
PATH: Final = CType("const char *", path)
DATA: Final = CType("const void *", data)
ARGV: Final = CType("char *const *", argv)
SHMID_DS: Final = CType("struct shmid_ds *", _as_is)

Prototype = tuple[tuple[str, CType], ...]

#: Every system call of API.md, as Linux's C prototype declares it (the
#: parameter names are API.md's Python names).  C library calls that are one
#: system call (shm_open, shm_unlink) are here too; ``exit`` is ``_exit(2)``.
PROTOTYPES: Final[Mapping[str, Prototype]] = {
    # files: <fcntl.h>, <unistd.h>, <sys/stat.h>
    "open": (("path", PATH), ("flags", FLAGS), ("mode", MODE)),
    "close": (("fd", INT),),
    "read": (("fd", INT), ("n", SIZE)),
    "write": (("fd", INT), ("data", DATA)),
    "pread": (("fd", INT), ("n", SIZE), ("offset", OFF)),
    "pwrite": (("fd", INT), ("data", DATA), ("offset", OFF)),
    "lseek": (("fd", INT), ("offset", OFF), ("whence", INT)),
    "ftruncate": (("fd", INT), ("length", OFF)),
    "fsync": (("fd", INT),),
    "unlink": (("path", PATH),),
    "chmod": (("path", PATH), ("mode", MODE)),
    "pipe": (),
    "fstat": (("fd", INT),),
    "dup": (("fd", INT),),
    "dup2": (("fd", INT), ("fd2", INT)),
    # memory: <sys/mman.h>
    "mmap": (
        ("addr", PTR),
        ("length", SIZE),
        ("prot", INT),
        ("flags", FLAGS),
        ("fd", INT),
        ("offset", OFF),
    ),
    "munmap": (("addr", PTR), ("length", SIZE)),
    "msync": (("addr", PTR), ("length", SIZE), ("flags", FLAGS)),
    # mmap's prot is a plain INT and mprotect's FLAGS, as both machines have always
    # read them: an unsigned 0x80000000 is OverflowError for one, EINVAL for the other
    "mprotect": (("addr", PTR), ("length", SIZE), ("prot", FLAGS)),
    "mremap": (
        ("old_addr", PTR),
        ("old_size", SIZE),
        ("new_size", SIZE),
        ("flags", FLAGS),
        ("new_addr", PTR),
    ),
    "madvise": (("addr", PTR), ("length", SIZE), ("advice", INT)),
    "mincore": (("addr", PTR), ("length", SIZE)),
    "mlock": (("addr", PTR), ("length", SIZE)),
    "mlock2": (("addr", PTR), ("length", SIZE), ("flags", UINT)),
    "munlock": (("addr", PTR), ("length", SIZE)),
    "mlockall": (("flags", FLAGS),),
    "munlockall": (),
    "brk": (("addr", PTR),),  # the simulator's only (SimOnlyProcess)
    # processes: <unistd.h>, <sys/wait.h>
    "fork": (),
    "execve": (("path", PATH), ("argv", ARGV)),
    "exit": (("status", INT),),
    "waitpid": (("pid", PID), ("options", INT)),
    # shared memory: <sys/shm.h>, <sys/mman.h>
    "shmget": (("key", KEY), ("size", SIZE), ("shmflg", INT)),
    "shmat": (("shmid", INT), ("addr", PTR), ("shmflg", INT)),
    "shmdt": (("addr", PTR),),
    "shmctl": (("shmid", INT), ("cmd", INT), ("buf", SHMID_DS)),
    "shm_open": (("name", PATH), ("flags", FLAGS), ("mode", MODE)),
    "shm_unlink": (("name", PATH),),
    "memfd_create": (("name", PATH), ("flags", UINT)),
}


def decode(call: str, *args: object) -> tuple[Any, ...]:
    """``args`` of system call ``call`` as the C values of its prototype, in order.

    Each argument is converted by its parameter's type, left to right, so the
    first wrong one raises (TypeError, OverflowError, ValueError).  Numbers come
    back as ints, paths as str, data as bytes.
    """
    params = PROTOTYPES[call]
    if len(args) != len(params):
        raise TypeError(f"{call} has {len(params)} parameters, not {len(args)}")
    pairs = zip(params, args, strict=True)
    return tuple(ctype.convert(name, value) for (name, ctype), value in pairs)
