"""Helpers that read a process's /proc files as values: ``start``, ``perms``, ``smaps``.

They let a question or an expect name what ``show maps`` and ``show smaps``
print: ``start("[heap]")`` (where the heap begins), ``perms(p)`` (``"rw-s"``)
and ``smaps(p, "Rss")`` (a counter, in kB).  They read the same text on both
kernels, so they answer alike wherever Linux and the simulator agree.
"""

from __future__ import annotations

import re
from typing import Any

from mmapsim.contract import ProcessAPI
from mmapsim.scenario.lang.values import Addr, Value, WrongValueError

_LINE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$")


def _lines(process: ProcessAPI) -> list[tuple[int, int, str, str]]:
    found = []
    for line in process.maps().splitlines():
        match = _LINE.match(line)
        if match:
            found.append((int(match[1], 16), int(match[2], 16), match[3], match[4].strip()))
    return found


def start_of(process: ProcessAPI, name: bytes) -> Addr:
    """The lowest address of a mapping named ``name`` (a path, ``[heap]``, ...); NULL if none."""
    wanted = name.decode(errors="replace")
    starts = [start for start, _, _, path in _lines(process) if path == wanted]
    return Addr(min(starts) if starts else 0)


def perms_at(process: ProcessAPI, addr: int) -> bytes:
    """The permissions of the mapping containing ``addr`` (``b"r-xp"``), or ``b"----"``."""
    for start, end, perms, _ in _lines(process):
        if start <= addr < end:
            return perms.encode()
    return b"----"


def smaps_field(process: ProcessAPI, addr: int, field: bytes) -> int:
    """The counter ``field`` (kB) of the smaps entry containing ``addr``; 0 outside mappings."""
    name = field.decode(errors="replace")
    inside = seen = False
    for line in process.smaps().splitlines():
        match = _LINE.match(line)
        if match:
            if inside:
                break
            inside = seen = int(match[1], 16) <= addr < int(match[2], 16)
        elif inside and line.startswith(name + ":"):
            return int(line.split()[1])
    if seen:
        raise WrongValueError(f"smaps has no field '{name}' (Rss, Pss, Private_Dirty, ...)")
    return 0


def view(process: ProcessAPI, name: str, args: list[Any]) -> Value:
    """``start(path)``, ``perms(addr)``, ``smaps(addr, field)``: /proc read as values."""
    if name == "start":
        return start_of(process, str(args[0]).encode())
    if name == "perms":
        return perms_at(process, int(args[0]))
    return smaps_field(process, int(args[0]), str(args[1]).encode())
