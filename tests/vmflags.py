"""Reading one VMA's smaps entry: its VmFlags mnemonics and its kB fields (both machines)."""

from __future__ import annotations

from typing import Any


def smaps_entry(p: Any, addr: int) -> tuple[set[str], dict[str, int]]:
    """The VmFlags and kB fields of the VMA that contains ``addr``."""
    inside = False
    flags: set[str] = set()
    fields: dict[str, int] = {}
    for line in p.smaps().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= addr < end
        elif inside and line.startswith("VmFlags:"):
            flags = set(line.split()[1:])
            return flags, fields
        elif inside and line.endswith(" kB"):
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0])
    raise AssertionError(f"no smaps entry holds {addr:#x}")


def vmflags(p: Any, addr: int) -> set[str]:
    """The VmFlags mnemonics of the VMA that contains ``addr``."""
    return smaps_entry(p, addr)[0]


def kb(p: Any, addr: int, field: str) -> int:
    """One kB field (``Rss``, ``Locked``, ...) of the VMA that contains ``addr``."""
    return smaps_entry(p, addr)[1][field]
