"""Page tables: virtual page number -> page-table entry.

A page table is a plain dict (``vpn -> Pte``), so a load or store on a resident
page is one dictionary look-up and a slice, and memory grows with the pages
touched, never with the size mapped.  A ``Pte`` is present by existing; it
records whether the CPU may read and write through it.  A private page mapped
read-only in a writable VMA is copy-on-write; a shared file page mapped
read-only in a writable VMA is clean and waits for its first write (Linux's
write-notify), which dirties it.
"""

from __future__ import annotations

from mmapsim.physmem import Frame


class Pte:
    """One page-table entry: the frame, what the CPU may do with it, and whether
    the CPU has used it since it was made old (the accessed bit: ``young``)."""

    __slots__ = ("frame", "readable", "writable", "young")

    def __init__(self, frame: Frame, readable: bool, writable: bool, young: bool = True) -> None:
        self.frame = frame
        self.readable = readable
        self.writable = writable
        self.young = young

    def __repr__(self) -> str:
        mode = ("r" if self.readable else "-") + ("w" if self.writable else "-")
        return f"<Pte {mode} -> {self.frame.pfn:#x}>"


PageTable = dict[int, Pte]
