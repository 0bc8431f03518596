"""A file's bytes on "disk", stored sparsely by page.

Linux files may be sparse: ``ftruncate(fd, 1 << 40)`` or a write at a large
offset makes a file whose holes read as zeros and take no space.  The disk
image keeps only the pages that were ever written back, so a huge sparse file
costs nothing, and it behaves like ``bytes`` for slicing: ``disk[a:b]``.
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE

_OFF = PAGE_SIZE - 1


class Disk:
    """The persistent bytes of one file: ``size`` bytes, holes read as zeros.

    Invariant: no stored page lies wholly beyond ``size``, and the bytes of the
    last page beyond ``size`` are zero.
    """

    __slots__ = ("blocks", "pages", "size")

    def __init__(self, data: bytes | bytearray = b"") -> None:
        self.pages: dict[int, bytearray] = {}
        #: Pages that hold a block of the machine's disk: written back, or reserved
        #: by a dirty page (:mod:`mmapsim.fs.diskspace`).
        self.blocks: set[int] = set()
        self.size = 0
        if data:
            self.resize(len(data))
            self[0 : len(data)] = data

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        start, stop, step = key.indices(self.size)
        if step != 1:
            raise ValueError("a disk is sliced with step 1 only")
        out = bytearray()
        pos = start
        while pos < stop:
            off = pos & _OFF
            n = min(PAGE_SIZE - off, stop - pos)
            page = self.pages.get(pos >> PAGE_SHIFT)
            out += page[off : off + n] if page is not None else bytes(n)
            pos += n
        return bytes(out)

    def __setitem__(self, key: slice, data: bytes | bytearray | memoryview) -> None:
        """Overwrite ``data`` at ``key.start`` (inside the file: sizes change by resize)."""
        start = key.start or 0
        if start + len(data) > self.size:
            raise ValueError("a disk write must lie inside the file")
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            off = (start + pos) & _OFF
            n = min(PAGE_SIZE - off, len(view) - pos)
            page = self.pages.setdefault((start + pos) >> PAGE_SHIFT, bytearray(PAGE_SIZE))
            page[off : off + n] = view[pos : pos + n]
            pos += n

    def page(self, pgoff: int) -> bytearray:
        """A copy of page ``pgoff`` (zeros for a hole)."""
        page = self.pages.get(pgoff)
        return bytearray(PAGE_SIZE) if page is None else bytearray(page)

    def resize(self, size: int) -> int:
        """Cut or extend the file to ``size`` bytes (the new part is a hole).

        Returns how many blocks the cut gave back.
        """
        freed = 0
        if size < self.size:
            first_gone = (size + _OFF) >> PAGE_SHIFT
            for pgoff in [p for p in self.pages if p >= first_gone]:
                del self.pages[pgoff]
            gone = [p for p in self.blocks if p >= first_gone]
            self.blocks.difference_update(gone)
            freed = len(gone)
            tail = self.pages.get(size >> PAGE_SHIFT)
            if tail is not None and size & _OFF:
                tail[size & _OFF :] = bytes(PAGE_SIZE - (size & _OFF))
        self.size = size
        return freed

    def is_hole(self, pgoff: int) -> bool:
        """Whether page ``pgoff`` was never written back (it reads as zeros)."""
        return pgoff not in self.pages

    @property
    def allocated_pages(self) -> int:
        """How many pages hold data or a reserved block (what st_blocks counts:
        ext4 counts the blocks that delayed allocation has reserved)."""
        return len(self.blocks.union(self.pages))
