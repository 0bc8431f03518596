"""mprotect's work on an address space: the VMA walk, mprotect_fixup, change_protection.

:func:`do_mprotect` is ``do_mprotect_pkey`` after its argument checks: it walks
the VMAs of the range (ENOMEM at a hole, EACCES for what a VMA may not become)
and fixes each one up.  Linux semantics (mm/mprotect.c): the range's VMAs are split at its ends, get
their new flags, and merge with neighbours that now match.  Making a private
mapping writable charges it (``VM_ACCOUNT``); making an untouched anonymous
mapping read-only again gives the charge back.  Existing PTEs follow the new
protection: removing PROT_WRITE write-protects them; adding it makes writable
only the pages that need no fault first (a dirty shared page, an anonymous
page that this process alone maps); others fault on their next store (a
copy-on-write copy, or write-notify dirtying).
"""

from __future__ import annotations

import errno

from mmapsim.constants import Prot
from mmapsim.errors import syscall_error
from mmapsim.fs.inode import InodeKind
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.mapping import populate, vm_enough_memory
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_READ, PTE_WRITE
from mmapsim.mm.vma import Vma, VmFlag
from mmapsim.physmem import PG_DIRTY


def new_flags(vma: Vma, prot_bits: VmFlag) -> VmFlag:
    """The VMA's flags with its READ/WRITE/EXEC replaced, charged as Linux does."""
    flags = (vma.flags & ~(VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC)) | prot_bits
    charged = VmFlag.ACCOUNT | VmFlag.WRITE | VmFlag.SHARED | VmFlag.NORESERVE
    if prot_bits & VmFlag.WRITE:
        if not vma.flags & charged:
            flags |= VmFlag.ACCOUNT
    elif vma.is_anonymous and vma.anon_vma is None:
        flags &= ~VmFlag.ACCOUNT  # nothing was committed yet: the charge is given back
    return flags


def mprotect_fixup(
    mm: AddressSpace, vma: Vma, start: int, end: int, flags: VmFlag, max_map_count: int
) -> Vma:
    """Give ``[start, end)`` of ``vma`` new flags; returns the VMA now holding ``end-1``.

    A split that would pass ``max_map_count`` fails with ENOMEM (split_vma); a
    split already made stays, as on Linux.  A locked private mapping that
    becomes writable has every page faulted in for writing at once.

    Preconditions: ``[start, end)`` is page aligned and lies inside ``vma``, a VMA of
    ``mm``; ``flags`` passed mprotect's checks for ``vma``.
    """
    old = vma.flags
    if flags == old:
        return vma
    if vma.start < start:
        _check_split(mm, max_map_count)
        vma = mm.split(vma, start)
    if vma.end > end:
        _check_split(mm, max_map_count)
        mm.split(vma, end)
    vma.set_flags(flags)
    _change_ptes(mm, vma)
    locked_private = old & (VmFlag.WRITE | VmFlag.SHARED | VmFlag.LOCKED) == VmFlag.LOCKED
    merged = mm.try_merge(vma)
    if locked_private and flags & VmFlag.WRITE:
        populate(mm, merged, start, end)
    return merged


def _check_split(mm: AddressSpace, max_map_count: int) -> None:
    if len(mm.vmas) >= max_map_count:
        raise syscall_error(errno.ENOMEM)


def _change_ptes(mm: AddressSpace, vma: Vma) -> None:
    """change_protection: the VMA's entries follow its new protection."""
    pt = mm.pt
    for vpn, pte in mm.ptes_in(vma.start, vma.end).items():
        new = (pte | PTE_READ) if vma.readable else (pte & ~PTE_READ)
        if not vma.writable:
            new &= ~PTE_WRITE
        elif not new & PTE_WRITE and _writable_without_fault(mm, vma, pte >> PFN_SHIFT):
            new |= PTE_WRITE
        if new != pte:
            pt[vpn] = new


def _writable_without_fault(mm: AddressSpace, vma: Vma, pfn: int) -> bool:
    physmem = mm.physmem
    if vma.shared:
        inode = physmem.inode.get(pfn)
        return inode is not None and (
            inode.kind is InodeKind.SHMEM or bool(physmem.flags[pfn] & PG_DIRTY)
        )
    return physmem.reusable(pfn)


def do_mprotect(
    mm: AddressSpace, start: int, end: int, prot_bits: VmFlag, grows: Prot, max_map_count: int
) -> None:
    """do_mprotect_pkey's walk: give ``[start, end)`` the protection ``prot_bits``.

    ``prot_bits``: VM_READ/WRITE/EXEC, and VM_PKEY_EXEC_ONLY for execute-only
    memory; ``grows``: PROT_GROWSDOWN or PROT_GROWSUP, or neither.  ENOMEM
    when the range starts in a hole or has one; EINVAL for PROT_GROWSDOWN on a
    VMA that does not grow down, or PROT_GROWSUP (no VMA grows up on x86-64);
    EACCES when a VMA may not have the protection (its VM_MAY* bits).

    Partial effect, as on Linux: the VMAs before a hole (ENOMEM) or before a
    VMA that forbids the protection (EACCES) keep their new protection.

    Preconditions: ``start`` is page aligned and ``start < end <= 2**64``
    (sys_mprotect's checks).
    """
    vma = mm.vmas.find_from(start)
    if vma is None:
        raise syscall_error(errno.ENOMEM)
    if grows & Prot.GROWSDOWN:
        if vma.start >= end:
            raise syscall_error(errno.ENOMEM)
        start = vma.start
        if not vma.flags & VmFlag.GROWSDOWN:
            raise syscall_error(errno.EINVAL)
    elif vma.start > start:
        raise syscall_error(errno.ENOMEM)
    elif grows:
        raise syscall_error(errno.EINVAL)
    while True:
        flags = new_flags(vma, prot_bits & ~VmFlag.PKEY_EXEC_ONLY)
        flags = (flags & ~VmFlag.PKEY_EXEC_ONLY) | (prot_bits & VmFlag.PKEY_EXEC_ONLY)
        # VM_MAYREAD/MAYWRITE/MAYEXEC are VM_READ/WRITE/EXEC shifted left by 4:
        # shifted back, they mask off the access bits the VMA may have.
        access = VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC
        if (int(flags) & ~(int(flags) >> 4)) & access:
            raise syscall_error(errno.EACCES)
        upto = min(vma.end, end)
        if flags & ~vma.flags & VmFlag.ACCOUNT:  # mprotect charges what becomes writable
            vm_enough_memory(mm, upto - start)
        mprotect_fixup(mm, vma, start, upto, flags, max_map_count)
        start = upto
        if start >= end:
            return
        vma = mm.vmas.find_from(start)
        if vma is None or vma.start > start:
            raise syscall_error(errno.ENOMEM)
