"""The memory system calls: mmap(2), munmap(2), msync(2), mprotect(2).

Each checks its arguments in the order Linux 6.x on x86-64 does (the order
decides which errno a call with several mistakes gets), then calls into
:mod:`mmapsim.mm`.  Arguments arrive decoded (unsigned addresses and lengths,
unsigned 32-bit flag words, a signed ``off_t``).
"""

from __future__ import annotations

import errno

from mmapsim.abi import U64_MAX
from mmapsim.constants import (
    MAP_32BIT,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_HUGETLB,
    MAP_LOCKED,
    MAP_NONBLOCK,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_STACK,
    MAP_SYNC,
    MAP_TYPE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    MsFlag,
    Prot,
)
from mmapsim.errors import syscall_error
from mmapsim.events import Munmapped
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import InodeKind
from mmapsim.kernel import Kernel, Task
from mmapsim.mm import mapping
from mmapsim.mm.memlayout import MMAP_MIN_ADDR, TASK_SIZE
from mmapsim.mm.msync import sync_range
from mmapsim.mm.protect import mprotect_fixup, new_flags
from mmapsim.mm.vma import (
    VM_ACCESS_FLAGS,
    VM_ACCOUNT,
    VM_HUGETLB,
    VM_LOCKED,
    VM_LOCKONFAULT,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYWRITE,
    VM_NOHUGEPAGE,
    VM_NORESERVE,
    VM_PKEY_EXEC_ONLY,
    VM_SHARED,
    VM_SYNC,
    VM_WRITE,
    VmFlag,
    prot_to_vm,
)
from mmapsim.syscalls.mmap_checks import (
    HugetlbInode,
    MmapPlan,
    check_anon,
    check_file,
    huge_page_size,
)

#: The device of the hugetlbfs mount that MAP_HUGETLB's files live on ("00:11").
HUGETLBFS_DEV = 0x0011
_PAGE_OFF = PAGE_SIZE - 1
#: The lowest address the kernel can return that is not an errno (-4095..-1).
_ERR_VALUE = U64_MAX - 4094
#: calc_vm_flag_bits: mmap flags that become VMA flags as they are.
_FLAG_BITS = ((MAP_LOCKED, VM_LOCKED), (MAP_SYNC, VM_SYNC), (MAP_STACK, VM_NOHUGEPAGE))


def _page_align(n: int) -> int:
    """PAGE_ALIGN in 64-bit arithmetic (it wraps to 0 near 2**64)."""
    return ((n + _PAGE_OFF) & ~_PAGE_OFF) & U64_MAX


def sys_mmap(
    k: Kernel, task: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int
) -> int:
    """Implements the semantics of Linux's mmap(2) on x86-64; returns the address.

    ``flags`` stays a plain int here (checked bit by bit, as do_mmap does, and
    fast); the VMA gets its typed ``VmFlag``.  MAP_HUGETLB of anonymous memory
    maps an unnamed hugetlbfs file (``ksys_mmap_pgoff``); with no huge page
    reserved, only MAP_NORESERVE succeeds and an access is SIGBUS.  On a CPU
    with protection keys (``Machine(pkeys=True)``), PROT_EXEC alone is
    execute-only memory.

    Deviation: a MAP_FIXED address below mmap_min_addr fails with EPERM even
    though processes run as root (see docs/deviations.md).
    """
    off = offset & U64_MAX
    if off & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    pgoff = off >> PAGE_SHIFT
    file = None
    huge = 0
    if not flags & MAP_ANONYMOUS:
        file = k.fd_file(task, fd)
        if flags & MAP_HUGETLB:
            raise syscall_error(errno.EINVAL)
    elif flags & MAP_HUGETLB:
        huge = huge_page_size(flags)
        length = ((length + huge - 1) & ~(huge - 1)) & U64_MAX
    if length == 0:
        raise syscall_error(errno.EINVAL)
    if flags & MAP_FIXED_NOREPLACE:
        flags |= MAP_FIXED
    if not flags & MAP_FIXED:
        addr &= ~_PAGE_OFF
        if addr and addr < MMAP_MIN_ADDR:
            addr = MMAP_MIN_ADDR
    length = _page_align(length)
    if length == 0:
        raise syscall_error(errno.ENOMEM)
    if pgoff + (length >> PAGE_SHIFT) > U64_MAX:
        raise syscall_error(errno.EOVERFLOW)
    if len(task.mm.vmas) > k.max_map_count:
        raise syscall_error(errno.ENOMEM)
    thp = file is None and not huge and (flags & MAP_TYPE) == MAP_PRIVATE
    addr = _place(task, addr, length, flags, thp, huge)
    vm_flags = (prot & VM_ACCESS_FLAGS) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    vm_flags |= task.mm.def_flags  # mlockall(MCL_FUTURE): locked from the start
    if k.pkeys and prot == PROT_EXEC:
        vm_flags |= VM_PKEY_EXEC_ONLY
    for map_flag, vm_flag in _FLAG_BITS:
        if flags & map_flag:
            vm_flags |= vm_flag
    if file is not None:
        plan = check_file(file, file.inode, flags, prot, pgoff, length, vm_flags)
    elif huge:
        ino = k.fs.new_inode(InodeKind.REGULAR, 0o600).ino  # a number of its own
        inode = HugetlbInode(ino, InodeKind.REGULAR, 0o600, k.clock.now_ns(), HUGETLBFS_DEV)
        inode.huge_page_size, inode.name, inode.size = huge, "/anon_hugepage", length
        inode.disk.resize(length)
        plan = check_file(None, inode, flags, prot, pgoff, length, vm_flags)
    else:
        plan = check_anon(flags, addr, vm_flags)
    return _mmap_region(k, task, addr, length, flags, plan, file)


def _place(task: Task, addr: int, length: int, flags: int, thp: bool, huge: int) -> int:
    """get_unmapped_area (hugetlbfs's for ``huge``), then MAP_FIXED_NOREPLACE's
    overlap check.  A MAP_FIXED address comes back as it is, and one in the
    last 4095 bytes reads as an errno: -1 is EPERM, -12 ENOMEM (the kernel's
    return-value encoding)."""
    if length > TASK_SIZE:
        raise syscall_error(errno.ENOMEM)
    if flags & MAP_FIXED:
        if huge and addr & (huge - 1):
            raise syscall_error(errno.EINVAL)
        if addr >= _ERR_VALUE:
            raise syscall_error(U64_MAX + 1 - addr)
        if addr > TASK_SIZE - length:
            raise syscall_error(errno.ENOMEM)
        if addr & _PAGE_OFF:
            raise syscall_error(errno.EINVAL)
        if addr < MMAP_MIN_ADDR:
            raise syscall_error(errno.EPERM)
        if flags & MAP_FIXED_NOREPLACE and task.mm.vmas.overlapping(addr, addr + length):
            raise syscall_error(errno.EEXIST)
        return addr
    if huge and addr:
        addr = (addr + huge - 1) & ~(huge - 1)
    low32 = bool(flags & MAP_32BIT)
    found = mapping.get_unmapped_area(
        task.mm, addr, length, thp, low32=low32, align=huge or PAGE_SIZE
    )
    if found is None:
        raise syscall_error(errno.ENOMEM)
    return found


def _mmap_region(
    k: Kernel, task: Task, addr: int, length: int, flags: int, plan: MmapPlan, file: OpenFile | None
) -> int:
    """mmap_region: unmap what is in the way, account, let the object's mmap
    operation run (a failure there leaves the hole), create shared anonymous
    memory, map, populate."""
    vm_flags, inode, pgoff = plan.vm_flags, plan.inode, plan.pgoff
    mm = task.mm
    mapping.check_splits(mm, addr, addr + length)
    if flags & MAP_NORESERVE:
        vm_flags |= VM_NORESERVE
    hugetlb = bool(vm_flags & VM_HUGETLB)
    if not hugetlb and (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE:
        vm_flags |= VM_ACCOUNT
        _vm_enough_memory(k, length)
    if plan.op_error:
        mapping.unmap(mm, addr, addr + length)
        raise syscall_error(plan.op_error)
    if vm_flags & VM_SHARED and inode is None:
        # MAP_SHARED|MAP_ANONYMOUS, or MAP_SHARED of /dev/zero: a hidden shmem
        # inode of the mapping's size, at the mapping's offset (shmem_zero_setup)
        inode = k.fs.new_inode(InodeKind.SHMEM, 0o600)
        inode.name = "/dev/zero"
        k.pagecache.resize(inode, length)
        file = None
    vma = mapping.map_region(mm, addr, length, vm_flags, pgoff, file, inode)
    locked = vm_flags & (VM_LOCKED | VM_LOCKONFAULT) == VM_LOCKED  # ONFAULT: as used
    if (flags & MAP_POPULATE and not flags & MAP_NONBLOCK) or locked:
        mapping.populate(mm, vma, addr, addr + length)
    return addr


def _vm_enough_memory(k: Kernel, length: int) -> None:
    """The default overcommit heuristic: one charge may not exceed all of memory.

    (``__vm_enough_memory`` with ``vm.overcommit_memory = 0``; this machine has no swap.)
    """
    if length >> PAGE_SHIFT > k.physmem.limit:
        raise syscall_error(errno.ENOMEM)


def sys_munmap(k: Kernel, task: Task, addr: int, length: int) -> None:
    """Implements the semantics of Linux's munmap(2)."""
    if addr & _PAGE_OFF or addr > TASK_SIZE or length > TASK_SIZE - addr:
        raise syscall_error(errno.EINVAL)
    length = _page_align(length)
    if length == 0:
        raise syscall_error(errno.EINVAL)
    end = addr + length
    mapping.check_splits(task.mm, addr, end)
    if mapping.splits_needed(task.mm, addr, end) and len(task.mm.vmas) >= k.max_map_count:
        raise syscall_error(errno.ENOMEM)
    mm = task.mm
    if mm.bus.active:
        touched = len(mm.vmas.overlapping(addr, end))
        present = len(mm.ptes_in(addr, end))
        mm.bus.emit(Munmapped(mm.pid, addr, end, touched, present))
    mapping.unmap(mm, addr, end)


def sys_msync(k: Kernel, task: Task, addr: int, length: int, flags: int) -> None:
    """Implements the semantics of Linux's msync(2).

    Partial effect, as on Linux: when the range has holes, the mapped parts
    are synced before the call fails with ENOMEM.
    """
    if flags & ~int(MsFlag.ASYNC | MsFlag.INVALIDATE | MsFlag.SYNC):
        raise syscall_error(errno.EINVAL)
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    if flags & MsFlag.ASYNC and flags & MsFlag.SYNC:
        raise syscall_error(errno.EINVAL)
    length = _page_align(length)
    end = addr + length
    if end > U64_MAX:
        raise syscall_error(errno.ENOMEM)
    if end == addr:
        return
    err = sync_range(task.mm, addr, end, MsFlag(flags))
    if err:
        raise syscall_error(err)


def sys_mprotect(k: Kernel, task: Task, addr: int, length: int, prot: int) -> None:
    """Implements the semantics of Linux's mprotect(2).

    Partial effect, as on Linux: the VMAs before a hole (ENOMEM) or before a
    VMA that forbids the protection (EACCES) keep their new protection.
    """
    grows = prot & (Prot.GROWSDOWN | Prot.GROWSUP)
    prot &= ~int(Prot.GROWSDOWN | Prot.GROWSUP)
    if grows == Prot.GROWSDOWN | Prot.GROWSUP:
        raise syscall_error(errno.EINVAL)
    if addr & _PAGE_OFF:
        raise syscall_error(errno.EINVAL)
    if length == 0:
        return
    end = addr + _page_align(length)
    if end <= addr or end > U64_MAX:
        raise syscall_error(errno.ENOMEM)
    if prot & ~int(Prot.READ | Prot.WRITE | Prot.EXEC | 0x8):  # PROT_SEM is allowed
        raise syscall_error(errno.EINVAL)
    mm = task.mm
    vma = mm.vmas.find_from(addr)
    if vma is None:
        raise syscall_error(errno.ENOMEM)
    if grows & Prot.GROWSDOWN:
        if vma.start >= end:
            raise syscall_error(errno.ENOMEM)
        addr = vma.start
        if not vma.flags & VmFlag.GROWSDOWN:
            raise syscall_error(errno.EINVAL)
    elif vma.start > addr:
        raise syscall_error(errno.ENOMEM)
    elif grows:
        raise syscall_error(errno.EINVAL)
    bits = int(prot_to_vm(Prot(prot & 0x7)))
    if k.pkeys and prot == PROT_EXEC:  # arch_override_mprotect_pkey
        bits |= VM_PKEY_EXEC_ONLY
    _protect_walk(k, task, addr, end, VmFlag(bits))


def _protect_walk(k: Kernel, task: Task, start: int, end: int, prot_bits: VmFlag) -> None:
    mm = task.mm
    vma = mm.vmas.find_from(start)
    while vma is not None:
        flags = new_flags(vma, prot_bits & ~VmFlag.PKEY_EXEC_ONLY)
        flags = (flags & ~VmFlag.PKEY_EXEC_ONLY) | (prot_bits & VmFlag.PKEY_EXEC_ONLY)
        access = VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC
        if (int(flags) & ~(int(flags) >> 4)) & access:
            raise syscall_error(errno.EACCES)
        upto = min(vma.end, end)
        if flags & ~vma.flags & VmFlag.ACCOUNT:  # mprotect charges what becomes writable
            _vm_enough_memory(k, upto - start)
        mprotect_fixup(mm, vma, start, upto, flags, k.max_map_count)
        start = upto
        if start >= end:
            return
        vma = mm.vmas.find_from(start)
        if vma is None or vma.start > start:
            break
    raise syscall_error(errno.ENOMEM)
