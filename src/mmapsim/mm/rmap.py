"""Reverse mapping: from a page-cache frame or a file range back to the PTEs.

Linux walks an inode's ``i_mmap`` tree to find every VMA that maps a page.  Here
``inode.mappings`` is that set, and these functions are what the page cache
calls through its hooks:

- :func:`mkclean` (``page_mkclean``): after writeback, every shared PTE of the
  frame becomes read-only again, so the next store faults and re-dirties it;
- :func:`unmap_mapping_range` (truncation): every PTE that maps a page at or
  beyond ``first_pgoff``, copy-on-write copies of private mappings included.
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SHIFT
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_WRITE
from mmapsim.physmem import PhysicalMemory


def mkclean(physmem: PhysicalMemory, pfn: int) -> None:
    """Write-protect every shared mapping of frame ``pfn`` (it was just written back).

    Preconditions: ``pfn`` is a live frame that has just been written back.
    """
    inode = physmem.inode.get(pfn)
    if inode is None or inode.kind is InodeKind.SHMEM:
        return
    pgoff = physmem.pgoff[pfn]
    for vma in inode.mappings:
        if not vma.shared or vma.mm is None:
            continue
        va = vma.start + ((pgoff - vma.pgoff) << PAGE_SHIFT)
        if vma.start <= va < vma.end:
            pt = vma.mm.pt
            vpn = va >> PAGE_SHIFT
            pte = pt.get(vpn)
            if pte is not None and pte >> PFN_SHIFT == pfn:
                pt[vpn] = pte & ~PTE_WRITE


def unmap_mapping_range(inode: Inode, first_pgoff: int) -> None:
    """Remove every PTE that maps page ``first_pgoff`` or later of ``inode``.

    Preconditions: ``first_pgoff`` is the first page the file loses (truncation unmaps,
    then evicts the pages from the cache and sets the size).
    """
    for vma in list(inode.mappings):
        if vma.mm is None:
            continue
        vma_pages = (vma.end - vma.start) >> PAGE_SHIFT
        if vma.pgoff + vma_pages <= first_pgoff:
            continue
        skip = max(0, first_pgoff - vma.pgoff)
        vma.mm.zap_range(vma.start + (skip << PAGE_SHIFT), vma.end)
