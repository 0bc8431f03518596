"""The mappings of System V shared memory: shmat's do_mmap and shmdt's walk.

Linux semantics (ipc/shm.c ``do_shmat``, ``ksys_shmdt``): an attach is a
shared mapping of the segment's file, through an open file description of its
own; a detach unmaps the attach that starts at an address, found by the page
offsets of the segment's VMAs.
"""

from __future__ import annotations

import errno

from mmapsim.abi import U64_MAX
from mmapsim.constants import PAGE_SHIFT
from mmapsim.errors import syscall_error
from mmapsim.fs.file import OpenFile
from mmapsim.ipc.shm import ShmSegment
from mmapsim.mm import mapping
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.memlayout import MMAP_MIN_ADDR, TASK_SIZE
from mmapsim.mm.unmapped_area import get_unmapped_area
from mmapsim.mm.vma import VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_SHARED, Vma


def shm_mmap(
    mm: AddressSpace, ofd: OpenFile, size: int, addr: int | None, prot: int, max_map_count: int
) -> int:
    """do_shmat's do_mmap: map the ``size`` bytes of ``ofd``'s segment shared;
    returns the address.

    ``addr`` None lets the kernel choose; otherwise the mapping is MAP_FIXED
    there (ENOMEM beyond user space, EPERM below mmap_min_addr, as mmap's
    deviation in docs/deviations.md).  ``prot``: VM_READ/WRITE/EXEC.  A
    description open read-only gives a mapping that can never be writable
    (not VM_SHARED, no VM_MAYWRITE).

    Preconditions: ``ofd`` is a description of a segment's inode, and ``addr``
    is SHMLBA aligned.
    """
    length = mapping.page_align64(size)
    if addr is not None:
        if length > TASK_SIZE or addr > TASK_SIZE - length:
            raise syscall_error(errno.ENOMEM)
        if addr < MMAP_MIN_ADDR:
            raise syscall_error(errno.EPERM)
    if len(mm.vmas) > max_map_count:
        raise syscall_error(errno.ENOMEM)
    if addr is None:
        addr = get_unmapped_area(mm, 0, length, False)
        if addr is None:
            raise syscall_error(errno.ENOMEM)
    vm_flags = prot | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_SHARED | VM_MAYSHARE
    if not ofd.writable:  # a read-only file: never writable, not VM_SHARED
        vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
    mapping.map_region(mm, addr, length, vm_flags, 0, ofd, ofd.inode)
    return addr


def shm_detach(mm: AddressSpace, addr: int) -> None:
    """ksys_shmdt's walk: unmap the attach that starts at ``addr``.

    As Linux does: the first segment VMA at or above ``addr`` whose page offset
    equals its distance from ``addr`` is unmapped, then every later VMA of the
    same attach that lies within the segment's size of ``addr``.  EINVAL when
    no attach starts there.

    Preconditions: ``addr`` is page aligned.
    """
    vmas = [v for v in mm.vmas if v.end > addr]
    first = next((i for i, v in enumerate(vmas) if _attached_at(v, addr)), None)
    if first is None:
        raise syscall_error(errno.EINVAL)
    found = vmas[first]
    file = found.file
    size = found.inode.pages << PAGE_SHIFT if found.inode is not None else 0
    doomed = [found]
    for vma in vmas[first + 1 :]:
        if vma.end - addr > size:
            break
        if _attached_at(vma, addr) and vma.file is file:
            doomed.append(vma)
    for vma in doomed:
        mapping.unmap(mm, vma.start, vma.end)


def _attached_at(vma: Vma, addr: int) -> bool:
    """A segment VMA whose page offset is its distance in pages from ``addr``."""
    inode = vma.inode
    if inode is None or not isinstance(inode.vm_ops, ShmSegment):
        return False
    return ((vma.start - addr) & U64_MAX) >> PAGE_SHIFT == vma.pgoff
