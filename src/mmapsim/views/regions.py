"""The regions of an address space, read from ``/proc/<pid>/maps`` alone.

``show layout A`` and ``mmapsim layout`` draw a process's memory like the
lecture's figure "Location of Memory Mappings in Virtual Memory".  This module
finds the figure's regions in the text of ``maps``, so that it works the same on
the simulator and on the real kernel:

- the *program*: the file mapped highest below ``[heap]`` (without a heap, the
  lowest file mapped), its mappings named by role: ``text`` (executable),
  ``read-only data``, ``data`` (writable), and ``bss`` for an anonymous mapping
  that follows them;
- ``heap`` (``[heap]``) and ``stack`` (``[stack]``);
- ``memory mappings``: everything else, each named by its file, ``anonymous``
  or ``shared anonymous``;
- ``kernel``: a page above user space (``[vsyscall]``).

Bands are condensed so that a real process stays readable: adjacent mappings
of one file (or adjacent anonymous ones) become one band with a count, and a
run of adjacent shared libraries (with their own anonymous bss) becomes one
band that lists them.  The spaces between bands are :class:`Gap`\\ s, which the
drawing (:mod:`mmapsim.views.regions_draw`) marks with the arrows of the
figure: the stack and the mappings grow down, the heap grows up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from mmapsim.mm.memlayout import TASK_SIZE

STACK, MAPPINGS, HEAP, KERNEL = "stack", "memory mappings", "heap", "kernel"
BSS, DATA, RODATA, TEXT = "bss", "data", "read-only data", "text"
_PROGRAM_ROLES = (TEXT, RODATA, DATA, BSS)

_LINE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ (\d+)\s*(.*)$")
_LIBRARY = re.compile(r"\.so(\.[0-9.]+)?$")
_SHORT = re.compile(r"(\.cpython-[^.]*)?\.so(\.[0-9.]+)?$")
_KERNEL_LIBRARIES = ("[vdso]", "[vvar]", "[vvar_vclock]")
_SHARED_ANON = "/dev/zero (deleted)"


@dataclass(frozen=True, slots=True)
class MapsEntry:
    """One line of ``maps``: ``start-end perms offset dev inode name``."""

    start: int
    end: int
    perms: str
    inode: int
    name: str

    @property
    def anonymous(self) -> bool:
        """Private memory with no file behind it (maps shows no name)."""
        return not self.name


@dataclass(frozen=True, slots=True)
class Band:
    """One or more adjacent mappings drawn as one box: ``[start, end)``.

    ``perms`` is empty when the mappings differ; ``count`` is how many maps
    lines the band stands for.
    """

    start: int
    end: int
    role: str
    label: str
    perms: str
    count: int = 1
    detail: str = ""  # a second line: the libraries a band holds

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Gap:
    """Unmapped addresses ``[start, end)``, with what grows into them."""

    start: int
    end: int
    above: str = ""  # an arrow under the band above: "↓ the stack grows down"
    below: str = ""  # an arrow over the band below: "↑ the heap grows up"

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def user(self) -> bool:
        """Whether the gap lies in user space (not across the kernel's half)."""
        return self.end <= TASK_SIZE


Segment = Band | Gap


def parse_maps(text: str) -> list[MapsEntry]:
    """The lines of ``maps`` text, lowest address first (unreadable lines skipped)."""
    entries = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            start, end, perms, _offset, inode, name = match.groups()
            entries.append(MapsEntry(int(start, 16), int(end, 16), perms, int(inode), name))
    return sorted(entries, key=lambda entry: entry.start)


def entry_label(entry: MapsEntry) -> str:
    """What a box says of one mapping: its file, ``anonymous`` or ``shared anonymous``."""
    if entry.anonymous:
        return "anonymous" if entry.perms.endswith("p") else "shared anonymous"
    if entry.name == _SHARED_ANON:
        return "shared anonymous"
    return entry.name


def _program(entries: list[MapsEntry]) -> list[MapsEntry]:
    """The program's own mappings (text, data, ...) and the bss after them."""
    heap = next((e for e in entries if e.name == "[heap]"), None)
    files = [e for e in entries if e.name.startswith("/") and e.name != _SHARED_ANON]
    if heap is not None:
        files = [e for e in files if e.end <= heap.start]
        name = files[-1].name if files else None
    else:
        name = files[0].name if files else None
    run: list[MapsEntry] = []
    for entry in entries:
        if heap is not None and entry.end > heap.start:
            break
        if entry.name == name and (not run or entry.start == run[-1].end or heap is not None):
            run.append(entry)
    bss = [e for e in entries if run and e.anonymous and e.start == run[-1].end]
    if bss and (heap is None or bss[0].end <= heap.start):
        run.append(bss[0])
    return run


def classify(entries: list[MapsEntry]) -> list[Band]:
    """One band per maps line, each with its role in the lecture's figure."""
    program = set(_program(entries))
    has_bss = any(e.anonymous for e in program)
    bands = []
    for entry in entries:
        role = _role(entry, entry in program, has_bss)
        bands.append(Band(entry.start, entry.end, role, entry_label(entry), entry.perms))
    return bands


def _role(entry: MapsEntry, in_program: bool, has_bss: bool) -> str:
    if entry.name == "[stack]":
        return STACK
    if entry.name == "[heap]":
        return HEAP
    if entry.start >= TASK_SIZE:
        return KERNEL
    if not in_program:
        return MAPPINGS
    if entry.anonymous:
        return BSS
    if "x" in entry.perms:
        return TEXT
    if "w" in entry.perms:
        return DATA if has_bss else f"{DATA}, {BSS}"
    return RODATA


def merge_same(bands: Iterable[Band]) -> list[Band]:
    """Adjacent bands of one role and one label become one band with a count."""
    merged: list[Band] = []
    for band in bands:
        last = merged[-1] if merged else None
        if last is not None and _same_kind(last, band) and last.end == band.start:
            perms = last.perms if last.perms == band.perms else ""
            merged[-1] = replace(last, end=band.end, perms=perms, count=last.count + band.count)
        else:
            merged.append(band)
    return merged


def _same_kind(one: Band, other: Band) -> bool:
    return (one.role, one.label) == (other.role, other.label)


def is_library(label: str) -> bool:
    """Whether a band is a shared library (or the kernel's vDSO)."""
    return label in _KERNEL_LIBRARIES or bool(_LIBRARY.search(label))


def short_name(label: str) -> str:
    """A library's short name: ``libc`` for ``/usr/lib/.../libc.so.6``."""
    if label in _KERNEL_LIBRARIES:
        return label
    return _SHORT.sub("", PurePosixPath(label).name)


def merge_libraries(bands: list[Band]) -> list[Band]:
    """Runs of adjacent shared libraries (and their bss) become one band that names them."""
    out: list[Band] = []
    run: list[Band] = []
    for band in [*bands, None]:
        if band is not None and _continues_library_run(run, band):
            run.append(band)
            continue
        out.extend(_library_band(run))
        run = []
        if band is not None and band.role == MAPPINGS and is_library(band.label):
            run = [band]
        elif band is not None:
            out.append(band)
    return out


def _continues_library_run(run: list[Band], band: Band) -> bool:
    if not run or band.role != MAPPINGS or band.start != run[-1].end:
        return False
    if is_library(band.label):
        return True
    return band.label == "anonymous" and is_library(run[-1].label)


def _library_band(run: list[Band]) -> list[Band]:
    """One band for a run of two or more libraries; the run unchanged otherwise."""
    names = list(dict.fromkeys(short_name(b.label) for b in run if is_library(b.label)))
    if len(names) < 2:
        return run
    count = sum(b.count for b in run)
    label = f"{len(names)} shared libraries"
    return [Band(run[0].start, run[-1].end, MAPPINGS, label, "", count, ", ".join(names))]


def segments(bands: list[Band]) -> list[Segment]:
    """Bands and the gaps between them (and down to address 0), highest first."""
    found: list[Segment] = []
    previous_end = 0
    below: Band | None = None
    for band in bands:
        if band.start > previous_end:
            found.append(_gap(previous_end, band.start, below, band))
        found.append(band)
        previous_end, below = band.end, band
    return found[::-1]


def _gap(start: int, end: int, below: Band | None, above: Band) -> Gap:
    """A gap, with an arrow for each region that grows into it."""
    down = ""
    if above.role == STACK:
        down = "↓ the stack grows down"
    elif above.role == MAPPINGS and below is not None and below.role != MAPPINGS:
        down = "↓ the mappings grow down"
    up = "↑ the heap grows up" if below is not None and below.role == HEAP else ""
    return Gap(start, end, down, up)


def layout_of(maps: str) -> list[Segment]:
    """The condensed bands and gaps of ``maps`` text, highest address first."""
    bands = merge_libraries(merge_same(classify(parse_maps(maps))))
    return segments(bands)
