"""``show``: the views a scenario can print (maps, smaps, page tables, files, variables)."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable

from mmapsim.constants import PAGE_SIZE
from mmapsim.contract import MachineAPI, ProcessAPI
from mmapsim.scenario.lang.bounds import MAX_ACCESS
from mmapsim.scenario.lang.values import Value, WrongValueError, format_bytes, format_value

MAX_PAGES = 64  # a page table shows at most this many pages
U64 = 1 << 64
_RANGE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ")


def mapping_at(maps: str, addr: int) -> tuple[int, int] | None:
    """The ``(start, end)`` of the line of ``maps`` that contains ``addr``."""
    for line in maps.splitlines():
        match = _RANGE.match(line)
        if match and int(match[1], 16) <= addr < int(match[2], 16):
            return int(match[1], 16), int(match[2], 16)
    return None


#: The counters ``show smaps A p`` prints for the mapping at ``p``.
SMAPS_FIELDS = (
    "Size",
    "Rss",
    "Pss",
    "Shared_Clean",
    "Shared_Dirty",
    "Private_Clean",
    "Private_Dirty",
    "Anonymous",
)


def smaps_at(smaps: str, addr: int) -> str:
    """The mapping line and main counters of the ``smaps`` entry containing ``addr``."""
    blocks: list[list[str]] = []
    for line in smaps.splitlines():
        if _RANGE.match(line):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    for block in blocks:
        if mapping_at(block[0], addr) is not None:
            fields = [line for line in block[1:] if line.split(":")[0] in SMAPS_FIELDS]
            return "\n".join([block[0], *fields])
    return f"(no mapping contains {addr:#x})"


def page_table(process: ProcessAPI, addr: int, length: int | None) -> str:
    """What the page table says of each page of ``[addr, addr + length)``.

    Without a length, the whole mapping that contains ``addr`` is shown.  The
    address and the length are C's ``void *`` and ``size_t`` (``-1`` is the
    last address), as in a call; the table stops at the end of the 64-bit space.
    Each page says what it is in its mapping's terms: a shared file page, a
    private file page not yet copied (the page cache's frame), a private copy, ...
    """
    addr %= U64
    start = addr - addr % PAGE_SIZE
    maps = process.maps()
    if length is None:
        found = mapping_at(maps, addr)
        if found is None:
            return f"(no mapping contains {addr:#x})"
        start, end = found
    else:
        end = min(addr + max(length % U64, 1), U64)
    count = (end - start + PAGE_SIZE - 1) // PAGE_SIZE
    shown = range(start, min(end, start + MAX_PAGES * PAGE_SIZE), PAGE_SIZE)
    lines = [_page_line(process, va, _mapping_kind(maps, va)) for va in shown]
    if count > MAX_PAGES:
        lines.append(f"... and {count - MAX_PAGES} more pages")
    return "\n".join(lines)


def _mapping_kind(maps: str, va: int) -> tuple[bool, bool] | None:
    """(shared, has a file) of the mapping containing ``va``, from its maps line."""
    for line in maps.splitlines():
        match = _RANGE.match(line)
        if match and int(match[1], 16) <= va < int(match[2], 16):
            fields = line.split(None, 5)
            path = fields[5].strip() if len(fields) > 5 else ""
            has_file = path.startswith("/") and not path.startswith("/dev/zero")
            return fields[1][3] == "s", has_file
    return None


def _page_line(process: ProcessAPI, va: int, kind: tuple[bool, bool] | None) -> str:
    info = process.pagemap(va)
    if not info.present:
        return f"{va:#x}  not present"
    frame = f"pfn {info.pfn:#x}" if info.pfn else "pfn hidden"
    owner = "this process only" if info.exclusive else "mapped by others too"
    return f"{va:#x}  present  {frame}  {_page_label(info.file_or_shared, kind)}, {owner}"


def _page_label(file_or_shared: bool, kind: tuple[bool, bool] | None) -> str:
    """What the page is: pagemap's file/shared bit read in its mapping's terms."""
    shared, has_file = kind if kind is not None else (False, False)
    if shared:
        return "shared file page (the page cache's)" if has_file else "shared anonymous page"
    if has_file and file_or_shared:
        return "private file page, not yet copied (the page cache's)"
    if has_file:
        return "private copy (copy-on-write made it)"
    return "shared anonymous page" if file_or_shared else "anonymous page"


def file_view(machine: MachineAPI, path: str) -> str:
    """A file's bytes as a string literal, and its size (not a device's: it never ends)."""
    try:
        data = read_whole_file(machine, path)
    except OSError as err:
        return f"{path}: {err.strerror}"
    except WrongValueError as err:
        return f"{path}: {err}"
    return f"{path} ({len(data)} bytes): {format_bytes(data)}"


def read_whole_file(
    machine: MachineAPI, path: str, read: Callable[[MachineAPI, str], bytes] | None = None
) -> bytes:
    """``machine.read_file(path)`` (or ``read(machine, path)``, such as the disk's
    bytes) for ``file()``, ``disk()`` and ``show file``, decided first.

    The file's type and size are asked for first (stat, on either kernel): a
    device, a pipe or a socket is refused (``/dev/zero`` never ends), and so is
    a file of more than MAX_ACCESS bytes (a sparse one too), each with a
    WrongValueError that names the limit.  OSError (ENOENT, EISDIR) passes.
    """
    st = machine.stat_file(path)
    kind = _KINDS.get(stat.S_IFMT(st.st_mode))
    if kind is not None:
        raise WrongValueError(f"{path} is {kind}, not a regular file: there is no end to read")
    if st.st_size > MAX_ACCESS:
        raise WrongValueError(
            f"{path} holds {st.st_size} bytes; a whole file is read only up to "
            f"{MAX_ACCESS} (read a part with pread)"
        )
    return machine.read_file(path) if read is None else read(machine, path)


_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a pipe",
    stat.S_IFSOCK: "a socket",
}


def variables_view(variables: dict[str, Value]) -> str:
    """Each variable of a process with its value."""
    if not variables:
        return "(no variables)"
    return "\n".join(f"{name} = {format_value(value)}" for name, value in variables.items())
