"""Page tables: virtual page number -> page-table entry, an int.

A page table is a plain dict (``vpn -> pte``), so a load or store on a resident
page is one dictionary look-up, a shift and a slice, and memory grows with the
pages touched, never with the size mapped.  A PTE is present by existing; as on
x86 it is the frame number shifted left by ``PFN_SHIFT`` with bits below it::

    pte = pfn << PFN_SHIFT | PTE_YOUNG? | PTE_WRITE? | PTE_READ?

``PTE_READ``: the CPU may read through it (clear for PROT_NONE, which keeps
the entry); ``PTE_WRITE``: it may write; ``PTE_YOUNG``: the accessed bit, set
by every use since the entry was made old.  A private page mapped read-only
in a writable VMA is copy-on-write; a shared file page mapped read-only in a
writable VMA is clean and waits for its first write (Linux's write-notify),
which dirties it.
"""

from __future__ import annotations

from typing import Final

PTE_READ: Final = 0x1
PTE_WRITE: Final = 0x2
PTE_YOUNG: Final = 0x4
PFN_SHIFT: Final = 12

#: A new entry that allows everything and has just been used.
PTE_RWY: Final = PTE_READ | PTE_WRITE | PTE_YOUNG

PageTable = dict[int, int]


def mk_pte(pfn: int, readable: bool, writable: bool, young: bool = True) -> int:
    """The entry mapping ``pfn`` with these permissions (mk_pte)."""
    return pfn << PFN_SHIFT | readable * PTE_READ | writable * PTE_WRITE | young * PTE_YOUNG


def pte_pfn(pte: int) -> int:
    """The frame an entry maps."""
    return pte >> PFN_SHIFT


def describe(pte: int) -> str:
    """An entry for a message: ``<Pte rw -> 0x1001>``."""
    mode = ("r" if pte & PTE_READ else "-") + ("w" if pte & PTE_WRITE else "-")
    return f"<Pte {mode} -> {pte >> PFN_SHIFT:#x}>"
