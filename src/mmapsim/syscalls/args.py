"""Decoding at the edge: Python values to the C types of the system-call ABI.

API.md: addresses and lengths are C's unsigned 64-bit values, ``prot``,
``flags`` and ``fd`` are C ints, ``offset`` is a signed 64-bit ``off_t``.  An
int outside its C type raises ``OverflowError``; a value of the wrong Python
type raises ``TypeError``, never a signal.
"""

from __future__ import annotations

import os
from typing import Any

U64_MAX = 2**64 - 1


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return int(value)


def ulong(name: str, value: Any) -> int:
    """A C ``unsigned long`` (address, length)."""
    v = _int(name, value)
    if not 0 <= v <= U64_MAX:
        raise OverflowError(f"{name} {v} does not fit in an unsigned 64-bit value")
    return v


def address(name: str, value: Any) -> int:
    """An address; None means NULL."""
    return 0 if value is None else ulong(name, value)


def cint(name: str, value: Any) -> int:
    """A C ``int`` (prot, flags, fd, whence)."""
    v = _int(name, value)
    if not -(2**31) <= v < 2**31:
        raise OverflowError(f"{name} {v} does not fit in a C int")
    return v


def uint_flags(name: str, value: Any) -> int:
    """A C ``int`` of flag bits, as the kernel sees it (unsigned)."""
    return cint(name, value) & 0xFFFFFFFF


def off_t(name: str, value: Any) -> int:
    """A signed 64-bit ``off_t``."""
    v = _int(name, value)
    if not -(2**63) <= v < 2**63:
        raise OverflowError(f"{name} {v} does not fit in a 64-bit off_t")
    return v


def size(name: str, value: Any) -> int:
    """A ``size_t`` count of bytes."""
    return ulong(name, value)


def buffer(name: str, value: Any) -> bytes | bytearray | memoryview:
    """Bytes to write or store (a str is a TypeError, as in ``os.write``)."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes-like, not {type(value).__name__}")
    return value


def path(name: str, value: Any) -> str:
    """A path: str or bytes, as ``os`` functions accept."""
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str or bytes, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{name}: embedded null character")
    return value
