"""Physical memory: page frames, their reference and map counts, the zero frame.

The machine's RAM is real memory of this process, taken from the host kernel in
2 MiB banks that are populated in one call and kept, once a machine is closed
or gone, in a pool that the next machine takes from (each page zeroed when
it is first given out, unless a copy fills it), so a fault takes a frame
without asking the host for fresh memory.  Frame ``pfn`` is always the same 4 KiB of the same bank::

    bank = banks[pfn >> BANK_SHIFT]        offset = (pfn & BANK_MASK) << PAGE_SHIFT

``ZERO_PFN`` is bank aligned: ``banks`` starts with placeholders for the frame
numbers below it, and the zero frame is the first page of the first real bank;
it is never written.  A bank is an ``mmap`` object, which the CPU slices (a
load is one copy into ``bytes``, a store one slice assignment); ``views``
holds one memoryview per bank for the kernel's own copies.

A frame is a number, not an object: what the kernel knows of it lives in
lists indexed by ``pfn`` (``refcount``, ``mapcount``: small ints, which Python
shares; ``flags``: a bytearray), and for a file frame in two maps by ``pfn``
(``inode``, ``pgoff``), so a resident page costs no Python object of its own
and nothing the garbage collector walks.  A frame is either *anonymous*
(``PG_ANON``: private memory of processes, made by a write fault or a
copy-on-write copy) or a *page-cache* frame of an inode at a page offset
(``inode[pfn]``; ``PG_CACHE`` while the page cache holds it).  The one *zero
frame* backs every untouched anonymous page that has only been read; it is
never freed, never written, and (as on Linux) never counted in a mapping's
Rss nor in its own ``mapcount``.

Banks are not inherited by a fork of the host process (``MADV_DONTFORK``): a
machine made before ``os.fork()`` is not usable in the child, which starts an
empty pool of its own.

Counts, as Linux keeps them:

- ``mapcount``: the page-table entries that map the frame, in every process;
- ``refcount``: ``mapcount`` plus one while the frame sits in a page cache.

:meth:`PhysicalMemory.map` and :meth:`~PhysicalMemory.unmap` move both counts
together; a frame returns to the free list when its ``refcount`` drops to zero.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE
from mmapsim.errors import KernelPanic

if TYPE_CHECKING:
    from mmapsim.fs.inode import Inode

ZERO_PFN = 0x1000
FIRST_PFN = ZERO_PFN + 1

#: Pages in one bank of RAM (2 MiB), as a shift and a mask of ``pfn``.
BANK_PAGES = 512
BANK_SHIFT = 9
BANK_MASK = BANK_PAGES - 1
_BANK_SIZE = BANK_PAGES * PAGE_SIZE
_ZERO_PAGE = bytes(PAGE_SIZE)
_MADV_POPULATE_WRITE = 23  # Linux 5.14

#: Frame flags (``PhysicalMemory.flags[pfn]``), Linux's page flags of the same names.
PG_ANON = 0x01  # private anonymous memory (PageAnon)
PG_CACHE = 0x02  # in its inode's page cache (holds one reference)
PG_DIRTY = 0x04  # a page-cache page newer than the disk (PG_dirty)
PG_LAZYFREE = 0x08  # anonymous and clean since MADV_FREE, until written again
PG_REFERENCED = 0x10  # get_user_pages (populate) marked it accessed (PG_referenced)

#: Physical memory of a default machine: 2 GiB of 4 KiB frames.
DEFAULT_MEMORY = 2 * 1024**3

#: Populated banks that no machine uses now (the next machine takes them first),
#: and the process they belong to (a forked child does not inherit them).
_pool: list[mmap.mmap] = []
_pool_pid = os.getpid()
#: The most banks the pool keeps (512 MiB); a bank beyond goes back to the host.
POOL_BANKS = 256
#: The bank of frame numbers below ZERO_PFN (no frame), and of a bank given back.
_NO_BANK = mmap.mmap(-1, 1)
_NO_VIEW = memoryview(b"")
_FIRST_BANK = ZERO_PFN >> BANK_SHIFT
_NO_COUNTS = (0,) * BANK_PAGES


class OutOfMemory(Exception):
    """Every frame is in use (the kernel answers with ENOMEM or the OOM killer)."""


class PhysicalMemory:
    """The frame allocator: a free list of frame numbers and per-frame arrays.

    Invariant: ``refcount[pfn] == mapcount[pfn] + (1 if flags[pfn] & PG_CACHE)``
    for every live frame; a free frame has all three at zero.
    """

    __slots__ = (
        "__weakref__",
        "banks",
        "flags",
        "free_pfns",
        "inode",
        "limit",
        "mapcount",
        "next_pfn",
        "nr_used",
        "pgoff",
        "reclaim",
        "refcount",
        "unzeroed",
        "views",
    )

    def __init__(self, memory: int = DEFAULT_MEMORY) -> None:
        self.limit = memory // PAGE_SIZE
        #: Called when memory runs out; frees what it can (the page cache's shrinker).
        self.reclaim: Callable[[], int] | None = None
        #: The RAM, one 2 MiB bank per BANK_PAGES frame numbers, and a view of each.
        self.banks: list[mmap.mmap] = [_NO_BANK] * _FIRST_BANK
        #: By bank: True for a bank taken from the pool, whose fresh pages still
        #: hold a former machine's bytes (each is zeroed when first given out).
        self.unzeroed = bytearray(_FIRST_BANK)
        self.views: list[memoryview] = [_NO_VIEW] * _FIRST_BANK
        self.refcount = [0] * ZERO_PFN
        self.mapcount = [0] * ZERO_PFN
        self.flags = bytearray(ZERO_PFN)
        #: The inode and page offset of each file frame (anonymous ones have none).
        self.inode: dict[int, Inode] = {}
        self.pgoff: dict[int, int] = {}
        self.free_pfns: list[int] = []
        self.next_pfn = FIRST_PFN
        #: How many frames are in use (the zero frame excluded).
        self.nr_used = 0
        weakref.finalize(self, _give_back, self.banks, os.getpid())
        self._add_bank()
        self.page(ZERO_PFN)[:] = _ZERO_PAGE
        self.refcount[ZERO_PFN] = 1  # pinned forever

    def _add_bank(self) -> None:
        """One more bank of RAM and the array slots of its frames."""
        bank, zeroed = _take_bank()
        self.unzeroed.append(not zeroed)
        self.banks.append(bank)
        self.views.append(memoryview(bank))
        self.refcount.extend(_NO_COUNTS)
        self.mapcount.extend(_NO_COUNTS)
        self.flags.extend(bytes(BANK_PAGES))

    # -- allocation ---------------------------------------------------------

    def alloc(self, flags: int = 0, maps: int = 0, src: int = ZERO_PFN) -> int:
        """A new frame with ``flags`` holding a copy of frame ``src`` (zeros by
        default); returns its pfn.

        ``maps``: how many PTEs will map it at once (its map and reference counts).
        Raises OutOfMemory when every frame of the machine is in use.
        """
        if self.nr_used >= self.limit and not (self.reclaim and self.reclaim()):
            raise OutOfMemory(f"all {self.limit} frames are in use")
        if self.free_pfns:
            pfn = self.free_pfns.pop()
            fresh = False
        else:
            pfn = self.next_pfn
            self.next_pfn = pfn + 1
            if not pfn & BANK_MASK:
                self._add_bank()
            # a page never used since its bank was zeroed; a bank from the pool
            # is zeroed page by page, only where no copy fills the page anyway
            fresh = not self.unzeroed[pfn >> BANK_SHIFT]
        if src != ZERO_PFN or not fresh:
            views = self.views
            at = (pfn & BANK_MASK) << PAGE_SHIFT
            if src == ZERO_PFN:
                views[pfn >> BANK_SHIFT][at : at + PAGE_SIZE] = _ZERO_PAGE
            else:
                src_at = (src & BANK_MASK) << PAGE_SHIFT
                views[pfn >> BANK_SHIFT][at : at + PAGE_SIZE] = views[src >> BANK_SHIFT][
                    src_at : src_at + PAGE_SIZE
                ]
        self.nr_used += 1
        self.flags[pfn] = flags
        self.mapcount[pfn] = self.refcount[pfn] = maps
        return pfn

    def page(self, pfn: int) -> memoryview:
        """The 4 KiB of RAM that frame ``pfn`` is."""
        offset = (pfn & BANK_MASK) << PAGE_SHIFT
        return self.views[pfn >> BANK_SHIFT][offset : offset + PAGE_SIZE]

    # -- counts -------------------------------------------------------------

    def map(self, pfn: int) -> None:
        """A new PTE maps ``pfn``: one more map and reference (none for the zero frame)."""
        if pfn != ZERO_PFN:
            self.mapcount[pfn] += 1
            self.refcount[pfn] += 1

    def unmap(self, pfn: int) -> bool:
        """A PTE of ``pfn`` is gone: one map and reference fewer.  True if it was freed."""
        if pfn == ZERO_PFN:
            return False
        self.mapcount[pfn] -= 1
        left = self.refcount[pfn] - 1
        self.refcount[pfn] = left
        if left > 0:
            return False
        self._free(pfn)
        return True

    def map_many(self, pfns: Iterable[int]) -> None:
        """:meth:`map` each of ``pfns`` (fork's copy of a page table)."""
        mapcount, refcount = self.mapcount, self.refcount
        for pfn in pfns:
            if pfn != ZERO_PFN:
                mapcount[pfn] += 1
                refcount[pfn] += 1

    def map_ptes(self, ptes: Iterable[int]) -> None:
        """:meth:`map` the frame of each of the page-table entries ``ptes``
        (fork's copy of a page table; ``pte >> PAGE_SHIFT`` is its pfn)."""
        mapcount, refcount = self.mapcount, self.refcount
        for pte in ptes:
            pfn = pte >> PAGE_SHIFT
            if pfn != ZERO_PFN:
                mapcount[pfn] += 1
                refcount[pfn] += 1

    def unmap_many(self, pfns: Iterable[int]) -> None:
        """:meth:`unmap` each of ``pfns`` in order (zap_page_range with no one watching)."""
        mapcount, refcount = self.mapcount, self.refcount
        freed = []
        for pfn in pfns:
            if pfn != ZERO_PFN:
                mapcount[pfn] -= 1
                left = refcount[pfn] - 1
                refcount[pfn] = left
                if left <= 0:
                    freed.append(pfn)
        for pfn in freed:
            self._free(pfn)

    def get(self, pfn: int) -> None:
        """Take one reference on ``pfn`` (the page cache's)."""
        self.refcount[pfn] += 1

    def put(self, pfn: int) -> bool:
        """Drop one reference; free the frame at zero.  Returns True if it was freed."""
        left = self.refcount[pfn] - 1
        self.refcount[pfn] = left
        if left > 0 or pfn == ZERO_PFN:
            return False
        self._free(pfn)
        return True

    def _free(self, pfn: int) -> None:
        if self.refcount[pfn] or self.mapcount[pfn]:
            raise KernelPanic("physmem.put", f"{self.describe(pfn)} freed while still referenced")
        if not self.flags[pfn] & PG_ANON:
            self.inode.pop(pfn, None)
            self.pgoff.pop(pfn, None)
        self.flags[pfn] = 0
        self.free_pfns.append(pfn)
        self.nr_used -= 1

    def reusable(self, pfn: int) -> bool:
        """The COW-reuse test of do_wp_page: an anonymous frame that this one PTE
        alone maps and nothing else holds, so a store may write it in place."""
        return self.flags[pfn] & PG_ANON != 0 and self.mapcount[pfn] == 1 == self.refcount[pfn]

    # -- what a frame is ----------------------------------------------------

    def is_anon(self, pfn: int) -> bool:
        """True for private anonymous memory (not page cache, not the zero frame)."""
        return self.flags[pfn] & PG_ANON != 0

    def live_pfns(self) -> list[int]:
        """Every frame in use, lowest first (the zero frame excluded)."""
        refcount = self.refcount
        return [pfn for pfn in range(FIRST_PFN, self.next_pfn) if refcount[pfn]]

    def describe(self, pfn: int) -> str:
        """A frame for a message: ``<Frame 0x1001 anon map=1 ref=1>``."""
        inode = self.inode.get(pfn)
        owner = "anon" if inode is None else f"ino {inode.ino} pgoff {self.pgoff[pfn]}"
        return f"<Frame {pfn:#x} {owner} map={self.mapcount[pfn]} ref={self.refcount[pfn]}>"

    def release(self) -> None:
        """The machine is closed: every bank that holds no live frame goes back to
        the pool now (not when the garbage collector finds the machine), and no
        frame is allocated any more.  Live frames (the page cache's) stay readable."""
        self.limit = 0
        self.reclaim = None
        banks, refcount = self.banks, self.refcount
        for b in range(_FIRST_BANK, len(banks)):
            first = b << BANK_SHIFT
            if not any(refcount[first + (b == _FIRST_BANK) : first + BANK_PAGES]):
                _pool_bank(banks[b], os.getpid())
                banks[b] = _NO_BANK
                self.views[b] = _NO_VIEW


def _give_back(banks: list[mmap.mmap], pid: int) -> None:
    """A machine made by process ``pid`` is gone: its banks join the pool."""
    for bank in banks:
        if bank is not _NO_BANK:
            _pool_bank(bank, pid)
    banks.clear()


def _pool_bank(bank: mmap.mmap, pid: int) -> None:
    """Keep ``bank`` for the next machine, unless the pool is full or the bank
    was made before a fork of this process (it is not mapped here: MADV_DONTFORK)."""
    if pid == os.getpid() == _pool_pid and len(_pool) < POOL_BANKS:
        _pool.append(bank)


def _take_bank() -> tuple[mmap.mmap, bool]:
    """A bank, and whether it is zeroed: one from the pool (not zeroed: its pages
    are zeroed one by one as they are given out), else new host memory (zeroed)."""
    global _pool_pid
    if _pool_pid != os.getpid():  # a forked child: the pool's banks are not mapped here
        _pool.clear()
        _pool_pid = os.getpid()
    if _pool:
        bank = _pool.pop()
        # the host may have paged out an idle bank (proactive reclaim): one call
        # brings every page back, where 512 host faults would come one by one
        with contextlib.suppress(AttributeError, OSError, ValueError):
            bank.madvise(_MADV_POPULATE_WRITE)
        return bank, False
    return _new_bank(), True


def _new_bank() -> mmap.mmap:
    """2 MiB of zeroed host memory, populated at once (no host fault per page)."""
    try:
        bank = mmap.mmap(-1, _BANK_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except (AttributeError, OSError):  # no MAP_PRIVATE here: anonymous memory as the host has it
        return mmap.mmap(-1, _BANK_SIZE)
    try:
        bank.madvise(mmap.MADV_NOHUGEPAGE)
        # not copied by a fork of this process: the host's fork stays fast and this
        # process's later writes to the bank take no copy-on-write fault of the host
        bank.madvise(mmap.MADV_DONTFORK)
        bank.madvise(_MADV_POPULATE_WRITE)
    except (AttributeError, OSError, ValueError):
        pass  # older kernels: pages fault in on first use instead
    return bank
