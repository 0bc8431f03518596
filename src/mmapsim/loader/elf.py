"""Reading an ELF program's headers, as the kernel's ELF loader reads them.

The file is read through the machine's page cache (as Linux reads ``bprm->buf``
and the program headers with ``kernel_read``), so only the pages holding the
headers are brought in.  The parsing is pyelftools'; this module keeps what the
loader needs: the type, the entry point, the ``PT_LOAD`` segments with their
protections, ``PT_INTERP``, ``PT_GNU_RELRO`` and the ``DT_NEEDED`` libraries.

Anything that is not a 64-bit little-endian x86-64 executable or shared object
is ``ENOEXEC`` (``load_elf_binary``'s header checks and ``elf_check_arch``).
"""

from __future__ import annotations

import errno
import io
import struct
from dataclasses import dataclass
from typing import IO, Any, cast

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.segments import InterpSegment

from mmapsim.constants import Prot
from mmapsim.errors import syscall_error
from mmapsim.fs.inode import Inode
from mmapsim.fs.pagecache import PageCache

ELF_MAGIC = b"\x7fELF"
_PF_X, _PF_W, _PF_R = 1, 2, 4


@dataclass(frozen=True, slots=True)
class Segment:
    """One ``PT_LOAD`` program header."""

    vaddr: int
    offset: int
    filesz: int
    memsz: int
    prot: Prot
    align: int


@dataclass(frozen=True, slots=True)
class ElfImage:
    """What the loader needs of one ELF file."""

    dynamic: bool  # ET_DYN (position independent) rather than ET_EXEC
    entry: int
    phoff: int
    phnum: int
    segments: tuple[Segment, ...]
    interp: str | None
    needed: tuple[str, ...]
    relro: tuple[int, int] | None  # (vaddr, memsz) of PT_GNU_RELRO

    @property
    def total_size(self) -> int:
        """total_mapping_size: from the first segment's page to the last one's end."""
        first, last = self.segments[0], self.segments[-1]
        return last.vaddr + last.memsz - (first.vaddr & ~0xFFF)

    @property
    def max_align(self) -> int:
        """maximum_alignment: the largest power-of-two ``p_align`` of the segments."""
        aligns = [s.align for s in self.segments if s.align and not s.align & (s.align - 1)]
        return max(aligns, default=0)


class CacheReader(io.RawIOBase):
    """A read-only, seekable byte stream over an inode's page-cache contents."""

    def __init__(self, pagecache: PageCache, inode: Inode) -> None:
        super().__init__()
        self._pagecache = pagecache
        self._inode = inode
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._inode.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._pagecache.read(self._inode, self._pos, len(view))
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


def read_elf(pagecache: PageCache, inode: Inode) -> ElfImage:
    """The headers of the program in ``inode``; ENOEXEC if it is not one."""
    if pagecache.read(inode, 0, 4) != ELF_MAGIC:
        raise syscall_error(errno.ENOEXEC)
    try:
        return _parse(ELFFile(cast(IO[bytes], CacheReader(pagecache, inode))))
    except (ELFError, struct.error, ValueError, KeyError, AttributeError) as e:
        raise syscall_error(errno.ENOEXEC) from e


def _parse(elf: ELFFile) -> ElfImage:
    hdr = elf.header
    ok = elf.elfclass == 64 and elf.little_endian and hdr.e_machine == "EM_X86_64"
    if not ok or hdr.e_type not in ("ET_EXEC", "ET_DYN") or hdr.e_phentsize != 56:
        raise syscall_error(errno.ENOEXEC)
    segments: list[Segment] = []
    interp: str | None = None
    needed: tuple[str, ...] = ()
    relro: tuple[int, int] | None = None
    for seg in elf.iter_segments():
        h = seg.header
        if h.p_type == "PT_LOAD":
            segments.append(_load_segment(h))
        elif isinstance(seg, InterpSegment):
            interp = seg.get_interp_name()
        elif h.p_type == "PT_GNU_RELRO":
            relro = (h.p_vaddr, h.p_memsz)
        elif isinstance(seg, DynamicSegment):
            needed = tuple(str(getattr(t, "needed", "")) for t in seg.iter_tags("DT_NEEDED"))
    if not segments:
        raise syscall_error(errno.ENOEXEC)
    return ElfImage(
        dynamic=hdr.e_type == "ET_DYN",
        entry=hdr.e_entry,
        phoff=hdr.e_phoff,
        phnum=hdr.e_phnum,
        segments=tuple(segments),
        interp=interp,
        needed=needed,
        relro=relro,
    )


def _load_segment(h: Any) -> Segment:
    """A PT_LOAD header, checked as elf_map's callers check it."""
    if (h.p_vaddr - h.p_offset) & 0xFFF or h.p_filesz > h.p_memsz:
        raise syscall_error(errno.ENOEXEC)
    prot = Prot.NONE
    if h.p_flags & _PF_R:
        prot |= Prot.READ
    if h.p_flags & _PF_W:
        prot |= Prot.WRITE
    if h.p_flags & _PF_X:
        prot |= Prot.EXEC
    return Segment(h.p_vaddr, h.p_offset, h.p_filesz, h.p_memsz, prot, h.p_align)
