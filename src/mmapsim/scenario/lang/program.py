"""``program()``: the bytes of a tiny static x86-64 ELF program, for ``execve`` in a scenario.

The program is an ``ET_EXEC`` with two ``PT_LOAD`` segments, text (r-x) at
0x400000 and data (rw-, with three pages of bss) at 0x401100, which both
kernels accept for execve once the file has an execute bit:

    file /tmp/prog program()
    A: chmod("/tmp/prog", 0o755)
    A: execve("/tmp/prog")

It never runs on either machine (HostMachine execs its own worker image after
the kernel's verdict); only its mappings matter.
"""

from __future__ import annotations

import struct

_PT_LOAD, _PF_X, _PF_W, _PF_R = 1, 1, 2, 4
_TEXT = (0x400000, 0, bytes(0x200) + b"\xc3" * 16, 0x210, _PF_R | _PF_X)
_DATA = (0x401100, 0x1100, b"DATA" * 8, 0x3000, _PF_R | _PF_W)


def program() -> bytes:
    """An ELF64 x86-64 static executable with a text and a data segment."""
    segments = (_TEXT, _DATA)
    image = bytearray(0x40 + 56 * len(segments))
    headers = b""
    for vaddr, offset, data, memsz, flags in segments:
        image.extend(bytes(max(0, offset + len(data) - len(image))))
        image[offset : offset + len(data)] = data
        headers += struct.pack(
            "<IIQQQQQQ", _PT_LOAD, flags, offset, vaddr, vaddr, len(data), memsz, 0x1000
        )
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    entry = _TEXT[0]
    image[0:0x40] = ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, entry, 0x40, 0, 0, 0x40, 56, len(segments), 64, 0, 0
    )
    image[0x40 : 0x40 + len(headers)] = headers
    return bytes(image)
