"""The simulated disk's capacity: how many 4 KiB blocks the files may hold.

The disk is an ext4 file system with 4 KiB blocks and delayed allocation, as
Linux reports it to a program:

- A page of a file holds a block once it is written back, or from the moment it
  is dirtied (ext4 reserves the block in ``write_begin`` or ``page_mkwrite``),
  so ``write()`` fails at once, not at writeback.  Holes hold none: a sparse
  file costs only its written pages, and ``ftruncate`` never allocates.
- ``write()`` copies page by page: one that runs out of blocks returns the
  bytes it copied before the first page it could not reserve (a short count);
  the next one fails with ENOSPC.  A store through a shared mapping into a page
  with no block when none is left is SIGBUS (``page_mkwrite`` fails).
- Truncation, and the last close of an unlinked file, give the blocks back.

Only regular files on the disk count: shared anonymous memory and memfds live in
memory, and host mounts in the host's own file system.  Directories, inodes and
extent trees take no space (deviation: ext4 spends a few blocks on them).
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SIZE

#: ``Machine(disk=...)``'s default: 1 GiB of file data.
DEFAULT_DISK = 1 << 30


class DiskSpace:
    """The free-block count of the machine's disk."""

    __slots__ = ("capacity", "used")

    def __init__(self, capacity_bytes: int = DEFAULT_DISK) -> None:
        self.capacity = capacity_bytes // PAGE_SIZE  # blocks
        self.used = 0

    @property
    def free(self) -> int:
        """Blocks that a page may still take."""
        return max(self.capacity - self.used, 0)

    def take(self, count: int = 1) -> None:
        """``count`` more blocks are in use (the caller has checked ``free``)."""
        self.used += count

    def give_back(self, count: int) -> None:
        """``count`` blocks are free again."""
        self.used -= count
