"""Tiny ELF programs for the loader's tests, written byte by byte (x86-64, static)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

PF_X, PF_W, PF_R = 1, 2, 4
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_INTERP = 1, 3


@dataclass(frozen=True)
class Seg:
    """A PT_LOAD: ``data`` goes at file ``offset`` and memory ``vaddr``; memsz >= len(data)."""

    vaddr: int
    offset: int
    data: bytes
    memsz: int
    flags: int


def make_elf(segs: list[Seg], *, etype: int = ET_EXEC, interp: str | None = None) -> bytes:
    """An ELF64 x86-64 file with these segments (and a PT_INTERP if asked)."""
    phnum = len(segs) + (interp is not None)
    image = bytearray(0x40 + 56 * phnum)
    phdrs = b""
    if interp is not None:
        path = interp.encode() + b"\0"
        off = len(image)
        image += path
        phdrs += struct.pack("<IIQQQQQQ", PT_INTERP, PF_R, off, off, off, len(path), len(path), 1)
    for s in segs:
        if len(image) < s.offset + len(s.data):
            image.extend(bytes(s.offset + len(s.data) - len(image)))
        image[s.offset : s.offset + len(s.data)] = s.data
        phdrs += struct.pack(
            "<IIQQQQQQ", PT_LOAD, s.flags, s.offset, s.vaddr, s.vaddr, len(s.data), s.memsz, 0x1000
        )
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    entry = segs[0].vaddr
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", etype, 62, 1, entry, 0x40, 0, 0, 0x40, 56, phnum, 64, 0, 0
    )
    image[0:0x40] = header
    image[0x40 : 0x40 + len(phdrs)] = phdrs
    return bytes(image)


def static_program() -> bytes:
    """A static ET_EXEC: text r-x at 0x400000, data rw- at 0x401000 with 3 pages of .bss."""
    text = Seg(0x400000, 0, bytes(0x200) + b"\xc3" * 16, 0x210, PF_R | PF_X)
    data = Seg(0x401100, 0x1100, b"DATA" * 8, 0x3000, PF_R | PF_W)
    return make_elf([text, data])
