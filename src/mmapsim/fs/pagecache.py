"""The page cache: per-inode frames over the disk image, dirty state, writeback.

Linux semantics modelled here:

- A cache miss reads the page from disk into a new frame (a *major* fault when a
  mapping caused it).  Bytes of the last page beyond end of file read as zeros.
- ``write()`` and a store through a shared mapping change the cached frame and
  mark it dirty; the disk changes only at writeback (``fsync``,
  ``msync(MS_SYNC)``, ``sync``, the writeback daemon of
  :mod:`mmapsim.fs.writeback`, reclaim), which also write-protects every
  mapping of the page (``page_mkclean``), so the next store faults and dirties
  it again.  The first dirty page of a clean inode stamps ``dirtied_ns``.
- ``read()`` of a hole that is not cached gives zeros without caching a page
  (deviation: Linux caches a zeroed page), so reading a huge sparse file costs
  no memory for its holes.
- Each page of a file on the disk holds a block from the moment it is dirtied
  (:mod:`mmapsim.fs.diskspace`): a write that finds the disk full stops at the
  page it cannot reserve, and fails with ENOSPC when that is its first page.
- Truncation removes the cached pages beyond the new end of file and every
  page-table entry that maps them, copy-on-write copies included
  (``unmap_mapping_range`` with ``even_cows``), and zeroes the tail of the last
  page, so a later access there gives SIGBUS or zeros, never stale data.

The page cache does not know about address spaces (that layer is above it): the
kernel installs ``mkclean`` and ``unmap_range`` hooks that reach the page tables.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from mmapsim.clock import Clock
from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE
from mmapsim.errors import syscall_error
from mmapsim.events import EventBus, PageCacheRead, PageDirtied, Writeback
from mmapsim.fs.diskspace import DiskSpace
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.physmem import PG_CACHE, PG_DIRTY, PhysicalMemory


def _no_mkclean(physmem: PhysicalMemory, pfn: int) -> None:
    return None


def _no_unmap(inode: Inode, first_pgoff: int) -> None:
    return None


def _no_note(inode: Inode) -> None:
    return None


class PageCache:
    """The machine's page cache: all inodes' cached frames share one allocator."""

    __slots__ = (
        "bus",
        "clock",
        "disk_dev",
        "mkclean",
        "on_first_dirty",
        "physmem",
        "space",
        "unmap_range",
    )

    def __init__(
        self,
        physmem: PhysicalMemory,
        bus: EventBus,
        clock: Clock,
        space: DiskSpace | None = None,
        disk_dev: int = -1,
    ) -> None:
        self.physmem = physmem
        self.bus = bus
        self.clock = clock
        self.space = space or DiskSpace()
        self.disk_dev = disk_dev  # files on this device take blocks of ``space``
        self.mkclean: Callable[[PhysicalMemory, int], None] = _no_mkclean
        self.unmap_range: Callable[[Inode, int], None] = _no_unmap
        #: Called when an inode gets its first dirty page (the writeback daemon listens).
        self.on_first_dirty: Callable[[Inode], None] = _no_note

    # -- lookup -------------------------------------------------------------

    def find_or_read(self, inode: Inode, pgoff: int) -> tuple[int, bool]:
        """The cached frame of ``inode`` at ``pgoff``, read from disk on a miss
        straight into a new frame (a hole stays the frame's zeros).

        Returns ``(pfn, major)``; ``major`` is True when the disk was read.
        """
        pfn = inode.cache.get(pgoff)
        if pfn is not None:
            return pfn, False
        physmem = self.physmem
        pfn = physmem.alloc(PG_CACHE, 0)
        physmem.get(pfn)  # the page cache's reference
        physmem.inode[pfn] = inode
        physmem.pgoff[pfn] = pgoff
        on_disk = inode.disk.pages.get(pgoff)
        if on_disk is not None:
            physmem.page(pfn)[:] = on_disk
        inode.cache[pgoff] = pfn
        if self.bus.active:
            self.bus.emit(PageCacheRead(inode.name, pgoff, pfn))
        return pfn, True

    # -- blocks -------------------------------------------------------------

    def _takes_blocks(self, inode: Inode) -> bool:
        return inode.kind is InodeKind.REGULAR and inode.dev == self.disk_dev

    def has_block(self, inode: Inode, pgoff: int) -> bool:
        """Whether page ``pgoff`` can be dirtied without a new block."""
        disk = inode.disk
        return not self._takes_blocks(inode) or pgoff in disk.blocks or not disk.is_hole(pgoff)

    def reserve(self, inode: Inode, pgoff: int) -> bool:
        """ext4_da_reserve_space: a block for page ``pgoff``; False when the disk is full."""
        if self.has_block(inode, pgoff):
            return True
        if not self.space.free:
            return False
        inode.disk.blocks.add(pgoff)
        self.space.take()
        return True

    def _unreserve(self, inode: Inode, pgoff: int) -> None:
        """A dirty page that never reached the disk is gone: its block is free."""
        if pgoff in inode.disk.blocks and inode.disk.is_hole(pgoff):
            inode.disk.blocks.discard(pgoff)
            self.space.give_back(1)

    def _writable_length(self, inode: Inode, offset: int, length: int) -> int:
        """How many bytes of a write at ``offset`` find a block for their page."""
        if not self._takes_blocks(inode):
            return length
        end = offset + length
        first, last = offset >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT
        free = self.space.free
        if last - first + 1 <= free:
            return length
        for pgoff in range(first, last + 1):
            if not self.has_block(inode, pgoff):
                if not free:
                    return max(pgoff << PAGE_SHIFT, offset) - offset
                free -= 1
        return length

    def set_dirty(self, pfn: int) -> None:
        """Mark a cached frame dirty (newer than the disk); its page takes a block."""
        physmem = self.physmem
        if physmem.flags[pfn] & PG_DIRTY:
            return
        inode = physmem.inode[pfn]
        pgoff = physmem.pgoff[pfn]
        if not self.reserve(inode, pgoff):  # a caller that did not check first
            inode.disk.blocks.add(pgoff)
            self.space.take()
        physmem.flags[pfn] |= PG_DIRTY
        first = not inode.dirty
        if first:
            inode.dirtied_ns = self.clock.uptime_ns
        inode.dirty.add(pgoff)
        if first:
            self.on_first_dirty(inode)
        if self.bus.active:
            self.bus.emit(PageDirtied(inode.name, pgoff, pfn))

    # -- read and write -------------------------------------------------------

    def read(self, inode: Inode, offset: int, count: int) -> bytes:
        """Up to ``count`` bytes at ``offset``, as read(2) sees them (stops at EOF).

        An uncached hole reads as zeros and stays uncached, and a run of holes
        is one ``bytes(n)`` (lazily zeroed memory of the host), so a read of a
        sparse file costs time and memory for its data pages only.
        """
        end = min(offset + count, inode.size)
        if end <= offset:
            return b""
        first, last = offset >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT
        chunks: list[bytes] = []
        pos = offset
        for pgoff in self._data_pages(inode, first, last):
            start = max(pgoff << PAGE_SHIFT, offset)
            if start > pos:
                chunks.append(bytes(start - pos))  # a run of holes
            pfn, _ = self.find_or_read(inode, pgoff)
            in_page = start & (PAGE_SIZE - 1)
            n = min(PAGE_SIZE - in_page, end - start)
            chunks.append(bytes(self.physmem.page(pfn)[in_page : in_page + n]))
            pos = start + n
        if pos < end:
            chunks.append(bytes(end - pos))
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    def _data_pages(inode: Inode, first: int, last: int) -> list[int]:
        """The pages of ``[first, last]`` cached or on disk (not holes), in order."""
        if last - first < 64:
            pages = range(first, last + 1)
            return [p for p in pages if p in inode.cache or not inode.disk.is_hole(p)]
        found = {p for p in inode.cache if first <= p <= last}
        found.update(p for p in inode.disk.pages if first <= p <= last)
        return sorted(found)

    def write(self, inode: Inode, offset: int, data: bytes) -> int:
        """Write ``data`` at ``offset`` through the cache, as write(2) does.

        Returns the bytes written: fewer than ``len(data)`` when the disk filled
        up on the way; ENOSPC when not one byte found a block.
        """
        if not data:
            return 0
        allowed = self._writable_length(inode, offset, len(data))
        if not allowed:
            raise syscall_error(errno.ENOSPC)
        data = data[:allowed]
        end = offset + len(data)
        if end > inode.size:
            self.resize(inode, end)
        pos = offset
        while pos < end:
            pfn, _ = self.find_or_read(inode, pos >> PAGE_SHIFT)
            in_page = pos & (PAGE_SIZE - 1)
            n = min(PAGE_SIZE - in_page, end - pos)
            self.physmem.page(pfn)[in_page : in_page + n] = data[pos - offset : pos - offset + n]
            self.set_dirty(pfn)
            pos += n
        inode.touch(self.clock.now_ns())
        return len(data)

    # -- writeback ----------------------------------------------------------

    def writeback(
        self,
        inode: Inode,
        first_pgoff: int = 0,
        end_pgoff: int | None = None,
        *,
        cause: str = "fsync",
    ) -> int:
        """Write the dirty pages in ``[first_pgoff, end_pgoff)`` to disk; count them.

        The pages go one at a time, in file order, as ``write_cache_pages``
        walks them; ``cause`` names the writer in the Writeback events.
        """
        pgoffs = sorted(
            p for p in inode.dirty if p >= first_pgoff and (end_pgoff is None or p < end_pgoff)
        )
        for pgoff in pgoffs:
            self._writeback_page(inode, inode.cache[pgoff], cause)
        return len(pgoffs)

    def _writeback_page(self, inode: Inode, pfn: int, cause: str) -> None:
        """Write one dirty page; the part of the last page past end of file is
        zeroed in the cached page itself, as ext4's writeback does
        (``block_write_full_page``), so later mappings read zeros there."""
        physmem = self.physmem
        self.mkclean(physmem, pfn)
        pgoff = physmem.pgoff[pfn]
        start = pgoff << PAGE_SHIFT
        n = max(0, min(PAGE_SIZE, inode.size - start))
        data = physmem.page(pfn)
        if n < PAGE_SIZE and inode.kind is InodeKind.REGULAR:
            data[n:] = bytes(PAGE_SIZE - n)
        inode.disk[start : start + n] = data[:n]
        physmem.flags[pfn] &= ~PG_DIRTY
        inode.dirty.discard(pgoff)
        if self.bus.active:
            self.bus.emit(Writeback(inode.name, pgoff, pfn, cause, self.clock.uptime_ns))

    # -- size changes -------------------------------------------------------

    def resize(self, inode: Inode, new_size: int) -> None:
        """Set the file size (truncate(2) semantics on the cache and the disk)."""
        old_size = inode.size
        if new_size < old_size:
            self._shrink(inode, new_size)
        else:
            self._zero_tail(inode, old_size)
        inode.size = new_size
        self.space.give_back(inode.disk.resize(new_size))

    def _shrink(self, inode: Inode, new_size: int) -> None:
        first_gone = (new_size + PAGE_SIZE - 1) >> PAGE_SHIFT
        self.unmap_range(inode, first_gone)
        for pgoff in [p for p in inode.cache if p >= first_gone]:
            self.evict(inode, pgoff)
        self._zero_tail(inode, new_size)

    def _zero_tail(self, inode: Inode, size: int) -> None:
        """Zero the bytes of the cached last page beyond ``size``."""
        in_page = size & (PAGE_SIZE - 1)
        pfn = inode.cache.get(size >> PAGE_SHIFT)
        if in_page and pfn is not None:
            self.physmem.page(pfn)[in_page:] = bytes(PAGE_SIZE - in_page)

    def evict(self, inode: Inode, pgoff: int) -> None:
        """Drop one page from the cache (its data is lost if dirty: truncation)."""
        pfn = inode.cache.pop(pgoff)
        physmem = self.physmem
        if physmem.flags[pfn] & PG_DIRTY:
            self._unreserve(inode, pgoff)
        physmem.flags[pfn] &= ~(PG_DIRTY | PG_CACHE)
        inode.dirty.discard(pgoff)
        physmem.put(pfn)

    def shrink(self, batch: int = 64) -> int:
        """Reclaim up to ``batch`` page-cache frames that no PTE maps; count them.

        Linux's shrinker frees file pages under memory pressure, writing dirty
        ones back first.  Mapped pages and shared anonymous memory (which would
        need swap) are not reclaimed here.
        """
        physmem = self.physmem
        owners, mapcount, flags = physmem.inode, physmem.mapcount, physmem.flags
        victims = [
            pfn
            for pfn in physmem.live_pfns()
            if flags[pfn] & PG_CACHE
            and not mapcount[pfn]
            and (owner := owners.get(pfn)) is not None
            and owner.kind is InodeKind.REGULAR
        ][:batch]
        for pfn in victims:
            inode = owners[pfn]
            if flags[pfn] & PG_DIRTY:
                self._writeback_page(inode, pfn, "reclaim")
            self.evict(inode, physmem.pgoff[pfn])
        return len(victims)

    def release(self, inode: Inode) -> None:
        """Drop every cached page of an inode (after a crash, or when nobody can
        reach it any more: then its blocks are free too)."""
        for pgoff in list(inode.cache):
            self.evict(inode, pgoff)
        if inode.unreachable and self._takes_blocks(inode):
            self.space.give_back(len(inode.disk.blocks))
            inode.disk.blocks.clear()
