"""Disk images: what a power failure leaves, and booting a machine on it.

A :class:`DiskImage` is the persistent state of a machine's disk: for each
regular file its size, its mode and its bytes *on disk* (not the page cache).
File names and sizes are metadata, which the model writes at once (see
``docs/deviations.md``), so an image differs from the disk of a live machine
only where dirty pages have not been written back.

:func:`capture` takes the image of a running machine; :func:`dirty_pages`
lists the pages a crash could still carry to the disk (each dirty page of a
named file, as writeback would write it); :func:`restore` gives a file system
exactly the files of an image, with a cold page cache, as after a reboot.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE
from mmapsim.fs.disk import Disk
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.fs.namespace import FileSystem

_ZERO_PAGE = bytes(PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class FileImage:
    """One file on disk: its size, mode and the pages that are not all zeros."""

    size: int
    mode: int
    pages: Mapping[int, bytes] = field(default_factory=dict)

    def read(self) -> bytes:
        """The whole file as it is on disk (holes read as zeros)."""
        out = bytearray(self.size)
        for pgoff, data in self.pages.items():
            start = pgoff << PAGE_SHIFT
            out[start : start + PAGE_SIZE] = data[: max(0, self.size - start)]
        return bytes(out)

    def page(self, pgoff: int) -> bytes:
        """Page ``pgoff`` as on disk (zeros for a hole)."""
        return self.pages.get(pgoff, _ZERO_PAGE)

    def with_pieces(self, pieces: Iterable[tuple[int, bytes]]) -> FileImage:
        """A copy with each ``(offset, data)`` written (each inside one page)."""
        pages = dict(self.pages)
        changed: dict[int, bytearray] = {}
        for offset, data in pieces:
            pgoff = offset >> PAGE_SHIFT
            page = changed.get(pgoff)
            if page is None:
                page = changed[pgoff] = bytearray(self.page(pgoff))
            at = offset & (PAGE_SIZE - 1)
            page[at : at + len(data)] = data
        for pgoff, page in changed.items():
            if page == _ZERO_PAGE:
                pages.pop(pgoff, None)
            else:
                pages[pgoff] = bytes(page)
        return FileImage(self.size, self.mode, pages)


@dataclass(frozen=True, slots=True)
class DiskImage:
    """Every regular file of a disk, by path."""

    files: Mapping[str, FileImage]

    def read(self, path: str) -> bytes:
        """The bytes of ``path`` on this disk (KeyError if there is no such file)."""
        return self.files[path].read()

    def key(self) -> bytes:
        """A digest of the content: two images have the same key iff they hold the same."""
        digest = hashlib.sha256()
        for path in sorted(self.files):
            image = self.files[path]
            digest.update(f"{path}\0{image.size}\0{image.mode}\0".encode())
            for pgoff in sorted(image.pages):
                digest.update(pgoff.to_bytes(8, "little") + image.pages[pgoff])
        return digest.digest()


@dataclass(frozen=True, slots=True)
class DirtyPage:
    """A dirty page-cache page of a named file: what writeback would put on disk."""

    path: str
    pgoff: int
    data: bytes  # PAGE_SIZE bytes, zeros past the end of the file


def _file_image(inode: Inode) -> FileImage:
    pages = {pgoff: bytes(data) for pgoff, data in inode.disk.pages.items() if data != _ZERO_PAGE}
    return FileImage(inode.size, inode.mode, pages)


def _named_files(fs: FileSystem, skip: Iterable[str]) -> list[tuple[str, Inode]]:
    roots = tuple(skip)
    return [
        (path, inode)
        for path, inode in sorted(fs.names.items())
        if inode.is_regular and not any(_under(path, root) for root in roots)
    ]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def capture(fs: FileSystem, skip: Iterable[str] = ()) -> DiskImage:
    """The disk of ``fs`` now: every named regular file (paths under ``skip`` left out)."""
    return DiskImage({path: _file_image(inode) for path, inode in _named_files(fs, skip)})


def dirty_pages(fs: FileSystem, skip: Iterable[str] = ()) -> list[DirtyPage]:
    """The dirty pages of named files, in path and page order.

    An unlinked file's pages are left out: after a crash nothing names the file.
    """
    found = []
    for path, inode in _named_files(fs, skip):
        for pgoff in sorted(inode.dirty):
            start = pgoff << PAGE_SHIFT
            keep = max(0, min(PAGE_SIZE, inode.size - start))
            frame = fs.pagecache.physmem.page(inode.cache[pgoff])
            data = bytes(frame[:keep]) + bytes(PAGE_SIZE - keep)
            found.append(DirtyPage(path, pgoff, data))
    return found


def restore(fs: FileSystem, image: DiskImage) -> None:
    """Make the regular files of ``fs`` those of ``image``, on disk, none cached.

    Files of ``fs`` that the image lacks are unlinked; missing parent
    directories are made; each page on disk holds a block of the disk's space
    (:mod:`mmapsim.fs.diskspace`).  Preconditions: no process maps or opens these
    files, and the image fits the disk.
    """
    for path in [p for p, i in fs.names.items() if i.is_regular and p not in image.files]:
        fs.pagecache.release(fs.unlink(path))
    for path, file_image in image.files.items():
        _ensure_parents(fs, path)
        inode = fs.names.get(path)
        if inode is None or not inode.is_regular:
            inode = fs.create(path, file_image.mode)
        fs.pagecache.release(inode)
        space = fs.pagecache.space
        space.give_back(len(inode.disk.blocks))
        inode.mode = file_image.mode
        inode.size = file_image.size
        inode.disk = Disk()
        inode.disk.resize(file_image.size)
        for pgoff, data in file_image.pages.items():
            inode.disk.pages[pgoff] = bytearray(data)
        inode.disk.blocks = set(file_image.pages)  # each page on disk holds a block
        space.take(len(inode.disk.blocks))


def _ensure_parents(fs: FileSystem, path: str) -> None:
    parent = posixpath.dirname(path)
    missing = []
    while parent not in fs.names:
        missing.append(parent)
        parent = posixpath.dirname(parent)
    for directory in reversed(missing):
        inode = fs.new_inode(InodeKind.DIRECTORY, 0o755)
        fs.names[directory] = inode
        inode.nlink += 1
        inode.name = directory
