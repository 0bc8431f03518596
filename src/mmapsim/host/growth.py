"""The pages a program's ``MAP_GROWSDOWN`` mappings grow into on the real kernel.

Part of the program's memory boundary (:mod:`mmapsim.host.boundary`): a load or
a store just below such a mapping makes Linux extend it (``expand_downwards``),
so the controller's record of the program's pages must grow with it.
"""

from __future__ import annotations

from typing import Final

from mmapsim.constants import PAGE_SIZE
from mmapsim.host.boundary import ProgramPages

_MASK: Final = PAGE_SIZE - 1
_U64: Final = 1 << 64


def adopt_growth(pid: int, pages: ProgramPages, addr: int, length: int) -> None:
    """Count as the program's the pages its ``MAP_GROWSDOWN`` mappings grew into.

    A load or a store just below such a mapping makes the kernel extend the
    mapping down over the access (``expand_downwards``), as it grows a stack;
    those pages are the program's.  A mapping grows only when its VmFlags say
    ``gd`` and its top page is already the program's, so a worker's own
    mapping (its ``[stack]`` is refused before the access) is never adopted.
    """
    start, end = addr & ~_MASK, (addr + length + _MASK) & ~_MASK
    if length == 0 or pages.first_gap(start, min(end, _U64)) is None:
        return
    for vma_start, vma_end in _growsdown_ranges(pid):
        if vma_start < end and vma_end > start and (vma_end - PAGE_SIZE) in pages:
            pages.add(vma_start, vma_end - vma_start)


def _growsdown_ranges(pid: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` of each VMA of ``pid`` whose smaps VmFlags hold ``gd``."""
    found: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    with open(f"/proc/{pid}/smaps", "rb") as smaps:
        for line in smaps:
            head = line.split(b" ", 1)[0]
            if b"-" in head and not head.endswith(b":"):
                low, high = head.split(b"-")
                current = int(low, 16), int(high, 16)
            elif head == b"VmFlags:" and current is not None and b" gd" in line:
                found.append(current)
    return found
