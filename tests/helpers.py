"""Helpers shared by the semantic tests (they run on both machines).

Addresses differ between the simulator and the real kernel, and a real worker
process has many mappings of its own, so these helpers look only at the lines
of ``maps()``/``smaps()`` that cover the test's own addresses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mmapsim import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    O_CREAT,
    O_RDWR,
    PAGE_SIZE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)

PAGE = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
SHARED_ANON = MAP_SHARED | MAP_ANONYMOUS
#: The top of the 47-bit user address space of x86-64 (TASK_SIZE).
TASK_SIZE = 0x7FFFFFFFF000
#: Where the name starts in a line of /proc/<pid>/maps (column 74).
MAPS_NAME_INDEX = 73

_MAPS_RE = re.compile(
    r"^(?P<start>[0-9a-f]+)-(?P<end>[0-9a-f]+) (?P<perms>[r-][w-][x-][sp]) "
    r"(?P<offset>[0-9a-f]{8,}) (?P<dev>[0-9a-f]{2,}:[0-9a-f]{2,}) (?P<inode>\d+) "
    r"(?P<name>.*)$"
)


@dataclass(frozen=True)
class MapsLine:
    """One parsed line of /proc/<pid>/maps."""

    start: int
    end: int
    perms: str
    offset: int
    dev: str
    inode: int
    name: str
    raw: str


def parse_maps_line(line: str) -> MapsLine:
    """Parse one line of maps (without its newline); fails on a malformed line."""
    match = _MAPS_RE.match(line)
    assert match is not None, f"malformed maps line: {line!r}"
    name = line[MAPS_NAME_INDEX:] if len(line) > MAPS_NAME_INDEX else ""
    return MapsLine(
        start=int(match["start"], 16),
        end=int(match["end"], 16),
        perms=match["perms"],
        offset=int(match["offset"], 16),
        dev=match["dev"],
        inode=int(match["inode"]),
        name=name,
        raw=line,
    )


def all_maps(p: Any) -> list[MapsLine]:
    """Every line of the process's maps, parsed."""
    return [parse_maps_line(line) for line in p.maps().splitlines()]


def maps_in(p: Any, start: int, end: int) -> list[MapsLine]:
    """The maps lines that overlap ``[start, end)``, in address order."""
    return [m for m in all_maps(p) if m.end > start and m.start < end]


def vma_at(p: Any, addr: int) -> MapsLine | None:
    """The maps line that covers ``addr``, or None."""
    lines = maps_in(p, addr, addr + 1)
    return lines[0] if lines else None


def spans(p: Any, start: int, end: int) -> list[tuple[int, int, str]]:
    """(start, end, perms) of the mappings within ``[start, end)``, clipped to it."""
    return [(max(m.start, start), min(m.end, end), m.perms) for m in maps_in(p, start, end)]


def is_unmapped(p: Any, start: int, end: int) -> bool:
    """Whether no mapping covers any byte of ``[start, end)``."""
    return not maps_in(p, start, end)


def smaps_at(p: Any, addr: int) -> dict[str, int]:
    """The kB fields of the smaps entry of the VMA that starts at ``addr``."""
    fields: dict[str, int] = {}
    inside = False
    for line in p.smaps().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            inside = int(head.split("-")[0], 16) == addr
            continue
        if inside and line.endswith(" kB"):
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0])
    assert fields, f"no smaps entry starts at {addr:#x}"
    return fields


def free_range(p: Any, npages: int) -> int:
    """An address with ``npages`` free pages after it (mapped, then unmapped)."""
    addr = p.mmap(0, npages * PAGE, PROT_NONE, ANON)
    p.munmap(addr, npages * PAGE)
    return int(addr)


def guarded(p: Any, npages: int) -> int:
    """``npages`` free pages for MAP_FIXED, with a PROT_NONE guard page on each side.

    Anonymous mappings placed there cannot merge with the process's own
    neighbours (a real worker has many), so maps shows only the test's VMAs.
    The pages themselves are reserved PROT_NONE until a MAP_FIXED replaces them.
    """
    base = p.mmap(0, (npages + 2) * PAGE, PROT_NONE, ANON)
    return int(base) + PAGE


def fixed_anon(p: Any, addr: int, npages: int, prot: int = RW, flags: int = ANON) -> int:
    """An anonymous mapping exactly at ``addr``."""
    return int(p.mmap(addr, npages * PAGE, prot, flags | MAP_FIXED))


def new_file(m: Any, p: Any, path: str, data: bytes, flags: int = O_RDWR) -> int:
    """Create ``path`` with ``data`` and open it in ``p``; returns the fd."""
    m.write_file(path, data)
    return int(p.open(path, flags))


def sparse_file(p: Any, path: str, size: int) -> int:
    """A new file of ``size`` bytes that are all holes (never written); returns the fd.

    Its pages read as zeros and are clean, on a disk file system and on tmpfs.
    """
    fd = int(p.open(path, O_RDWR | O_CREAT))
    p.ftruncate(fd, size)
    return fd


def pattern(n: int, seed: int = 0) -> bytes:
    """``n`` bytes that differ from page to page and from byte to byte."""
    return bytes((i * 7 + i // PAGE * 13 + seed) % 251 for i in range(n))


def fill_to_map_count(p: Any, limit: int) -> None:
    """Add one-page shared anonymous mappings (they never merge) until ``p`` has ``limit``."""
    while len(p.maps().splitlines()) < limit:
        p.mmap(0, PAGE, RW, SHARED_ANON)
    assert len(p.maps().splitlines()) == limit
