"""Decode Python arguments into the C values of the system calls (API.md "Values").

Both machines decode at the edge with these functions, before any system call
runs (the simulator) or anything is sent to a worker (HostMachine): addresses
and lengths are C's unsigned 64-bit values, ``prot``/``flags``/``fd`` C ints,
``offset`` a signed 64-bit ``off_t``.  A caller's type mistake is a
``TypeError`` and an int outside its C type an ``OverflowError``, never a signal.
"""

from __future__ import annotations

import os
from typing import Final

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
