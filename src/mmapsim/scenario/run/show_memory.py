"""``show frame A p`` and ``show cache PATH``: what is in memory, in bytes.

``show frame`` names the physical frame behind an address (from pagemap), dumps
its bytes as hex and text, lists who maps it among the scenario's processes,
and reads back as integers the places the scenario used as ``.int``, ``.u64``
and the like.  ``show cache`` lists a file's pages: in the page cache or not,
dirty or clean, the cache's bytes beside the disk's.

Both work on either kernel through API.md, except what only the simulator can
say: the real kernel hides which page cache pages a file has (HostMachine counts
them with cachestat(2)) and the disk under a dirty page (see ``disk()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmapsim.constants import PAGE_SIZE
from mmapsim.contract import MachineAPI, read_disk
from mmapsim.errors import NotOnThisKernel
from mmapsim.scenario.lang.values import Addr, format_bytes
from mmapsim.scenario.run.evaluator import Scope
from mmapsim.scenario.run.show import mapping_at

_VIEW_NAMES = {(1, True): "char", (4, True): "int", (8, True): "long", (1, False): "u8"}
_VIEW_NAMES |= {(4, False): "u32", (8, False): "u64"}
MAX_SCAN = 64  # pages of one mapping searched for other mappers of a frame


def hexdump(data: bytes, base: int = 0) -> list[str]:
    """16 bytes a line, hex then text; runs of zero lines said in one line."""
    lines: list[str] = []
    zeros = 0
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        if not any(chunk):
            zeros += len(chunk)
            continue
        if zeros:
            lines.append(f"  ... {zeros} zero bytes")
            zeros = 0
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"  {base + offset:04x}  {hexes:<47}  |{text}|")
    if zeros:
        lines.append(f"  ... {zeros} zero bytes" if lines else f"  all {zeros} bytes are zero")
    return lines


def frame_view(scope: Scope, addr: int, scopes: Mapping[str, Scope]) -> str:
    """The frame behind ``addr`` in ``scope``'s process: bytes, mappers, integers."""
    process = scope.process
    page = addr - addr % PAGE_SIZE
    info = process.pagemap(addr)
    if not info.present:
        return f"{addr:#x}: no frame (not present: the next access faults a page in)"
    pfn = f"pfn {info.pfn:#x}" if info.pfn else "a frame (its number is hidden)"
    lines = [f"{pfn}, behind {scope.name}'s page {page:#x}"]
    perms = _perms(process.maps(), addr)
    if perms[0] == "r":
        data = process.load(page, PAGE_SIZE)
        lines += hexdump(data)
        lines += _typed_values(scope, page, data)
    else:
        lines.append("  (the page is not readable: PROT_NONE)")
    if info.pfn:
        mappers = _mappers(info.pfn, scopes)
        lines.append("mapped by: " + (", ".join(mappers) if mappers else scope.name))
    return "\n".join(lines)


def _perms(maps: str, addr: int) -> str:
    found = mapping_at(maps, addr)
    if found is None:
        return "----"
    for line in maps.splitlines():
        if line.startswith(f"{found[0]:x}-"):
            return line.split()[1]
    return "----"


def _typed_values(scope: Scope, page: int, data: bytes) -> list[str]:
    """The places of this page the scenario used as typed views, read as integers."""
    lines = []
    for where, (size, signed) in sorted(scope.views.items()):
        if page <= where and where + size <= page + PAGE_SIZE:
            raw = data[where - page : where - page + size]
            value = int.from_bytes(raw, "little", signed=signed)
            name = _VIEW_NAMES.get((size, signed), f"{size}-byte")
            lines.append(f"  {name} at +{where - page:#x}: {value}")
    return lines


def _mappers(pfn: int, scopes: Mapping[str, Scope]) -> list[str]:
    """Which processes map frame ``pfn`` where, searched near their address variables."""
    found = []
    for name, scope in scopes.items():
        if scope.ended is not None:
            continue
        process = scope.process
        maps = process.maps()
        places = set()
        for value in scope.variables.values():
            if not isinstance(value, Addr):
                continue
            span = mapping_at(maps, int(value))
            if span is None:
                continue
            for va in range(span[0], min(span[1], span[0] + MAX_SCAN * PAGE_SIZE), PAGE_SIZE):
                if process.pagemap(va).pfn == pfn:
                    places.add(va)
        found += [f"{name} at {va:#x}" for va in sorted(places)]
    return found


def cache_view(machine: MachineAPI, path: str) -> str:
    """``show cache PATH``: each page of the file, cached or not, dirty or clean, and the disk."""
    try:
        cached = machine.read_file(path)
    except OSError as err:
        return f"{path}: {err.strerror}"
    states = page_states(machine, path, len(cached))
    try:
        disk: bytes | None = read_disk(machine, path)
    except (NotOnThisKernel, OSError):
        disk = None
    pages = (len(cached) + PAGE_SIZE - 1) // PAGE_SIZE
    lines = [f"{path}: {len(cached)} bytes, {pages} page{'s' if pages != 1 else ''}"]
    for pgoff in range(min(pages, 16)):
        span = slice(pgoff * PAGE_SIZE, (pgoff + 1) * PAGE_SIZE)
        state = states.get(pgoff)
        if state is None:
            where = "?"
        else:
            where = ("dirty" if state[1] else "clean") if state[0] else "not cached"
        on_disk = format_bytes(disk[span]) if disk is not None else "(unknown: the page is dirty)"
        lines.append(f"  page {pgoff}  {where:<10}  cache: {format_bytes(cached[span])}")
        lines.append(f"  {'':<18}  disk:  {on_disk}")
    if pages > 16:
        lines.append(f"  ... and {pages - 16} more pages")
    return "\n".join(lines)


def page_states(machine: MachineAPI, path: str, size: int) -> dict[int, tuple[bool, bool]]:
    """(cached, dirty) of each page of ``path``: the simulator's inode, or the host's cachestat."""
    pages = (size + PAGE_SIZE - 1) // PAGE_SIZE
    kernel: Any = getattr(machine, "kernel", None)
    if kernel is not None:
        dirty = kernel.fs.lookup(path).dirty
        cache = kernel.fs.lookup(path).cache
        return {n: (n in cache, n in dirty) for n in range(pages)}
    method = getattr(machine, "page_cache_state", None)
    if method is None:
        return {}
    states: dict[int, tuple[bool, bool]] = method(path, min(pages, 16))
    return states
