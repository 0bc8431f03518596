"""A picture of the whole simulated machine as plain JSON-able data.

``snapshot(machine)`` reads the kernel's structures and changes nothing.  It is
sized by what is resident, never by what is mapped: a VMA lists only its
present pages (``[page index, pfn, state]``), so a 64 TiB mapping with three
touched pages costs three entries.  The page states are the ones the lecture
speaks of:

- ``ro``  present, read-only (a shared page before its first write, or a
  read-only mapping);
- ``rw``  present and writable;
- ``cow`` present read-only in a writable private mapping: the next write copies
  it (copy-on-write);
- ``zero`` the one zero frame, mapped for a read of untouched anonymous memory.

Whether a page-cache frame is dirty is a property of the frame (``frames``).
"""

from __future__ import annotations

from typing import Any

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.kernel import Kernel, Task
from mmapsim.machine import Machine
from mmapsim.mm.procfs import maps_line, vma_name
from mmapsim.mm.vma import Vma, VmFlag
from mmapsim.physmem import ZERO_PFN, Frame

Json = dict[str, Any]

#: How many bytes of each file page the picture shows.
PREVIEW_BYTES = 32


def snapshot(machine: Machine, names: dict[int, str] | None = None) -> Json:
    """The processes, frames and files of ``machine``, as JSON-able data.

    ``names`` gives a process a name by pid (a scenario's ``A``, ``B``, ...); the
    others keep the kernel's name.
    """
    kernel = machine.kernel
    tasks = [t for t in kernel.tasks.values() if t.alive]
    names = names or {}
    return {
        "procs": [process_view(t, names.get(t.pid)) for t in tasks],
        "frames": frames_view(kernel, tasks),
        "files": [file_view(inode) for inode in visible_inodes(kernel, tasks)],
    }


# -- processes ----------------------------------------------------------------


def process_view(task: Task, name: str | None = None) -> Json:
    """One process: its pid, name and VMAs from low addresses to high."""
    return {
        "pid": task.pid,
        "name": name or task.name,
        "vmas": [vma_view(task, vma) for vma in task.mm.vmas],
    }


def vma_kind(vma: Vma) -> str:
    """``shared-file``, ``private-file``, ``shared-anon`` or ``private-anon``."""
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


def page_state(vma: Vma, readable: bool, writable: bool, frame: Frame) -> str:
    """The state of one present page (see the module docstring)."""
    if frame.pfn == ZERO_PFN:
        return "zero"
    if writable:
        return "rw"
    if vma.writable and not vma.shared:
        return "cow"
    return "ro" if readable else "none"


def vma_view(task: Task, vma: Vma) -> Json:
    """One VMA with its present pages only."""
    first = vma.start >> PAGE_SHIFT
    pages = [
        [vpn - first, pte.frame.pfn, page_state(vma, pte.readable, pte.writable, pte.frame)]
        for vpn, pte in task.mm.ptes_in(vma.start, vma.end)
    ]
    perms = maps_line(vma).split()[1]
    return {
        "start": vma.start,
        "end": vma.end,
        "perms": perms,
        "kind": vma_kind(vma),
        "role": vma_role(task, vma),
        "name": vma_name(vma),
        "pgoff": vma.pgoff,
        "pages": pages,
    }


# -- frames -------------------------------------------------------------------


def frames_view(kernel: Kernel, tasks: list[Task]) -> list[Json]:
    """Every frame in use, lowest pfn first; the zero frame when someone maps it."""
    frames = sorted(kernel.physmem.frames.values(), key=lambda f: f.pfn)
    zero_users = sum(1 for t in tasks for pte in t.mm.pt.values() if pte.frame.pfn == ZERO_PFN)
    out = [frame_view(f) for f in frames]
    if zero_users:
        out.insert(0, {"pfn": ZERO_PFN, "owner": "zero", "map": zero_users, "dirty": False})
    return out


def frame_view(frame: Frame) -> Json:
    """What holds one frame: a file's page cache at an offset, or a process (anonymous)."""
    view: Json = {"pfn": frame.pfn, "map": frame.mapcount, "dirty": frame.dirty}
    inode = frame.inode
    if inode is None:
        view["owner"] = "anon"
    elif inode.kind is InodeKind.SHMEM:
        view.update(owner="shmem", file=inode_label(inode), pgoff=frame.pgoff)
    else:
        view.update(owner="file", file=inode_label(inode), pgoff=frame.pgoff)
    return view


# -- files --------------------------------------------------------------------


def inode_label(inode: Inode) -> str:
    """How the picture names an inode: its path, or what it is."""
    if inode.kind is InodeKind.SHMEM:
        return f"shmem inode {inode.ino}"
    if inode.nlink == 0:
        return f"{inode.name} (deleted)"
    return inode.name


def visible_inodes(kernel: Kernel, tasks: list[Task]) -> list[Inode]:
    """Regular files with a name, plus any inode a mapping holds (deleted, shmem)."""
    found: dict[int, Inode] = {}
    for inode in kernel.fs.names.values():
        if inode.kind is InodeKind.REGULAR:
            found[inode.ino] = inode
    for task in tasks:
        for vma in task.mm.vmas:
            if vma.inode is not None:
                found.setdefault(vma.inode.ino, vma.inode)
    return sorted(found.values(), key=lambda i: i.ino)


def _window(disk: bytes, cached: bytes) -> int:
    """Where a preview of a page starts: at the first byte that differs, if any."""
    for i, (a, b) in enumerate(zip(disk, cached, strict=False)):
        if a != b:
            return max(0, min(i - i % 16, PAGE_SIZE - PREVIEW_BYTES))
    return 0


def file_view(inode: Inode) -> Json:
    """A file: size, its pages on disk beside its cached frames, dirty ones marked."""
    pages = sorted(set(inode.cache) | set(range((inode.size + PAGE_SIZE - 1) // PAGE_SIZE)))
    rows = [file_page(inode, pgoff) for pgoff in pages[:64]]
    return {
        "ino": inode.ino,
        "path": inode_label(inode),
        "kind": "shmem" if inode.kind is InodeKind.SHMEM else "file",
        "size": inode.size,
        "program": bool(inode.mode & 0o111),
        "pages": rows,
        "more": max(0, len(pages) - len(rows)),
    }


def file_page(inode: Inode, pgoff: int) -> Json:
    """One page of a file: disk bytes and cached bytes around where they differ."""
    base = pgoff * PAGE_SIZE
    disk = bytes(inode.disk[base : base + PAGE_SIZE])
    frame = inode.cache.get(pgoff)
    cached = bytes(frame.data) if frame is not None else b""
    at = _window(disk, cached) if frame is not None else 0
    row: Json = {"pgoff": pgoff, "at": at, "disk": preview(disk[at : at + PREVIEW_BYTES])}
    if frame is not None:
        row.update(
            pfn=frame.pfn, dirty=frame.dirty, cached=preview(cached[at : at + PREVIEW_BYTES])
        )
    return row


def preview(data: bytes) -> str:
    """Bytes as printable text: ASCII as is, NUL as '·', anything else as '.'."""
    return "".join(chr(b) if 32 <= b < 127 else ("·" if b == 0 else ".") for b in data)
