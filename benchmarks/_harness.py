"""What every benchmark shares: results, timing, and the real kernel through libc.

A benchmark measures one figure twice in the same run, on the simulator and on
the real kernel of this computer, and reports both with their ratio
(simulator / kernel) and whether the figure meets its target.

Time is the CPU time of this process (user + system, ``time.process_time``):
the kernel's work for a page fault or a system call is system time of the
process, and other work on a shared computer does not count against either
side.  Each side runs a few times on fresh state; the best run counts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PAGE_SIZE = 4096
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB


@dataclass(frozen=True)
class Result:
    """One figure of one benchmark, on both kernels."""

    name: str
    unit: str
    sim: float
    kernel: float
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        """simulator / kernel (for a rate, above 1 means the simulator is faster)."""
        return self.sim / self.kernel if self.kernel else float("inf")


def best_and_spread(values: Sequence[float]) -> tuple[float, str]:
    """The best (highest) of several rates, and a note of their spread.

    The best run is the least disturbed by whatever else the computer does;
    the spread says how noisy the measurement was.
    """
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return hi, f"{len(values)} runs, min {lo:,.0f} median {mid:,.0f} max {hi:,.0f}"


#: The clock of every benchmark: CPU seconds of this process, user + system.
now = time.process_time


def _fmt(value: float, unit: str) -> str:
    if unit == "B":
        return _fmt_bytes(value)
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def _fmt_bytes(n: float) -> str:
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def table(results: Sequence[Result]) -> str:
    """The results as a plain-text table."""
    head = ("benchmark", "simulator", "kernel", "sim/kernel", "target", "met")
    rows = [head]
    for r in results:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        rows.append(
            (r.name, _fmt(r.sim, r.unit), _fmt(r.kernel, r.unit), f"{r.ratio:.3g}", r.target, met)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


# -- the real kernel, in this process ------------------------------------------

PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_NORESERVE = 0x4000
MADV_NOHUGEPAGE = 15
MAP_FAILED = ctypes.c_void_p(-1).value


class Libc:
    """mmap(2), munmap(2) and madvise(2) of the C library, raising OSError."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._mmap = libc.mmap
        self._mmap.restype = ctypes.c_void_p
        self._mmap.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_long,
        ]
        self._munmap = libc.munmap
        self._munmap.restype = ctypes.c_int
        self._munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self._madvise = libc.madvise
        self._madvise.restype = ctypes.c_int
        self._madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

    @property
    def raw_mmap(self) -> Callable[..., int | None]:
        """The bare ctypes function (no error check), for tight loops."""
        return self._mmap

    @property
    def raw_munmap(self) -> Callable[[int | None, int], int]:
        return self._munmap

    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int = -1) -> int:
        va = self._mmap(addr, length, prot, flags, fd, 0)
        if va is None or va == MAP_FAILED:
            raise _errno_error("mmap")
        return int(va)

    def munmap(self, addr: int, length: int) -> None:
        if self._munmap(addr, length) != 0:
            raise _errno_error("munmap")

    def madvise(self, addr: int, length: int, advice: int) -> None:
        if self._madvise(addr, length, advice) != 0:
            raise _errno_error("madvise")


def _errno_error(call: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{call}: {os.strerror(err)}")


def self_maps_count() -> int:
    """How many VMAs this process has (lines of /proc/self/maps)."""
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def self_status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status (VmRSS, VmPTE, ...), in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)
