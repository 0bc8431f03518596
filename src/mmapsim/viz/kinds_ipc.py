"""The page's kinds for the second round's shared memory (see ``kinds``).

A System V segment (``sysv-shm``) and a memfd (``memfd``) are drawn with their
own colour and badge; a file of the tmpfs at ``/dev/shm`` (POSIX shared memory)
is a file, shared or private, like any other.
"""

from __future__ import annotations

from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.mm.vma import Vma, VmFlag


def ipc_kind(vma: Vma) -> str | None:
    """``sysv-shm``, ``memfd``, or a file kind for /dev/shm; None for other VMAs."""
    inode = vma.inode
    if inode is None or inode.kind is not InodeKind.SHMEM:
        return None
    if inode.vm_ops is not None:
        return "sysv-shm"
    if inode.name.startswith("/memfd:"):
        return "memfd"
    if inode.name.startswith("/dev/shm/"):
        return ("shared" if vma.flags & VmFlag.MAYSHARE else "private") + "-file"
    return None


def ipc_label(inode: Inode) -> str | None:
    """How the picture names a segment, a memfd or a /dev/shm file (None: another inode)."""
    if inode.kind is not InodeKind.SHMEM or not inode.name or inode.name == "/dev/zero":
        return None
    if inode.vm_ops is not None:
        return f"{inode.name} (System V segment {inode.ino})"
    return inode.name  # a memfd's or a tmpfs file's name (the label never changes)
