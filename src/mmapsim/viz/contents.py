"""What a frame holds, in a form small enough to keep for every step.

A page of 4096 bytes is cut into 256 rows of 16 bytes, as ``hexdump`` prints
it.  Rows of zeros are left out (a fresh anonymous page costs nothing) and a
run of identical rows is one row with a repeat count (a page filled by
``memset`` costs one row).  A row is ``[offset, hex, repeat]``; the page draws
each as hex and as text, and decodes the integers that a scenario stored with
``p.int[i]`` or ``p.u64[i]`` from the same rows.
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SIZE

ROW = 16
#: At most this many distinct rows are kept per page; the rest are counted.
MAX_ROWS = 24

Rows = list[list[object]]
_ZERO_ROW = bytes(ROW)


def encode_rows(data: bytes | bytearray | memoryview) -> tuple[Rows, int]:
    """The non-zero rows of ``data`` (runs folded), and how many were cut off."""
    raw = bytes(data)
    if not raw.strip(b"\0"):
        return [], 0
    first = raw[:ROW]
    if raw == first * (len(raw) // ROW):
        return [[0, first.hex(), len(raw) // ROW]], 0
    rows: Rows = []
    cut = 0
    last = b""
    for offset in range(0, len(raw), ROW):
        row = raw[offset : offset + ROW]
        if row == _ZERO_ROW:
            last = row
            continue
        if row == last and rows:
            rows[-1][2] = int(str(rows[-1][2])) + 1
            continue
        last = row
        if len(rows) >= MAX_ROWS:
            cut += 1
            continue
        rows.append([offset, row.hex(), 1])
    return rows, cut


def frame_bytes(rows: Rows, size: int = PAGE_SIZE) -> bytes:
    """The bytes that ``rows`` describe (cut rows read as zeros); for tests."""
    out = bytearray(size)
    for offset, text, repeat in rows:
        row = bytes.fromhex(str(text))
        for k in range(int(str(repeat))):
            start = int(str(offset)) + k * ROW
            out[start : start + ROW] = row
    return bytes(out)
