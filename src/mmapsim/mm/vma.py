"""Virtual memory areas: one contiguous range of an address space with one meaning.

A VMA is ``[start, end)`` with the flags of Linux's ``vm_flags`` (what is
allowed now, what mprotect may allow later, shared or private, locked,
accounted), what backs it (an open file description at page offset ``pgoff``,
the hidden inode of shared anonymous memory, or nothing for private anonymous
memory) and, for private mappings, the ``anon_vma`` that groups its anonymous
pages.  Two VMAs merge exactly when Linux's ``is_mergeable_vma`` and
``is_mergeable_anon_vma`` would let them.
"""

from __future__ import annotations

from enum import IntFlag
from typing import TYPE_CHECKING, Final

from mmapsim.constants import PAGE_SHIFT, Prot

if TYPE_CHECKING:
    from mmapsim.fs.file import OpenFile
    from mmapsim.fs.inode import Inode
    from mmapsim.mm.address_space import AddressSpace


class VmFlag(IntFlag):
    """Linux's ``vm_flags`` bits that this kernel models (include/linux/mm.h)."""

    READ = 0x1
    WRITE = 0x2
    EXEC = 0x4
    SHARED = 0x8
    MAYREAD = 0x10
    MAYWRITE = 0x20
    MAYEXEC = 0x40
    MAYSHARE = 0x80
    GROWSDOWN = 0x100
    LOCKED = 0x2000
    SEQ_READ = 0x8000
    RAND_READ = 0x10000
    DONTCOPY = 0x20000
    DONTEXPAND = 0x40000
    LOCKONFAULT = 0x80000
    ACCOUNT = 0x100000
    NORESERVE = 0x200000
    HUGETLB = 0x400000
    SYNC = 0x800000
    WIPEONFORK = 0x2000000
    DONTDUMP = 0x4000000
    HUGEPAGE = 0x20000000
    NOHUGEPAGE = 0x40000000
    MERGEABLE = 0x80000000
    #: VM_PKEY_BIT0: protection key 1, the execute-only key (x86 with pku/ospke)
    PKEY_EXEC_ONLY = 1 << 32
    DROPPABLE = 1 << 40


# The same bits as plain ints, under Linux's names, for arithmetic on hot paths
# (an IntFlag operation builds a new enum member each time).
VM_READ: Final = int(VmFlag.READ)
VM_WRITE: Final = int(VmFlag.WRITE)
VM_EXEC: Final = int(VmFlag.EXEC)
VM_SHARED: Final = int(VmFlag.SHARED)
VM_MAYREAD: Final = int(VmFlag.MAYREAD)
VM_MAYWRITE: Final = int(VmFlag.MAYWRITE)
VM_MAYEXEC: Final = int(VmFlag.MAYEXEC)
VM_MAYSHARE: Final = int(VmFlag.MAYSHARE)
VM_GROWSDOWN: Final = int(VmFlag.GROWSDOWN)
VM_LOCKED: Final = int(VmFlag.LOCKED)
VM_LOCKONFAULT: Final = int(VmFlag.LOCKONFAULT)
#: VM_LOCKED_MASK: what mlock and munlock set and clear.
VM_LOCKED_MASK: Final = VM_LOCKED | VM_LOCKONFAULT
VM_DONTEXPAND: Final = int(VmFlag.DONTEXPAND)
VM_HUGETLB: Final = int(VmFlag.HUGETLB)
VM_SYNC: Final = int(VmFlag.SYNC)
VM_NOHUGEPAGE: Final = int(VmFlag.NOHUGEPAGE)
VM_PKEY_EXEC_ONLY: Final = int(VmFlag.PKEY_EXEC_ONLY)
VM_ACCOUNT: Final = int(VmFlag.ACCOUNT)
VM_NORESERVE: Final = int(VmFlag.NORESERVE)
VM_WIPEONFORK: Final = int(VmFlag.WIPEONFORK)
VM_DONTDUMP: Final = int(VmFlag.DONTDUMP)
VM_DROPPABLE: Final = int(VmFlag.DROPPABLE)
VM_ACCESS_FLAGS: Final = VM_READ | VM_WRITE | VM_EXEC

#: The abbreviations of /proc/<pid>/smaps's VmFlags line, in the kernel's order.
SMAPS_FLAG_NAMES = (
    (VmFlag.READ, "rd"),
    (VmFlag.WRITE, "wr"),
    (VmFlag.EXEC, "ex"),
    (VmFlag.SHARED, "sh"),
    (VmFlag.MAYREAD, "mr"),
    (VmFlag.MAYWRITE, "mw"),
    (VmFlag.MAYEXEC, "me"),
    (VmFlag.MAYSHARE, "ms"),
    (VmFlag.GROWSDOWN, "gd"),
    (VmFlag.LOCKED, "lo"),
    (VmFlag.SEQ_READ, "sr"),
    (VmFlag.RAND_READ, "rr"),
    (VmFlag.DONTCOPY, "dc"),
    (VmFlag.DONTEXPAND, "de"),
    (VmFlag.LOCKONFAULT, "lf"),
    (VmFlag.ACCOUNT, "ac"),
    (VmFlag.NORESERVE, "nr"),
    (VmFlag.HUGETLB, "ht"),
    (VmFlag.SYNC, "sf"),
    (VmFlag.WIPEONFORK, "wf"),
    (VmFlag.DONTDUMP, "dd"),
    (VmFlag.HUGEPAGE, "hg"),
    (VmFlag.NOHUGEPAGE, "nh"),
    (VmFlag.MERGEABLE, "mg"),
    (VmFlag.DROPPABLE, "dp"),
)


def prot_to_vm(prot: Prot) -> VmFlag:
    """calc_vm_prot_bits: PROT_* to VM_READ/WRITE/EXEC."""
    return VmFlag(int(prot) & 0x7)


class AnonVma:
    """Groups the anonymous pages of related private VMAs (Linux's anon_vma).

    ``forked``: made by fork for a child's VMA, so chained to the parent's
    (its ``anon_vma_chain`` is not singular), which keeps the VMA from merging
    with a neighbour that has no anonymous pages yet.
    """

    __slots__ = ("forked", "id")
    _next = 1

    def __init__(self, forked: bool = False) -> None:
        self.id = AnonVma._next
        self.forked = forked
        AnonVma._next += 1


class Vma:
    """One virtual memory area.

    Invariants: ``start < end``, both page aligned; ``inode`` is the file's (or
    the shmem) inode when the VMA is file-backed or shared anonymous, else None;
    ``readable``/``writable``/``shared`` mirror ``flags``.
    """

    __slots__ = (
        "__weakref__",
        "anon_vma",
        "end",
        "file",
        "flags",
        "growsdown",
        "inode",
        "mm",
        "name",
        "pgoff",
        "readable",
        "shared",
        "start",
        "writable",
    )

    def __init__(
        self,
        start: int,
        end: int,
        flags: int,
        pgoff: int,
        file: OpenFile | None = None,
        inode: Inode | None = None,
        name: str = "",
    ) -> None:
        self.start = start
        self.end = end
        self.pgoff = pgoff
        self.file = file
        self.inode = inode
        self.name = name
        self.anon_vma: AnonVma | None = None
        self.mm: AddressSpace | None = None
        self.flags = VmFlag(flags)
        self.readable = self.writable = self.shared = self.growsdown = False
        self.set_flags(flags)

    def set_flags(self, flags: int) -> None:
        """Change ``flags`` and the cached booleans the hot paths read."""
        f = int(flags)
        self.flags = VmFlag(f)
        # x86: write and exec both imply read, but for execute-only memory
        # (exec alone under the execute-only protection key)
        self.readable = bool(f & (VM_READ | VM_WRITE)) or (
            bool(f & VM_EXEC) and not f & VM_PKEY_EXEC_ONLY
        )
        self.writable = bool(f & VM_WRITE)
        self.shared = bool(f & VM_SHARED)
        self.growsdown = bool(f & VM_GROWSDOWN)

    @property
    def is_anonymous(self) -> bool:
        """Private anonymous memory: no file, no shmem inode."""
        return self.inode is None

    @property
    def may_share(self) -> bool:
        return bool(self.flags & VmFlag.MAYSHARE)

    @property
    def length(self) -> int:
        return self.end - self.start

    def pgoff_of(self, va: int) -> int:
        """The file page offset that ``va`` maps."""
        return self.pgoff + ((va - self.start) >> PAGE_SHIFT)

    def copy(self) -> Vma:
        """An identical VMA (for splitting and fork); the caller fixes references."""
        twin = Vma(self.start, self.end, self.flags, self.pgoff, self.file, self.inode, self.name)
        twin.anon_vma = self.anon_vma
        return twin

    def can_merge_after(self, prev: Vma) -> bool:
        """Whether ``prev`` (ending where this starts) and this VMA may be one VMA."""
        if prev.end != self.start or prev.flags != self.flags or prev.file is not self.file:
            return False
        if prev.inode is not self.inode or prev.name != self.name:
            return False
        if self.inode is not None and self.inode.vm_ops is not None:
            return False  # a VMA with a close operation never merges
        if not _anon_vmas_mergeable(prev.anon_vma, self.anon_vma):
            return False
        return prev.pgoff + ((prev.end - prev.start) >> PAGE_SHIFT) == self.pgoff

    def __repr__(self) -> str:
        return f"<Vma {self.start:#x}-{self.end:#x} {int(self.flags):#x} pgoff={self.pgoff}>"


def _anon_vmas_mergeable(a: AnonVma | None, b: AnonVma | None) -> bool:
    """is_mergeable_anon_vma: equal, or one absent and the other not from fork."""
    if a is None or b is None:
        other = a or b
        return other is None or not other.forked
    return a is b
