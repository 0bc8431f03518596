"""What kind of mapping a VMA is, and whether it belongs to the stand-in program.

The page draws each kind with its own colour, border and two-letter badge
(``page.css`` and ``KIND`` in ``draw.js``).  A new kind of mapping (say a
System V segment or a memfd) is one entry in :data:`CLASSIFIERS` that
recognises its VMAs, and one line in each of those two tables; a kind the page
does not know is drawn in a neutral style with its name as the badge.

The *program* regions are those the lecture's figure shows below and above the
mapping area: the text, data and read-only data of the executable, the heap
and the stack.  The page folds them into one line per process unless asked to
show everything, so the mappings a scenario made stand out.
"""

from __future__ import annotations

from collections.abc import Callable

from mmapsim.fs.inode import InodeKind
from mmapsim.kernel import Task
from mmapsim.mm.proc_maps import vma_name
from mmapsim.mm.vma import Vma, VmFlag
from mmapsim.viz.kinds_ipc import ipc_kind

#: Checked in order before the four classic kinds; the first to answer wins.
CLASSIFIERS: list[Callable[[Vma], str | None]] = [ipc_kind]

#: Roles of the stand-in program's own regions (folded by default).
PROGRAM_ROLES = frozenset({"text", "rodata", "data", "heap", "stack"})

#: Special regions the kernel makes that a lesson rarely speaks of.
SPECIAL_NAMES = frozenset({"[vdso]", "[vvar]", "[vsyscall]"})


def vma_kind(vma: Vma) -> str:
    """``shared-file``, ``private-file``, ``shared-anon`` or ``private-anon`` (or
    a kind that a classifier in :data:`CLASSIFIERS` names)."""
    for classify in CLASSIFIERS:
        kind = classify(vma)
        if kind is not None:
            return kind
    sharing = "shared" if vma.flags & VmFlag.MAYSHARE else "private"
    inode = vma.inode
    backing = "file" if inode is not None and inode.kind is not InodeKind.SHMEM else "anon"
    return f"{sharing}-{backing}"


def vma_role(task: Task, vma: Vma) -> str:
    """Where the VMA sits in the lecture's figure: text, data, heap, mmap or stack."""
    name = vma_name(vma)
    if name == "[heap]":
        return "heap"
    if name == "[stack]":
        return "stack"
    brk = task.mm.brk_start
    if brk and vma.end <= brk:
        if vma.flags & VmFlag.EXEC:
            return "text"
        return "data" if vma.flags & VmFlag.WRITE else "rodata"
    return "mmap"


def is_program(role: str, name: str) -> bool:
    """True for the stand-in program's own regions, which focus mode folds."""
    return role in PROGRAM_ROLES or name in SPECIAL_NAMES
