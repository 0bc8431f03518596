"""Memory locking and populating (mm/mlock.c, mm/gup.c's ``__mm_populate``).

Linux semantics:

- ``mlock``/``mlock2``/``munlock`` set or clear ``VM_LOCKED`` (and, for
  ``MLOCK_ONFAULT``, ``VM_LOCKONFAULT``) on the VMAs of a range, splitting them
  at its ends; a hole in the range stops the walk with ENOMEM, and the VMAs
  before it keep their new flags (``apply_vma_lock_flags``);
- then the locked range is populated: every page is faulted in, for writing in
  a private writable mapping (breaking copy-on-write), for reading elsewhere;
  ``VM_LOCKONFAULT`` VMAs are left to fault as they are used; a VMA without
  any access (PROT_NONE) or a page beyond the end of its file stops it with
  EFAULT (``populate_vma_page_range``);
- ``mlockall`` applies the flags to every VMA (``MCL_CURRENT``) and sets
  ``mm->def_flags`` so that every later mapping is locked too (``MCL_FUTURE``);
  ``munlockall`` clears both;
- locked pages stay: fork does not inherit ``VM_LOCKED``, ``MADV_DONTNEED``
  refuses a locked VMA, ``msync(MS_INVALIDATE)`` fails with EBUSY over one.
"""

from __future__ import annotations

import errno
import signal

from mmapsim.constants import MCL_CURRENT, PAGE_SHIFT, PAGE_SIZE
from mmapsim.errors import syscall_error
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.fault import MemoryFault, handle_fault
from mmapsim.mm.memlayout import TASK_SIZE
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_WRITE
from mmapsim.mm.vma import (
    VM_ACCESS_FLAGS,
    VM_LOCKED,
    VM_LOCKED_MASK,
    VM_LOCKONFAULT,
    VM_SHARED,
    VM_WRITE,
    Vma,
    VmFlag,
)
from mmapsim.mm.vma_flags import modify_flags
from mmapsim.physmem import PG_REFERENCED


def populate_vma_range(mm: AddressSpace, vma: Vma, start: int, end: int, write: bool) -> int:
    """Fault in the pages of ``[start, end)`` of ``vma``; returns the errno of the
    first page that cannot be (EFAULT: beyond end of file; ENOMEM: no frame), or 0.

    ``write``: fault for writing (a private writable mapping's copy-on-write is
    broken); otherwise a read fault maps what a load would.

    Preconditions: ``[start, end)`` is page aligned and lies inside ``vma``, a VMA of
    ``mm``.
    """
    stop = end
    if vma.inode is not None:
        file_pages = vma.inode.pages
        stop = min(end, max(start, vma.start + ((file_pages - vma.pgoff) << PAGE_SHIFT)))
    pt, flags = mm.pt, mm.physmem.flags
    for va in range(start, stop, PAGE_SIZE):
        pte = pt.get(va >> PAGE_SHIFT)
        if pte is None or (write and not pte & PTE_WRITE):
            try:
                pte = handle_fault(mm, va, write)
            except MemoryFault as fault:
                return errno.ENOMEM if fault.signal is signal.SIGKILL else errno.EFAULT
        flags[pte >> PFN_SHIFT] |= PG_REFERENCED  # get_user_pages marks what it touches
    return errno.EFAULT if stop < end else 0


def mm_populate(mm: AddressSpace, start: int, end: int, ignore_errors: bool) -> None:
    """``__mm_populate``: fault in the locked or populated VMAs of ``[start, end)``.

    Raises OSError with the first failure (EFAULT for a page that cannot be
    faulted in, ENOMEM when memory runs out), unless ``ignore_errors``.
    Partial effect, as on Linux: the pages before the failure stay present.

    Preconditions: ``start`` and ``end`` are page aligned.
    """
    va = start
    while va < end:
        vma = mm.vmas.find_from(va)
        if vma is None or vma.start >= end:
            return
        lo, hi = max(va, vma.start), min(end, vma.end)
        va = hi
        flags = int(vma.flags)
        if flags & VM_LOCKONFAULT:
            continue
        if not flags & VM_ACCESS_FLAGS:
            err = errno.EFAULT
        else:
            err = populate_vma_range(mm, vma, lo, hi, flags & (VM_WRITE | VM_SHARED) == VM_WRITE)
        if err and not ignore_errors:
            raise syscall_error(err)


#: __mlock_posix_error_return: what mlock reports for a populate failure.
_POSIX_ERROR = {errno.EFAULT: errno.ENOMEM, errno.ENOMEM: errno.EAGAIN}


def do_mlock(mm: AddressSpace, start: int, end: int, lock_flags: int, max_map_count: int) -> None:
    """do_mlock: give ``[start, end)`` the lock flags, then populate it; a populate
    failure is POSIX's errno (EFAULT becomes ENOMEM, ENOMEM becomes EAGAIN).

    Partial effect, as on Linux: the VMAs before a hole stay locked (and are
    not populated), and a VMA whose pages cannot all be faulted in (PROT_NONE,
    beyond end of file) stays locked.

    Preconditions: ``start`` and ``end`` are page aligned, ``start < end``.
    """
    apply_lock_flags(mm, start, end, lock_flags, max_map_count)
    try:
        mm_populate(mm, start, end, ignore_errors=False)
    except OSError as err:
        raise syscall_error(_POSIX_ERROR[err.errno or errno.EFAULT]) from None


def do_mlockall(mm: AddressSpace, flags: int, max_map_count: int) -> None:
    """mlockall's work: the lock flags of every VMA and of later ones, then
    (MCL_CURRENT) every VMA populated, the pages that cannot be left out.

    Preconditions: ``flags`` is a valid mlockall flag set (0: munlockall).
    """
    apply_mlockall(mm, flags, max_map_count)
    if flags & MCL_CURRENT:
        mm_populate(mm, 0, TASK_SIZE, ignore_errors=True)


def _lockable(vma: Vma) -> bool:
    """mlock_fixup leaves special VMAs alone: droppable and hugetlb memory are never locked."""
    return not vma.flags & (VmFlag.DROPPABLE | VmFlag.HUGETLB)


def apply_lock_flags(
    mm: AddressSpace, start: int, end: int, lock_flags: int, max_map_count: int
) -> None:
    """``apply_vma_lock_flags``: give ``[start, end)`` the lock flags ``lock_flags``
    (0 unlocks).

    Partial effect, as on Linux: a hole fails with ENOMEM after the VMAs
    before it have their new flags.

    Preconditions: ``start`` and ``end`` are page aligned, ``start < end``; ``lock_flags``
    holds only VM_LOCKED and VM_LOCKONFAULT.
    """
    vma = mm.vmas.find(start)
    if vma is None:
        raise syscall_error(errno.ENOMEM)
    va = start
    while True:
        hi = min(end, vma.end)
        if _lockable(vma):
            flags = (int(vma.flags) & ~VM_LOCKED_MASK) | lock_flags
            modify_flags(mm, vma, va, hi, flags, max_map_count)
        va = hi
        if va >= end:
            return
        vma = mm.vmas.find(va)
        if vma is None:
            raise syscall_error(errno.ENOMEM)


def apply_mlockall(mm: AddressSpace, flags: int, max_map_count: int) -> None:
    """``apply_mlockall_flags``: ``mm->def_flags`` for MCL_FUTURE, and the lock
    flags of every VMA for MCL_CURRENT (``flags`` 0: munlockall).  A VMA that
    cannot be split is skipped, as Linux ignores those errors."""
    mcl_current, mcl_future, mcl_onfault = 1, 2, 4
    onfault = VM_LOCKONFAULT if flags & mcl_onfault else 0
    mm.def_flags &= ~VM_LOCKED_MASK
    if flags & mcl_future:
        mm.def_flags |= VM_LOCKED | onfault
        if not flags & mcl_current:
            return
    to_add = VM_LOCKED | onfault if flags & mcl_current else 0
    for vma in mm.vmas:
        if vma.mm is not mm or not _lockable(vma):
            continue  # merged away by an earlier step
        new = (int(vma.flags) & ~VM_LOCKED_MASK) | to_add
        try:
            modify_flags(mm, vma, vma.start, vma.end, new, max_map_count)
        except OSError:
            continue


def locked_bytes(mm: AddressSpace, start: int = 0, end: int | None = None) -> int:
    """The bytes of VM_LOCKED VMAs (in ``[start, end)``): ``mm->locked_vm`` in bytes."""
    total = 0
    for vma in mm.vmas:
        if vma.flags & VmFlag.LOCKED:
            lo, hi = max(start, vma.start), vma.end if end is None else min(end, vma.end)
            total += max(0, hi - lo)
    return total
