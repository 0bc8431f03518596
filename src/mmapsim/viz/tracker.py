"""The machine's picture kept from step to step, written as differences.

A :class:`Tracker` holds the last picture it took, in flat tables (process
heads, pages by pid and page number, frames by pfn, files by inode), and
:meth:`Tracker.update` returns only what changed since: the *delta* of one
step.  The page replays the deltas in order, so the first step costs the whole
machine and every later one costs what it touched.

An update looks at everything (a *full* update) unless the caller passes
:class:`Hints`: a load or a store changes only the pages its events name (a
fault, a copy-on-write, a page becoming writable), the frames those pages use
and the frames it wrote into.  The recorder passes hints for such steps and
asks for a full update after every call, fork or file change, so a long run
of stores stays cheap while a system call is always seen whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE
from mmapsim.kernel import Kernel, Task
from mmapsim.machine import Machine
from mmapsim.physmem import PG_DIRTY, ZERO_PFN, PhysicalMemory
from mmapsim.viz.contents import encode_rows
from mmapsim.viz.snapshot import (
    FILE_PAGES,
    Json,
    file_pages,
    file_view,
    frame_view,
    live_tasks,
    one_page,
    process_head,
    process_pages,
    visible_inodes,
)

Page = tuple[int, str]


@dataclass
class Hints:
    """What one memory-access step can have changed (the rest is taken as is)."""

    pages: set[tuple[int, int]] = field(default_factory=set)  # (pid, vpn)
    vmas: set[tuple[int, int]] = field(default_factory=set)  # (pid, va): rescan that VMA
    frames: set[int] = field(default_factory=set)


def _vma_signature(task: Task) -> tuple[tuple[int, int, int, int, int], ...]:
    return tuple((v.start, v.end, int(v.flags), v.pgoff, id(v.inode)) for v in task.mm.vmas)


class Tracker:
    """The last picture of one machine, and the deltas that bring it up to date."""

    def __init__(self, machine: Machine) -> None:
        self.kernel: Kernel = machine.kernel
        self.order: list[int] = []
        self.heads: dict[int, Json] = {}
        self.pages: dict[int, dict[int, Page]] = {}
        self.users: dict[int, set[tuple[int, int]]] = {}
        self.frames: dict[int, Json] = {}
        self.files: dict[int, Json] = {}
        #: (width, signed) of the integers stored at a page's offsets, by page number.
        self.typed: dict[int, dict[int, tuple[int, bool]]] = {}
        self._signatures: dict[int, tuple[tuple[int, int, int, int, int], ...]] = {}
        self._raw: dict[int, bytearray] = {}
        self._meta: dict[int, tuple[int, bool, int, int, int]] = {}
        self._disk: dict[tuple[int, int], tuple[bytes, list[list[object]]]] = {}
        self._names: dict[int, str] = {}

    # -- what the scenario said ---------------------------------------------------

    def note_typed(self, va: int, width: int, signed: bool) -> set[int]:
        """Remember that an integer of ``width`` bytes was stored at ``va``; the
        frames now mapped there (their integers are to be shown)."""
        vpn, offset = va >> PAGE_SHIFT, va & (PAGE_SIZE - 1)
        if offset + width > PAGE_SIZE:
            return set()
        self.typed.setdefault(vpn, {})[offset] = (width, signed)
        return {pages[vpn][0] for pages in self.pages.values() if vpn in pages}

    # -- one update -----------------------------------------------------------------

    def update(self, names: dict[int, str], hints: Hints | None = None) -> Json:
        """Bring the picture up to date; the delta (only the keys that changed)."""
        delta: Json = {}
        touched: set[int] = set()
        tasks = live_tasks(self.kernel)
        order = [t.pid for t in tasks]
        if order != self.order:
            delta["procs"] = order
            for pid in set(self.order) - set(order):
                for vpn, (pfn, _) in self.pages.pop(pid, {}).items():
                    self._unuse(pfn, pid, vpn, touched)
                self.heads.pop(pid, None)
                self._signatures.pop(pid, None)
            self.order = order
        heads: list[Json] = []
        changed: list[list[object]] = []
        gone: list[list[int]] = []
        for task in tasks:
            signature = _vma_signature(task)
            name = names.get(task.pid) or self._names.get(task.pid)
            if name:
                self._names[task.pid] = name
            rescan = hints is None or signature != self._signatures.get(task.pid)
            head = process_head(task, name) if rescan else None
            if head is not None and head != self.heads.get(task.pid):
                self.heads[task.pid] = head
                heads.append(head)
            self._signatures[task.pid] = signature
            old = self.pages.setdefault(task.pid, {})
            if rescan:
                new = process_pages(task)
                self._diff_pages(task.pid, old, new, list(old) + list(new), changed, gone, touched)
            elif hints is not None:
                self._hinted_pages(task, old, hints, changed, gone, touched)
        if heads:
            delta["heads"] = heads
        if changed:
            delta["pages"] = changed
        if gone:
            delta["unpage"] = gone
        frames, unframe = self._update_frames(touched, hints)
        if frames:
            delta["frames"] = frames
        if unframe:
            delta["unframe"] = unframe
        files, unfile = self._update_files(tasks)
        if files:
            delta["files"] = files
        if unfile:
            delta["unfile"] = unfile
        return delta

    # -- pages ------------------------------------------------------------------------

    def _hinted_pages(
        self,
        task: Task,
        old: dict[int, Page],
        hints: Hints,
        changed: list[list[object]],
        gone: list[list[int]],
        touched: set[int],
    ) -> None:
        pid = task.pid
        vpns = [vpn for p, vpn in hints.pages if p == pid]
        new: dict[int, Page] = {}
        for p, va in hints.vmas:
            vma = task.mm.vmas.find(va) if p == pid else None
            if vma is not None:
                first, last = vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT
                vpns.extend(v for v in old if first <= v < last)
                vpns.extend(task.mm.ptes_in(vma.start, vma.end))
        for vpn in vpns:
            page = one_page(task, vpn)
            if page is not None:
                new[vpn] = page
        self._diff_pages(pid, old, new, vpns, changed, gone, touched)

    def _diff_pages(
        self,
        pid: int,
        old: dict[int, Page],
        new: dict[int, Page],
        vpns: list[int],
        changed: list[list[object]],
        gone: list[list[int]],
        touched: set[int],
    ) -> None:
        """Compare the pages ``vpns`` of ``old`` with ``new``; update ``old`` to match."""
        for vpn in set(vpns):
            before = old.get(vpn)
            after = new.get(vpn)
            if before == after:
                continue
            if before is not None:
                self._unuse(before[0], pid, vpn, touched)
            if after is None:
                del old[vpn]
                gone.append([pid, vpn])
                continue
            old[vpn] = after
            self.users.setdefault(after[0], set()).add((pid, vpn))
            touched.add(after[0])
            changed.append([pid, vpn, after[0], after[1]])

    def _unuse(self, pfn: int, pid: int, vpn: int, touched: set[int]) -> None:
        users = self.users.get(pfn)
        if users is not None:
            users.discard((pid, vpn))
        touched.add(pfn)

    # -- frames -----------------------------------------------------------------------

    def _update_frames(
        self, touched: set[int], hints: Hints | None
    ) -> tuple[list[Json], list[int]]:
        physmem = self.kernel.physmem
        refcount = physmem.refcount
        if hints is None:
            candidates = set(physmem.live_pfns()) | set(self.frames) | touched
        else:
            candidates = touched | hints.frames
        out: list[Json] = []
        removed: list[int] = []
        for pfn in sorted(candidates):
            live = pfn < len(refcount) and refcount[pfn] > 0
            users = self.users.get(pfn, set())
            if not live or (pfn == ZERO_PFN and not users):
                if self.frames.pop(pfn, None) is not None:
                    removed.append(pfn)
                    self._raw.pop(pfn, None)
                    self._meta.pop(pfn, None)
                continue
            view = self._frame_if_changed(physmem, pfn, users)
            if view is not None:
                out.append(view)
        return out, removed

    def _frame_if_changed(
        self, physmem: PhysicalMemory, pfn: int, users: set[tuple[int, int]]
    ) -> Json | None:
        inode = physmem.inode.get(pfn)
        dirty = bool(physmem.flags[pfn] & PG_DIRTY)
        pgoff = physmem.pgoff.get(pfn, 0)
        meta = (physmem.mapcount[pfn], dirty, id(inode), pgoff, hash(frozenset(users)))
        raw = self._raw.get(pfn)
        data = physmem.page(pfn)
        if raw is not None and raw == data and self._meta.get(pfn) == meta:
            ints = self._ints(users)
            if ints == self.frames[pfn].get("ints", []):
                return None
        self._raw[pfn] = bytearray(data)
        self._meta[pfn] = meta
        view = frame_view(physmem, pfn, list(users), self._ints(users), len(users))
        self.frames[pfn] = view
        return view

    def _ints(self, users: set[tuple[int, int]]) -> list[list[int]]:
        if not self.typed:
            return []
        found: dict[int, tuple[int, bool]] = {}
        for _, vpn in users:
            found.update(self.typed.get(vpn, {}))
        return [[offset, width, int(signed)] for offset, (width, signed) in sorted(found.items())]

    # -- files ------------------------------------------------------------------------

    def _update_files(self, tasks: list[Task]) -> tuple[list[Json], list[int]]:
        out: list[Json] = []
        seen: set[int] = set()
        for inode in visible_inodes(self.kernel, tasks):
            seen.add(inode.ino)
            pages = file_pages(inode)
            shown: dict[int, list[list[object]]] = {}
            for pgoff in pages[:FILE_PAGES]:
                base = pgoff * PAGE_SIZE
                disk = bytes(inode.disk[base : base + PAGE_SIZE])
                cached = self._disk.get((inode.ino, pgoff))
                if cached is None or cached[0] != disk:
                    cached = (disk, encode_rows(disk)[0])
                    self._disk[(inode.ino, pgoff)] = cached
                shown[pgoff] = cached[1]
            view = file_view(self.kernel.physmem, inode, shown, len(pages))
            if view != self.files.get(inode.ino):
                self.files[inode.ino] = view
                out.append(view)
        removed = [ino for ino in self.files if ino not in seen]
        for ino in removed:
            del self.files[ino]
        return out, removed
