"""What ``/proc/<pid>/pagemap`` says of one virtual page.

Both machines answer ``Process.pagemap(va)`` with this class: the simulator from
its page table, HostMachine from the real kernel's pagemap file (8 bytes a page:
bits 0-54 frame number, 55 soft-dirty, 56 exclusively mapped, 61 file page or
shared anonymous, 62 swapped, 63 present; see the kernel's
Documentation/admin-guide/mm/pagemap.rst).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PM_PFN_MASK: Final = (1 << 55) - 1
PM_SOFT_DIRTY: Final = 1 << 55
PM_MMAP_EXCLUSIVE: Final = 1 << 56
PM_FILE: Final = 1 << 61
PM_SWAP: Final = 1 << 62
PM_PRESENT: Final = 1 << 63


@dataclass(frozen=True, slots=True)
class PageInfo:
    """One pagemap entry.

    ``present``: a frame is mapped at this page.  ``pfn``: that frame's number, or
    None when nothing is present; two processes share a frame exactly when their
    ``pfn`` are equal.  ``file_or_shared``: the frame is a page-cache page or shared
    anonymous memory.  ``exclusive``: this process alone maps the frame.
    """

    present: bool
    pfn: int | None
    file_or_shared: bool
    exclusive: bool

    @classmethod
    def decode(cls, entry: int) -> PageInfo:
        """The PageInfo of a raw 64-bit pagemap entry (the frame number unchecked)."""
        present = bool(entry & PM_PRESENT)
        return cls(
            present=present,
            pfn=entry & PM_PFN_MASK if present else None,
            file_or_shared=bool(entry & PM_FILE),
            exclusive=bool(entry & PM_MMAP_EXCLUSIVE),
        )
