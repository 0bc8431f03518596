"""The simulated kernel: the one place that owns memory, files and tasks.

``Kernel`` wires the layers together (physical memory, page cache, file
system, the events bus) and keeps the tasks.  A ``Task`` is the kernel's side
of a process: its pid, address space and fd table.  The public ``Process``
(:mod:`mmapsim.machine`) is a thin handle on a task.
"""

from __future__ import annotations

import errno
import signal
from dataclasses import dataclass, field

from mmapsim.clock import Clock
from mmapsim.errors import syscall_error
from mmapsim.events import EventBus
from mmapsim.fs.diskspace import DEFAULT_DISK, DiskSpace
from mmapsim.fs.file import FdEntry, FdTable, OpenFile
from mmapsim.fs.inode import Inode
from mmapsim.fs.namespace import DISK_DEV, FileSystem
from mmapsim.fs.pagecache import PageCache
from mmapsim.fs.writeback import (
    DEFAULT_DIRTY_EXPIRE_CENTISECS,
    DEFAULT_DIRTY_WRITEBACK_CENTISECS,
    WritebackDaemon,
)
from mmapsim.ipc.shm import ShmIds
from mmapsim.mm import rmap
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.fork import dup_mmap
from mmapsim.physmem import DEFAULT_MEMORY, PhysicalMemory

#: Linux's default ``vm.max_map_count``.
DEFAULT_MAX_MAP_COUNT = 65530
#: ``Machine(max_processes=...)``'s default (HostMachine's too): processes alive at once.
DEFAULT_MAX_PROCESSES = 64


@dataclass(eq=False)
class Task:
    """A process as the kernel sees it."""

    pid: int
    name: str
    mm: AddressSpace
    fds: FdTable = field(default_factory=FdTable)
    alive: bool = True
    exit_status: int | None = None
    term_signal: signal.Signals | None = None
    parent: Task | None = None
    reaped: bool = False  # its parent waited for it (or it had none to wait)


def _holds_pid(task: Task) -> bool:
    """Alive, or a zombie: ended, not reaped, its parent still running."""
    parent = task.parent
    return task.alive or (not task.reaped and parent is not None and parent.alive)


class Kernel:
    """Everything the machine holds, and the rules that tie the layers together."""

    def __init__(
        self,
        max_map_count: int = DEFAULT_MAX_MAP_COUNT,
        memory: int = DEFAULT_MEMORY,
        disk: int = DEFAULT_DISK,
        max_processes: int = DEFAULT_MAX_PROCESSES,
        *,
        dirty_writeback_centisecs: int = DEFAULT_DIRTY_WRITEBACK_CENTISECS,
        dirty_expire_centisecs: int = DEFAULT_DIRTY_EXPIRE_CENTISECS,
    ) -> None:
        self.bus = EventBus()
        self.clock = Clock()
        self.physmem = PhysicalMemory(memory)
        self.pagecache = PageCache(self.physmem, self.bus, self.clock, DiskSpace(disk), DISK_DEV)
        self.pagecache.mkclean = rmap.mkclean
        self.pagecache.unmap_range = rmap.unmap_mapping_range
        self.physmem.reclaim = self.pagecache.shrink
        self.fs = FileSystem(self.pagecache, self.clock)
        self.flusher = WritebackDaemon(
            self.pagecache,
            self.clock,
            self.file_inodes,
            writeback_centisecs=dirty_writeback_centisecs,
            expire_centisecs=dirty_expire_centisecs,
        )
        self.max_map_count = max_map_count
        self.max_processes = max_processes
        #: The CPU has protection keys (pku/ospke): PROT_EXEC alone is execute-only.
        self.pkeys = True
        self.tasks: dict[int, Task] = {}
        self._next_pid = 100
        self.current: Task | None = None  # the task whose system call runs now
        self.shm = ShmIds(self.pagecache, self._seconds, self._current_pid)

    def _seconds(self) -> int:
        return self.clock.now_ns() // 1_000_000_000

    def _current_pid(self) -> int:
        return 0 if self.current is None else self.current.pid

    def new_task(self, name: str | None, parent: Task | None = None) -> Task:
        """A task with an empty address space and no files.

        EAGAIN when ``max_processes`` live already, as copy_process answers at
        RLIMIT_NPROC or when no pid is left (alloc_pid); a zombie holds its pid
        until it is reaped, so it counts.
        """
        if sum(_holds_pid(task) for task in self.tasks.values()) >= self.max_processes:
            raise syscall_error(errno.EAGAIN)
        pid = self._next_pid
        self._next_pid += 1
        mm = AddressSpace(pid, self.physmem, self.pagecache, self.bus, self)
        task = Task(pid, name or f"p{pid}", mm, parent=parent)
        self.tasks[pid] = task
        return task

    def copy_process(self, parent: Task, name: str | None) -> Task:
        """fork's copy_process: a child with a copy-on-write copy of ``parent``'s
        memory (:func:`mmapsim.mm.fork.dup_mmap`) and its fds (:meth:`dup_fds`).

        EAGAIN, with nothing made, when no process can be added (:meth:`new_task`).
        """
        child = self.new_task(name, parent=parent)
        dup_mmap(parent.mm, child.mm)
        self.dup_fds(parent, child)
        return child

    def task(self, pid: int) -> Task:
        """The live task ``pid``; ProcessLookupError (ESRCH) if it is gone."""
        task = self.tasks.get(pid)
        if task is None or not task.alive:
            raise ProcessLookupError(errno.ESRCH, "No such process")
        return task

    # -- open file descriptions --------------------------------------------

    def get_file(self, ofd: OpenFile) -> None:
        """One more holder (fd or VMA) of an open file description."""
        if ofd.refs == 0:
            ofd.inode.opens += 1
            ofd.inode.writers += ofd.writable
        ofd.refs += 1

    def put_file(self, ofd: OpenFile) -> None:
        """One holder fewer; the last one closes the description."""
        ofd.refs -= 1
        if ofd.refs > 0:
            return
        inode = ofd.inode
        inode.opens -= 1
        inode.writers -= ofd.writable
        if inode.unreachable:
            self.pagecache.release(inode)

    def install_fd(self, task: Task, ofd: OpenFile, cloexec: bool) -> int:
        """Give ``ofd`` the lowest free fd of ``task`` (EMFILE if none)."""
        fd = task.fds.lowest_free()
        if fd is None:
            raise syscall_error(errno.EMFILE)
        self._install_at(task, fd, ofd, cloexec)
        return fd

    def dup_fds(self, parent: Task, child: Task) -> None:
        """dup_fd at fork: the child's fds refer to the parent's descriptions, flags and all.

        Preconditions: ``child``'s fd table is empty.
        """
        for fd, entry in parent.fds.entries.items():
            self._install_at(child, fd, entry.file, entry.cloexec)

    def replace_fd(self, task: Task, fd: int, ofd: OpenFile) -> None:
        """do_dup2: ``fd`` refers to ``ofd`` now, close-on-exec clear; what it
        referred to before is closed after.

        Preconditions: ``fd`` is within the fd table's limit.
        """
        old = task.fds.entries.pop(fd, None)
        self._install_at(task, fd, ofd, False)
        if old is not None:
            self.drop_fd(old.file)

    def _install_at(self, task: Task, fd: int, ofd: OpenFile, cloexec: bool) -> None:
        """fd_install: ``fd`` of ``task`` refers to ``ofd``, which gains a holder
        (and a pipe a reader or a writer)."""
        self.get_file(ofd)
        task.fds.entries[fd] = FdEntry(ofd, cloexec)
        if ofd.inode.pipe is not None:
            ofd.inode.pipe.readers += ofd.readable
            ofd.inode.pipe.writers += ofd.writable

    def close_fd(self, task: Task, fd: int) -> None:
        """close_fd: ``fd`` of ``task`` goes, and its description loses a holder (EBADF: none)."""
        entry = task.fds.entries.pop(fd, None)
        if entry is None:
            raise syscall_error(errno.EBADF)
        self.drop_fd(entry.file)

    def drop_fd(self, ofd: OpenFile) -> None:
        """An fd that referred to ``ofd`` is closed."""
        pipe = ofd.inode.pipe
        if pipe is not None:
            pipe.readers -= ofd.readable
            pipe.writers -= ofd.writable
        self.put_file(ofd)

    # -- lifetime -------------------------------------------------------------

    def teardown(self, task: Task, why: str = "exit") -> None:
        """exit_mm and exit_files: every mapping and every fd goes (``why``: for the trace)."""
        task.mm.teardown(why)
        for entry in list(task.fds.entries.values()):
            self.drop_fd(entry.file)
        task.fds.entries.clear()
        task.alive = False

    def file_inodes(self) -> list[Inode]:
        """Every regular file that may have dirty pages: named, or unlinked but open or mapped."""
        found = {id(i): i for i in self.fs.names.values() if i.is_regular}
        for task in self.tasks.values():
            held = [vma.inode for vma in task.mm.vmas if vma.inode is not None]
            held += [entry.file.inode for entry in task.fds.entries.values()]
            for inode in held:
                if inode.is_regular:
                    found.setdefault(id(inode), inode)
        return list(found.values())

    def sync(self) -> int:
        """sync(2): write every dirty page of every file to disk; returns the count."""
        return sum(self.pagecache.writeback(i, cause="sync") for i in self.file_inodes())

    def advance(self, ns: int) -> int:
        """Let ``ns`` nanoseconds pass: the writeback daemon wakes on the way.

        Returns how many pages it wrote to disk.
        """
        return self.flusher.run_until(self.clock.uptime_ns + ns)

    def crash(self) -> None:
        """A power failure: every task vanishes and the page cache is lost.

        What was not written back (``msync(MS_SYNC)``, ``fsync``) is gone; the
        disk images are what the files hold afterwards.
        """
        for task in self.tasks.values():
            if task.alive:
                self.teardown(task, "crash")
                task.term_signal = signal.SIGKILL
        for inode in list(self.fs.names.values()):
            self.pagecache.release(inode)

    def close(self) -> None:
        """End every task and drop every page."""
        for task in list(self.tasks.values()):
            if task.alive:
                self.teardown(task, "close")
                task.exit_status = 0
        self.physmem.release()

    def fd_file(self, task: Task, fd: int, *, raw: bool = False) -> OpenFile:
        """The description behind ``fd`` (Linux's ``fdget``); EBADF when there is none.

        An O_PATH description is EBADF too, unless ``raw`` (``fdget_raw``: close,
        dup, dup2 and fstat take it).
        """
        ofd = task.fds.get(fd)
        if ofd is None or (ofd.path_only and not raw):
            raise syscall_error(errno.EBADF)
        return ofd
