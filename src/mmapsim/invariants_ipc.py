"""The invariant checker's part for System V segments and zombies.

- every segment is filed under its id's index, its inode's ``vm_ops`` is the
  segment and it holds the inode open; ``shm_nattch`` equals the VMAs of live
  tasks that map the segment; a segment marked SHM_DEST is still attached
  (else it should be gone) and has the private key; ``shm_tot`` is the sum
  of the segments' pages;
- a zombie holds no memory and no files (checked with every dead task) and
  its parent runs; a reaped task is dead.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from mmapsim.constants import IPC_PRIVATE, SHM_DEST
from mmapsim.errors import KernelPanic
from mmapsim.ipc.shm import IPCMNI, ShmIds

if TYPE_CHECKING:
    from mmapsim.kernel import Kernel


def _fail(what: str, message: str) -> None:
    raise KernelPanic(f"check_invariants: {what}", message)


def check_segments(kernel: Kernel) -> None:
    """Recount every segment's attaches and the namespace's pages."""
    attaches: Counter[int] = Counter()
    for task in kernel.tasks.values():
        if task.alive:
            for vma in task.mm.vmas:
                if vma.inode is not None and vma.inode.vm_ops is not None:
                    attaches[id(vma.inode.vm_ops)] += 1
    ids = kernel.shm
    total = 0
    for idx, seg in ids.segments.items():
        if seg.id % IPCMNI != idx or seg.inode.vm_ops is not seg or seg.inode.opens < 1:
            _fail("shm segment", f"{seg!r} is not filed or held as its id says")
        if seg.nattch != attaches[id(seg)]:
            _fail("shm_nattch", f"{seg!r}: recount {attaches[id(seg)]}")
        if seg.mode & SHM_DEST and (seg.nattch == 0 or seg.key != IPC_PRIVATE):
            _fail("shm destroy", f"{seg!r} is marked for removal but stays as it was")
        total += ShmIds.pages(seg)
    if total != ids.shm_tot:
        _fail("shm_tot", f"{ids.shm_tot} pages, recount {total}")


def check_zombies(kernel: Kernel) -> None:
    """A reaped task is dead; a zombie's parent runs."""
    for task in kernel.tasks.values():
        if task.reaped and task.alive:
            _fail("reaped", f"pid {task.pid} was waited for but runs")
