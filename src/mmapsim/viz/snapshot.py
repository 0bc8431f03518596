"""The pieces of a picture of the simulated machine, as plain JSON-able data.

Nothing here changes the kernel.  Everything is sized by what is resident,
never by what is mapped: a process lists its present pages only, so a 64 TiB
mapping with three touched pages costs three entries.  The page states are
the ones the lecture speaks of:

- ``ro``  present, read-only (a shared page before its first write, or a
  read-only mapping);
- ``rw``  present and writable;
- ``cow`` present read-only in a writable private mapping: the next write copies
  it (copy-on-write);
- ``zero`` the one zero frame, mapped for a read of untouched anonymous memory.

Whether a page-cache frame is dirty is a property of the frame.
:func:`snapshot` gives the whole machine at once, nested the way one reads it
(processes, their VMAs, their pages); :mod:`mmapsim.viz.tracker` keeps the same
pieces from step to step and writes only what changed.
"""

from __future__ import annotations

from typing import Any

from mmapsim.constants import PAGE_SHIFT
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.kernel import Kernel, Task
from mmapsim.machine import Machine
from mmapsim.mm.pagetable import PFN_SHIFT, PTE_READ, PTE_WRITE
from mmapsim.mm.proc_maps import maps_line, vma_name
from mmapsim.mm.vma import Vma
from mmapsim.physmem import PG_DIRTY, ZERO_PFN, PhysicalMemory
from mmapsim.viz.contents import encode_rows
from mmapsim.viz.kinds import is_program, vma_kind, vma_role
from mmapsim.viz.kinds_ipc import ipc_label

Json = dict[str, Any]

#: How many pages of each file the picture shows.
FILE_PAGES = 64
#: How many users of one frame are listed by name (the rest are counted).
MAX_USERS = 12


def snapshot(machine: Machine, names: dict[int, str] | None = None) -> Json:
    """The processes, frames and files of ``machine``, as JSON-able data.

    ``names`` gives a process a name by pid (a scenario's ``A``, ``B``, ...); the
    others keep the kernel's name.  Each VMA lists its present pages as
    ``[page index, pfn, state]``.
    """
    from mmapsim.viz.tracker import Tracker

    tracker = Tracker(machine)
    tracker.update(names or {})
    procs = []
    for pid in tracker.order:
        head = dict(tracker.heads[pid])
        pages = tracker.pages[pid]
        vmas = []
        for vma in head["vmas"]:
            first, last = vma["start"] >> PAGE_SHIFT, vma["end"] >> PAGE_SHIFT
            present = sorted(v for v in pages if first <= v < last)
            vmas.append({**vma, "pages": [[v - first, *pages[v]] for v in present]})
        procs.append({**head, "vmas": vmas})
    return {
        "procs": procs,
        "frames": [tracker.frames[pfn] for pfn in sorted(tracker.frames)],
        "files": [tracker.files[ino] for ino in sorted(tracker.files)],
    }


# -- processes ----------------------------------------------------------------


def live_tasks(kernel: Kernel) -> list[Task]:
    """The live tasks, lowest pid first."""
    return [t for t in kernel.tasks.values() if t.alive]


def process_head(task: Task, name: str | None = None) -> Json:
    """One process without its pages: pid, name and VMAs from low addresses to high."""
    return {
        "pid": task.pid,
        "name": name or task.name,
        "vmas": [vma_head(task, vma) for vma in task.mm.vmas],
    }


def vma_head(task: Task, vma: Vma) -> Json:
    """One VMA: range, protections as maps prints them, kind, role, name, file page."""
    role = vma_role(task, vma)
    name = vma_name(vma)
    return {
        "start": vma.start,
        "end": vma.end,
        "perms": maps_line(vma).split()[1],
        "kind": vma_kind(vma),
        "role": role,
        "name": name,
        "pgoff": vma.pgoff,
        "program": is_program(role, name),
        "maps": maps_line(vma),
    }


def page_state(vma: Vma, readable: bool, writable: bool, pfn: int) -> str:
    """The state of one present page (see the module docstring)."""
    if pfn == ZERO_PFN:
        return "zero"
    if writable:
        return "rw"
    if vma.writable and not vma.shared:
        return "cow"
    return "ro" if readable else "none"


def process_pages(task: Task) -> dict[int, tuple[int, str]]:
    """Every present page of ``task``: virtual page number -> (pfn, state)."""
    out: dict[int, tuple[int, str]] = {}
    for vma in task.mm.vmas:
        for vpn, pte in task.mm.ptes_in(vma.start, vma.end).items():
            out[vpn] = _page(vma, pte)
    return out


def one_page(task: Task, vpn: int) -> tuple[int, str] | None:
    """The (pfn, state) of one page of ``task``, or None when it is not present."""
    pte = task.mm.pt.get(vpn)
    vma = task.mm.vmas.find(vpn << PAGE_SHIFT)
    if pte is None or vma is None:
        return None
    return _page(vma, pte)


def _page(vma: Vma, pte: int) -> tuple[int, str]:
    pfn = pte >> PFN_SHIFT
    return pfn, page_state(vma, bool(pte & PTE_READ), bool(pte & PTE_WRITE), pfn)


# -- frames -------------------------------------------------------------------


def frame_view(
    physmem: PhysicalMemory,
    pfn: int,
    users: list[tuple[int, int]],
    ints: list[list[int]],
    zero_users: int = 0,
) -> Json:
    """One frame: what holds it, who maps it, whether it is dirty, and its bytes."""
    mapped = zero_users if pfn == ZERO_PFN else physmem.mapcount[pfn]
    view: Json = {"pfn": pfn, "map": mapped, "dirty": bool(physmem.flags[pfn] & PG_DIRTY)}
    inode = physmem.inode.get(pfn)
    if pfn == ZERO_PFN:
        view["owner"] = "zero"
    elif inode is None:
        view["owner"] = "anon"
    else:
        owner = "shmem" if inode.kind is InodeKind.SHMEM else "file"
        view.update(owner=owner, file=inode_label(inode), pgoff=physmem.pgoff[pfn])
        view["program"] = bool(inode.mode & 0o111) and owner == "file"
    rows, cut = encode_rows(physmem.page(pfn))
    view["rows"] = rows
    if cut:
        view["cut"] = cut
    view["users"] = [[pid, vpn << PAGE_SHIFT] for pid, vpn in sorted(users)[:MAX_USERS]]
    view["nusers"] = len(users)
    if ints:
        view["ints"] = ints
    return view


# -- files --------------------------------------------------------------------


def inode_label(inode: Inode) -> str:
    """How the picture names an inode: its path, or what it is."""
    named = ipc_label(inode)
    if named is not None:
        return named
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
            found[id(inode)] = inode
    for task in tasks:
        for vma in task.mm.vmas:
            if vma.inode is not None:
                found.setdefault(id(vma.inode), vma.inode)
    return sorted(found.values(), key=lambda i: i.ino)


def file_pages(inode: Inode) -> list[int]:
    """The page offsets the picture shows: those in the file or in its cache."""
    pages = set(inode.cache) | set(range(inode.pages))
    return sorted(pages)


def file_view(
    physmem: PhysicalMemory, inode: Inode, disk_rows: dict[int, list[list[object]]], total: int
) -> Json:
    """A file: size, and per page its bytes on disk beside the frame that caches it.

    ``disk_rows`` holds the encoded disk bytes of each page shown (see
    :mod:`mmapsim.viz.contents`); the cached bytes are those of the frame.
    """
    rows: list[Json] = []
    shmem = inode.kind is InodeKind.SHMEM
    for pgoff, disk in disk_rows.items():
        row: Json = {"pgoff": pgoff, "disk": None if shmem else disk}
        pfn = inode.cache.get(pgoff)
        if pfn is not None:
            row.update(pfn=pfn, dirty=bool(physmem.flags[pfn] & PG_DIRTY))
        rows.append(row)
    return {
        "ino": inode.ino,
        "path": inode_label(inode),
        "kind": "shmem" if shmem else "file",
        "size": inode.size,
        "program": bool(inode.mode & 0o111),
        "pages": rows,
        "more": max(0, total - len(rows)),
    }
