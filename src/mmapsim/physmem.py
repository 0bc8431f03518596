"""Physical memory: page frames, their reference and map counts, the zero frame.

The machine's RAM is real memory of this process, taken from the host kernel in
2 MiB banks that are populated in one call; frame ``pfn`` is always the same
4 KiB of the same bank, so a frame costs no allocation of its own and no page
fault of the host when it is first written.

A frame is either *anonymous* (private memory of processes, made by a write
fault or a copy-on-write copy) or a *page-cache* frame that belongs to an inode
at a page offset.  The one *zero frame* backs every untouched anonymous page
that has only been read; it is never freed, never written, and (as on Linux)
never counted in a mapping's Rss.

Counts, as Linux keeps them:

- ``mapcount``: the page-table entries that map the frame, in every process;
- ``refcount``: ``mapcount`` plus one while the frame sits in a page cache.

A frame returns to the free list when its ``refcount`` drops to zero.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from typing import TYPE_CHECKING

from mmapsim.constants import PAGE_SIZE
from mmapsim.errors import KernelPanic

if TYPE_CHECKING:
    from mmapsim.fs.inode import Inode

ZERO_PFN = 0x1000
FIRST_PFN = ZERO_PFN + 1

#: Pages in one bank of RAM (2 MiB).
BANK_PAGES = 512
_BANK_SIZE = BANK_PAGES * PAGE_SIZE
_ZERO_PAGE = bytes(PAGE_SIZE)
_MADV_POPULATE_WRITE = 23  # Linux 5.14

#: Physical memory of a default machine: 2 GiB of 4 KiB frames.
DEFAULT_MEMORY = 2 * 1024**3


class OutOfMemory(Exception):
    """Every frame is in use (the kernel answers with ENOMEM or the OOM killer)."""


class Frame:
    """One physical page frame.

    Invariant: ``refcount == mapcount + (1 if in its inode's page cache else 0)``.
    """

    __slots__ = (
        "data",
        "dirty",
        "inode",
        "lazyfree",
        "mapcount",
        "pfn",
        "pgoff",
        "refcount",
        "referenced",
    )

    def __init__(self, pfn: int, data: memoryview | bytearray, maps: int = 0) -> None:
        self.pfn = pfn
        self.data = data
        self.mapcount = maps
        self.refcount = maps
        self.inode: Inode | None = None
        self.pgoff = 0
        self.dirty = False
        self.lazyfree = False  # anonymous and clean since MADV_FREE, until written again
        #: PG_referenced: get_user_pages (populate) marked the page accessed;
        #: smaps counts it in Referenced whatever the PTE's accessed bit says.
        self.referenced = False

    @property
    def is_anon(self) -> bool:
        """True for private anonymous memory (not page cache, not the zero frame)."""
        return self.inode is None and self.pfn != ZERO_PFN

    def __repr__(self) -> str:
        owner = "anon" if self.inode is None else f"ino {self.inode.ino} pgoff {self.pgoff}"
        return f"<Frame {self.pfn:#x} {owner} map={self.mapcount} ref={self.refcount}>"


class PhysicalMemory:
    """The frame allocator: a free list of frame numbers and the live frames."""

    __slots__ = ("_banks", "_free_pfns", "_next_pfn", "frames", "limit", "reclaim", "zero_frame")

    def __init__(self, memory: int = DEFAULT_MEMORY) -> None:
        self.limit = memory // PAGE_SIZE
        #: Called when memory runs out; frees what it can (the page cache's shrinker).
        self.reclaim: Callable[[], int] | None = None
        self.zero_frame = Frame(ZERO_PFN, bytearray(PAGE_SIZE))
        self.zero_frame.refcount = 1  # pinned forever
        self.frames: dict[int, Frame] = {}
        self._free_pfns: list[int] = []
        self._next_pfn = FIRST_PFN
        self._banks: list[memoryview] = []

    def alloc(self, data: bytes | bytearray | memoryview | None = None, maps: int = 0) -> Frame:
        """A new frame holding a copy of ``data`` (zero-filled when None).

        ``maps``: how many PTEs will map it at once (its map and reference counts).
        Raises OutOfMemory when every frame of the machine is in use.
        """
        if len(self.frames) >= self.limit and not (self.reclaim and self.reclaim()):
            raise OutOfMemory(f"all {self.limit} frames are in use")
        if self._free_pfns:
            pfn = self._free_pfns.pop()
            page = self._page(pfn)
            page[:] = _ZERO_PAGE if data is None else data
        else:
            pfn = self._next_pfn
            self._next_pfn = pfn + 1
            page = self._page(pfn)  # a fresh page of a bank: already zero
            if data is not None:
                page[:] = data
        frame = Frame(pfn, page, maps)
        self.frames[pfn] = frame
        return frame

    def _page(self, pfn: int) -> memoryview:
        """The 4 KiB of RAM that frame ``pfn`` is."""
        bank, slot = divmod(pfn - FIRST_PFN, BANK_PAGES)
        if bank == len(self._banks):
            self._banks.append(_new_bank())
        offset = slot * PAGE_SIZE
        return self._banks[bank][offset : offset + PAGE_SIZE]

    def get(self, frame: Frame) -> None:
        """Take one reference on ``frame``."""
        frame.refcount += 1

    def put(self, frame: Frame) -> bool:
        """Drop one reference; free the frame at zero.  Returns True if it was freed."""
        frame.refcount -= 1
        if frame.refcount > 0 or frame.pfn == ZERO_PFN:
            return False
        if frame.refcount < 0 or frame.mapcount:
            raise KernelPanic("physmem.put", f"{frame!r} freed while still referenced")
        del self.frames[frame.pfn]
        self._free_pfns.append(frame.pfn)
        return True

    @property
    def nr_used(self) -> int:
        """How many frames are in use (the zero frame excluded)."""
        return len(self.frames)


def _new_bank() -> memoryview:
    """2 MiB of zeroed host memory, populated at once (no host fault per page)."""
    try:
        bank = mmap.mmap(-1, _BANK_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except (AttributeError, OSError):  # no anonymous mmap here: plain memory
        return memoryview(bytearray(_BANK_SIZE))
    try:
        bank.madvise(mmap.MADV_NOHUGEPAGE)
        bank.madvise(_MADV_POPULATE_WRITE)
    except (AttributeError, OSError, ValueError):
        pass  # older kernels: pages fault in on first use instead
    return memoryview(bank)
