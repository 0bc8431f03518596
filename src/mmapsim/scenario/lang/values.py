"""Values of the scenario language: integers, addresses, bytes, and how they print.

A value is an ``int`` (an :class:`Addr` when it is an address, printed in hex),
``bytes`` (string literals are their UTF-8 bytes), a pair of ints (``pipe()``), a
:class:`Stat` (``fstat()``), or :data:`MAP_FAILED`.  Arguments are converted to C
types as a C compiler converts them (:func:`to_c`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmapsim import abi
from mmapsim.abi import CType
from mmapsim.scenario.lang.calls import Returns
from mmapsim.scenario.lang.ipc_values import ShmDs

U64 = 1 << 64
MAP_FAILED_VALUE = U64 - 1
_SHOWN_BYTES = 72


class Addr(int):
    """An address (a C pointer): arithmetic with ints keeps it an address."""

    def __add__(self, other: int) -> int:
        total = int(self) + int(other)
        return total if isinstance(other, Addr) else Addr(total)

    __radd__ = __add__

    def __sub__(self, other: int) -> int:
        diff = int(self) - int(other)
        return diff if isinstance(other, Addr) else Addr(diff)

    def __and__(self, other: int) -> int:
        return Addr(int(self) & int(other))

    def __or__(self, other: int) -> int:
        return Addr(int(self) | int(other))

    def __repr__(self) -> str:
        return format_value(self)


class Frame(int):
    """A physical frame number (``frame(p)``), printed in hex; -1 when none is mapped."""

    def __repr__(self) -> str:
        return format_value(self)


@dataclass(frozen=True, slots=True)
class Stat:
    """What ``fstat`` answers: the fields a scenario can read."""

    st_size: int
    st_mode: int
    st_mtime_ns: int
    st_ctime_ns: int

    @classmethod
    def of(cls, raw: Any) -> Stat:
        """Copy the fields out of a machine's stat object."""
        return cls(
            int(raw.st_size),
            int(getattr(raw, "st_mode", 0)),
            int(raw.st_mtime_ns),
            int(raw.st_ctime_ns),
        )


Value = int | bytes | tuple[int, ...] | Stat | ShmDs


class WrongValueError(Exception):
    """A value of the wrong kind for where it is used; the evaluator adds the column."""


def kind_of(value: Value) -> str:
    """How a message names the kind of ``value``."""
    if isinstance(value, Addr):
        return "an address"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, Stat):
        return "a struct stat"
    if isinstance(value, ShmDs):
        return "a struct shmid_ds"
    return "a pair"


def to_c(value: Value, ctype: CType) -> int | bytes | str:
    """Convert ``value`` to the C type of a parameter, wrapping as C does."""
    if ctype is abi.PATH:
        if not isinstance(value, bytes):
            raise WrongValueError(f"a path is a string, not {kind_of(value)}")
        path = value.decode("utf-8", "surrogateescape")
        problem = path_problem(path)
        if problem is not None:
            raise WrongValueError(problem)
        return path
    if ctype is abi.DATA:
        if isinstance(value, bytes):
            return value
        raise WrongValueError(f"data are bytes or a string, not {kind_of(value)}")
    number = as_int(value)
    if ctype in (abi.PTR, abi.SIZE):
        return number % U64
    # an off_t has 64 bits; every other type here (int, unsigned int, mode_t, key_t,
    # pid_t) has the 32 bits of an int, which the machine takes as the C int they are
    bits = 64 if ctype is abi.OFF else 32
    number &= (1 << bits) - 1
    return number - (1 << bits) if number >> (bits - 1) else number


def utf8(text: str) -> bytes:
    """A string literal's bytes: its UTF-8 form (a lone surrogate has none)."""
    try:
        return text.encode()
    except UnicodeEncodeError as err:
        bad = err.object[err.start]
        raise WrongValueError(
            f"a string cannot hold {bad!r} (a lone surrogate has no UTF-8 form); "
            "write bytes as \\xNN"
        ) from None


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a C string (a file name), or None when it can."""
    if "\0" in path:
        return "a path cannot hold a NUL (\\0): C's string would end there"
    try:
        path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as err:
        return f"a path cannot hold {err.object[err.start]!r}: it has no UTF-8 form"
    return None


def as_int(value: Value) -> int:
    """``value`` as an int: ints as they are, a one-byte value as its char code."""
    if isinstance(value, int):
        return value
    if isinstance(value, bytes) and len(value) == 1:
        return value[0]
    raise WrongValueError(f"a number is needed here, not {kind_of(value)}")


def equal(a: Value, b: Value) -> bool:
    """C-minded equality: a one-byte value equals its char code."""
    if isinstance(a, bytes) and isinstance(b, int):
        return len(a) == 1 and a[0] == b
    if isinstance(a, int) and isinstance(b, bytes):
        return equal(b, a)
    if isinstance(a, int) and isinstance(b, int):
        return int(a) == int(b)
    return a == b


def format_bytes(data: bytes) -> str:
    """Bytes as a C-like string literal, shortened when long."""
    if len(data) > _SHOWN_BYTES and data == data[:1] * len(data):
        return f"{_literal(data[:1])} * {len(data)}"
    if len(data) > _SHOWN_BYTES:
        return f"{_literal(data[:_SHOWN_BYTES])}… ({len(data)} bytes)"
    return _literal(data)


def _literal(data: bytes) -> str:
    out = []
    for byte in data:
        ch = chr(byte)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\0":
            out.append("\\0")
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'


def format_value(value: Value | None) -> str:
    """How a result prints: addresses in hex, bytes as strings, others as C would."""
    if value is None:
        return "0"
    if isinstance(value, Addr):
        return "MAP_FAILED" if value == MAP_FAILED_VALUE else f"{int(value):#x}"
    if isinstance(value, Frame):
        return "no frame" if value < 0 else f"pfn {int(value):#x}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return format_bytes(value)
    if isinstance(value, Stat):
        return f"{{st_size = {value.st_size}, st_mode = {value.st_mode:#o}}}"
    if isinstance(value, ShmDs):
        return value.shown()
    return "(" + ", ".join(format_value(v) for v in value) + ")"


def answer_value(returns: Returns, raw: Any) -> Value:
    """A call's answer as a scenario value."""
    if returns is Returns.ADDR:
        return Addr(raw)
    if returns is Returns.PAIR:
        return tuple(int(fd) for fd in raw)
    if returns is Returns.STAT:
        return Stat.of(raw)
    if raw is None:
        return 0
    return raw if isinstance(raw, bytes) else int(raw)
