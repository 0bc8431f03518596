"""What every benchmark shares: interleaved trials, results, tables, libc.

A benchmark measures one figure on the simulator and on the real kernel of
this computer in the same run, as ``TRIALS`` interleaved trials (simulator,
kernel, simulator, kernel, ...), so that a quiet or a busy moment of a shared
computer falls on both sides alike.  The figure is the median of each side's
trials; the note gives the range.

Time is the CPU time of this process (user + system, ``time.process_time``)
wherever the work happens in this process: the kernel's work for a page fault
or a system call is system time of the process.  Where the work spans
processes (fork, a HostMachine round trip, a command's start-up) it is wall
time (``time.perf_counter``).

The benchmarks use only the public API (API.md) and the simulator-only
``Machine`` calls (``sync``, ``disk_image``, ``boot``), so that they also run
over an older checkout of the code for a before/after comparison.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

PAGE_SIZE = 4096
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB

#: Trials per side of every timed figure.
TRIALS = 5

#: The clock of the work done in this process: CPU seconds, user + system.
cpu = time.process_time
#: The clock of work that spans processes.
wall = time.perf_counter


@dataclass(frozen=True)
class Result:
    """One figure on both kernels.

    ``ratio`` is simulator / kernel; for a rate (``higher`` True) above 1 means
    the simulator is faster, for a time or a size below 1 does.
    """

    name: str
    unit: str
    sim: float
    kernel: float
    target: str = ""
    met: bool | None = None
    note: str = ""
    higher: bool = True

    @property
    def ratio(self) -> float:
        return self.sim / self.kernel if self.kernel else float("inf")


T = TypeVar("T")


def interleaved(
    sim: Callable[[], T], kernel: Callable[[], T], trials: int = TRIALS
) -> tuple[list[T], list[T]]:
    """``trials`` values of each side, measured sim, kernel, sim, kernel, ..."""
    sims: list[T] = []
    kernels: list[T] = []
    for _ in range(trials):
        sims.append(sim())
        kernels.append(kernel())
    return sims, kernels


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(label: str, values: Sequence[float], unit: str) -> str:
    """``label`` n trials, min .. max (the range behind a median)."""
    return f"{label} {len(values)} trials {fmt(min(values), unit)} .. {fmt(max(values), unit)}"


def result(
    name: str,
    unit: str,
    sims: Sequence[float],
    kernels: Sequence[float],
    *,
    target: str = "",
    met: Callable[[float, float], bool] | None = None,
    note: str = "",
    higher: bool = True,
) -> Result:
    """The medians of both sides as one row; ``met(sim, kernel)`` decides the target."""
    s, k = median(sims), median(kernels)
    ranges = f"{spread('simulator', sims, unit)}; {spread('kernel', kernels, unit)}"
    return Result(
        name,
        unit,
        s,
        k,
        target=target,
        met=None if met is None else met(s, k),
        note=f"{note}; {ranges}" if note else ranges,
        higher=higher,
    )


# -- tables ---------------------------------------------------------------------


def fmt(value: float, unit: str) -> str:
    """``value`` with its unit, bytes in KiB/MiB, large numbers with separators."""
    if unit == "B":
        for name, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
            if abs(value) >= size:
                return f"{value / size:.2f} {name}"
        return f"{value:.0f} B"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


HEAD = ("figure", "simulator", "kernel", "ratio", "target", "met")


def rows(results: Sequence[Result]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for r in results:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        kernel = fmt(r.kernel, r.unit) if r.kernel else "-"
        ratio = f"{r.ratio:.3g}" if r.kernel else "-"
        out.append((r.name, fmt(r.sim, r.unit), kernel, ratio, r.target, met))
    return out


def table(results: Sequence[Result]) -> str:
    """The results as a plain-text table, the notes under it."""
    body = [HEAD, *rows(results)]
    widths = [max(len(row[i]) for row in body) for i in range(len(HEAD))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def markdown(results: Sequence[Result]) -> str:
    """The results as a Markdown table, the notes as a list under it."""
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    notes = [f"- {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


# -- the real kernel, in this process ------------------------------------------

PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_NORESERVE = 0x4000
MADV_NOHUGEPAGE = 15
MADV_POPULATE_WRITE = 23
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

    def present_anon(self, pages: int) -> int:
        """A private anonymous mapping of ``pages`` 4 KiB pages, every one present."""
        size = pages * PAGE_SIZE
        va = self.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        self.madvise(va, size, MADV_NOHUGEPAGE)
        self.madvise(va, size, MADV_POPULATE_WRITE)
        return va


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


def source_env() -> dict[str, str]:
    """The environment for a child Python that imports the same mmapsim as this one."""
    import mmapsim

    root = os.path.dirname(os.path.dirname(os.path.abspath(mmapsim.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env
