"""/proc/<pid>/maps and /proc/<pid>/smaps, in the kernel's own text format.

``maps`` (fs/proc/task_mmu.c, ``show_map_vma``): one line per VMA,
``start-end perms offset major:minor inode``, then the name padded to column
73: the file's path (`` (deleted)`` once unlinked), ``/dev/zero (deleted)`` for
shared anonymous memory, ``[heap]``/``[stack]``, or nothing.

``pagemap`` (``pagemap_pmd_range``): one entry per virtual page, whether a
frame is present, its number, whether it is a file page (or shared
anonymous memory) and whether this process alone maps it.

``smaps`` adds the page counts of each VMA: Rss and Pss; shared (mapped by more
than one process) or private; clean or dirty (a dirty page-cache page, or any
anonymous page); Anonymous; Locked; and the VmFlags mnemonics.  The zero frame
is not counted, as on Linux.
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SHIFT
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.mapping import hugetlb_page_size
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_YOUNG
from mmapsim.mm.vma import SMAPS_FLAG_NAMES, Vma, VmFlag
from mmapsim.pageinfo import PageInfo
from mmapsim.physmem import PG_DIRTY, PG_LAZYFREE, PG_REFERENCED, ZERO_PFN

_NAME_COLUMN = 72
_PSS_SHIFT = 12


def vma_name(vma: Vma) -> str:
    """What maps shows in the last column for ``vma``."""
    if vma.name:
        return vma.name
    if vma.file is not None:
        deleted = vma.file.inode.nlink == 0
        return vma.file.path + (" (deleted)" if deleted else "")
    if vma.inode is not None:  # shared anonymous memory, or MAP_HUGETLB's file
        return (vma.inode.name or "/dev/zero") + " (deleted)"
    return ""


def maps_line(vma: Vma) -> str:
    """One line of /proc/<pid>/maps (without the newline)."""
    f = vma.flags
    perms = (
        ("r" if f & VmFlag.READ else "-")
        + ("w" if f & VmFlag.WRITE else "-")
        + ("x" if f & VmFlag.EXEC else "-")
        + ("s" if f & VmFlag.MAYSHARE else "p")
    )
    backing = vma.file.inode if vma.file is not None else vma.inode
    if backing is not None:
        offset, dev, ino = vma.pgoff << PAGE_SHIFT, backing.dev, backing.ino
    else:
        offset, dev, ino = 0, 0, 0
    line = (
        f"{vma.start:08x}-{vma.end:08x} {perms} {offset:08x} {dev >> 8:02x}:{dev & 0xFF:02x} {ino} "
    )
    name = vma_name(vma)
    if name:
        line = line.ljust(_NAME_COLUMN) + " " + name
    return line


def render_maps(mm: AddressSpace) -> str:
    """The whole text of /proc/<pid>/maps."""
    return "".join(maps_line(vma) + "\n" for vma in mm.vmas)


def _counts(mm: AddressSpace, vma: Vma) -> dict[str, int]:
    """smaps_account over the VMA's present pages, in bytes (Pss fixed-point)."""
    keys = ("rss", "pss", "pss_dirty", "sc", "sd", "pc", "pd", "anon", "locked", "ref")
    c = dict.fromkeys(keys, 0)
    page = 1 << PAGE_SHIFT
    physmem = mm.physmem
    flags, mapcount, owner = physmem.flags, physmem.mapcount, physmem.inode
    locked = bool(vma.flags & VmFlag.LOCKED)
    for pte in mm.ptes_in(vma.start, vma.end).values():
        pfn = pte >> PFN_SHIFT
        if pfn == ZERO_PFN:
            continue
        anon = pfn not in owner
        f = flags[pfn]
        dirty = bool(f & PG_DIRTY) or (anon and not f & PG_LAZYFREE)
        maps = mapcount[pfn]
        share = (page << _PSS_SHIFT) // max(1, maps)
        c["rss"] += page
        c["ref"] += page if pte & PTE_YOUNG or f & PG_REFERENCED else 0
        c["pss"] += share
        c["pss_dirty"] += share if dirty else 0
        key = ("s" if maps >= 2 else "p") + ("d" if dirty else "c")
        c[key] += page
        c["anon"] += page if anon else 0
        c["locked"] += share if locked else 0
    return c


def smaps_entry(mm: AddressSpace, vma: Vma, pkeys: bool = False) -> str:
    """The smaps block of one VMA (``pkeys``: the CPU has protection keys, and
    each block says which key its VMA has)."""
    c = _counts(mm, vma)
    kb = 1024
    page_kb = (hugetlb_page_size(vma) if vma.flags & VmFlag.HUGETLB else 4096) // kb
    fields = [
        ("Size", vma.length // kb),
        ("KernelPageSize", page_kb),
        ("MMUPageSize", page_kb),
        ("Rss", c["rss"] // kb),
        ("Pss", c["pss"] >> (_PSS_SHIFT + 10)),
        ("Pss_Dirty", c["pss_dirty"] >> (_PSS_SHIFT + 10)),
        ("Shared_Clean", c["sc"] // kb),
        ("Shared_Dirty", c["sd"] // kb),
        ("Private_Clean", c["pc"] // kb),
        ("Private_Dirty", c["pd"] // kb),
        ("Referenced", c["ref"] // kb),
        ("Anonymous", c["anon"] // kb),
    ]
    fields += [(name, 0) for name in _ZERO_FIELDS]
    fields.append(("Locked", c["locked"] >> (_PSS_SHIFT + 10)))
    lines = [maps_line(vma)]
    lines += [f"{name + ':':<16}{value:>8} kB" for name, value in fields]
    lines.append(f"{'THPeligible:':<16}{0:>8}")
    if pkeys:
        lines.append(f"{'ProtectionKey:':<16}{int(bool(vma.flags & VmFlag.PKEY_EXEC_ONLY)):>8}")
    names = "".join(m + " " for bit, m in SMAPS_FLAG_NAMES if vma.flags & bit)
    lines.append(f"VmFlags: {names}")
    return "\n".join(lines) + "\n"


_ZERO_FIELDS = (
    "KSM",
    "LazyFree",
    "AnonHugePages",
    "ShmemPmdMapped",
    "FilePmdMapped",
    "Shared_Hugetlb",
    "Private_Hugetlb",
    "Swap",
    "SwapPss",
)


def render_smaps(mm: AddressSpace, pkeys: bool = False) -> str:
    """The whole text of /proc/<pid>/smaps."""
    return "".join(smaps_entry(mm, vma, pkeys) for vma in mm.vmas)


def pagemap_entry(mm: AddressSpace, va: int) -> PageInfo:
    """What /proc/<pid>/pagemap says of the page holding ``va``."""
    pte = mm.pt.get(va >> PAGE_SHIFT)
    if pte is None:
        return PageInfo(present=False, pfn=None, file_or_shared=False, exclusive=False)
    pfn = pte >> PFN_SHIFT
    physmem = mm.physmem
    return PageInfo(
        present=True,
        pfn=pfn,
        file_or_shared=pfn in physmem.inode,
        exclusive=pfn != ZERO_PFN and physmem.mapcount[pfn] == 1,
    )
