"""The public contract (API.md) on the simulated kernel: ``Machine``.

A Machine is thin: it holds the kernel and hands out :class:`Process` handles
(:mod:`mmapsim.process`); all policy lives in :mod:`mmapsim.syscalls` and below.
"""

from __future__ import annotations

import errno
import os
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from mmapsim import abi, display
from mmapsim.clock import NS_PER_SEC
from mmapsim.contract import SimOnly
from mmapsim.events import EventBus
from mmapsim.fs import image
from mmapsim.fs.diskspace import DEFAULT_DISK
from mmapsim.fs.hostmount import HostMounts
from mmapsim.fs.image import DiskImage
from mmapsim.fs.inode import InodeKind
from mmapsim.fs.writeback import DEFAULT_DIRTY_EXPIRE_CENTISECS, DEFAULT_DIRTY_WRITEBACK_CENTISECS
from mmapsim.kernel import DEFAULT_MAX_MAP_COUNT, DEFAULT_MAX_PROCESSES, Kernel, Task
from mmapsim.loader import first_image
from mmapsim.physmem import DEFAULT_MEMORY, OutOfMemory
from mmapsim.process import Process
from mmapsim.syscalls import files
from mmapsim.syscalls.files import StatResult

__all__ = ["Machine", "Process"]


class Machine:
    """A simulated computer: kernel, physical memory, page cache, file system.

    ``Machine()`` is a 4 KiB-page x86-64 Linux.  Options: ``max_map_count``
    (the per-process mapping limit), ``memory`` (bytes of physical memory,
    2 GiB by default; when it runs out, a faulting process is killed as by the
    OOM killer and other calls fail with ENOMEM), ``disk`` (bytes of file data
    the simulated disk holds, 1 GiB by default; beyond it writes fail with
    ENOSPC, :mod:`mmapsim.fs.diskspace`), ``max_processes`` (processes alive at
    once, 64 by default as on HostMachine; ``spawn`` and ``fork`` beyond it fail
    with EAGAIN), ``check_invariants`` (recompute every count from scratch
    after each system call; for tests), ``host_mounts``
    (host paths such as ``"/usr"`` shown read-only at the same path, so that
    ``execve`` can load the host's programs; see :meth:`mount_host`),
    ``aslr`` (randomise the layout of exec'd programs as Linux does with
    ``randomize_va_space=2``; off by default, as under ``setarch -R``),
    ``seed`` (makes the randomised layouts repeatable), ``pkeys`` (the
    simulated CPU has protection keys, the ``pku``/``ospke`` flags of
    /proc/cpuinfo, as current x86-64 servers do: then ``PROT_EXEC`` alone is
    execute-only memory, which a load cannot read, and smaps shows each VMA's
    ``ProtectionKey``; ``pkeys=False`` is an older CPU, on which exec implies
    read), and the writeback daemon's two sysctls, ``dirty_writeback_centisecs``
    (how often it wakes, 500 = 5 s; 0 turns it off) and ``dirty_expire_centisecs``
    (how long data stays dirty before it writes it, 3000 = 30 s), which run on
    the simulated clock (:meth:`advance`).
    """

    def __init__(
        self,
        *,
        max_map_count: int = DEFAULT_MAX_MAP_COUNT,
        memory: int = DEFAULT_MEMORY,
        disk: int = DEFAULT_DISK,
        max_processes: int = DEFAULT_MAX_PROCESSES,
        check_invariants: bool = False,
        host_mounts: Iterable[str] = (),
        aslr: bool = False,
        seed: int | None = None,
        pkeys: bool = True,
        dirty_writeback_centisecs: int = DEFAULT_DIRTY_WRITEBACK_CENTISECS,
        dirty_expire_centisecs: int = DEFAULT_DIRTY_EXPIRE_CENTISECS,
    ) -> None:
        limits = {
            "max_map_count": max_map_count,
            "memory": memory,
            "disk": disk,
            "max_processes": max_processes,
        }
        for name, value in limits.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int")
            if value <= 0:
                raise ValueError(f"{name} must be positive")
        if not isinstance(pkeys, bool):
            raise TypeError("pkeys must be a bool")
        for name, value in (
            ("dirty_writeback_centisecs", dirty_writeback_centisecs),
            ("dirty_expire_centisecs", dirty_expire_centisecs),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int")
            if value < 0:
                raise ValueError(f"{name} must not be negative")
        self.kernel = Kernel(
            max_map_count,
            memory,
            disk,
            max_processes,
            dirty_writeback_centisecs=dirty_writeback_centisecs,
            dirty_expire_centisecs=dirty_expire_centisecs,
        )
        self.kernel.pkeys = pkeys
        self.check_invariants = check_invariants
        self.host: HostMounts | None = None
        self.rng = random.Random(seed) if aslr else None
        self._processes: dict[int, Process] = {}
        self._closed = False
        for host_path in host_mounts:
            self.mount_host(host_path)

    @property
    def events(self) -> EventBus:
        """The kernel's events (faults, copy-on-write, writeback, signals)."""
        return self.kernel.bus

    def spawn(self, name: str | None = None) -> Process:
        """A new process, as if a small program had just been exec'd."""
        self._check_open()
        if name is not None and not isinstance(name, str):
            raise TypeError("name must be a str")
        task = self.kernel.new_task(name)
        with _enomem():
            first_image.setup_image(self.kernel, task)
        return self._adopt(task)

    def mount_host(self, path: str) -> None:
        """Show the host's file or directory ``path`` read-only at the same path.

        Files are read from the host lazily, the first time a path walk reaches them.
        """
        self._check_open()
        if self.host is None:
            self.host = HostMounts(self.kernel.fs)
        self.host.mount(abi.path("path", path))

    def _adopt(self, task: Task) -> Process:
        proc = Process(self, task)
        self._processes[task.pid] = proc
        self.after_syscall()
        return proc

    def write_file(self, path: str, data: bytes) -> None:
        """Create a file, or rewrite it in place (same inode; live mappings see it)."""
        self._check_open()
        with _enomem():
            self.kernel.fs.write_file(abi.path("path", path), bytes(abi.data("data", data)))
        self.after_syscall()

    def read_file(self, path: str) -> bytes:
        """The file's contents as read() would see them now."""
        self._check_open()
        with _enomem():
            return self.kernel.fs.read_file(abi.path("path", path))

    def stat_file(self, path: str) -> StatResult:
        """stat(2) of ``path``, as a tool outside every process would ask it."""
        self._check_open()
        with _enomem():
            return files.sys_stat(self.kernel, abi.path("path", path))

    def read_disk(self, path: str) -> bytes:
        """The file's bytes on its disk image, past the page cache: what crash() leaves.

        Dirty pages of the cache (a store through a shared mapping, a write()
        not yet written back) are not in it.  Errors as read_file's.
        """
        self._check_open()
        inode = self.kernel.fs.lookup(abi.path("path", path))
        if inode.kind is InodeKind.DIRECTORY:
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
        if inode.kind is not InodeKind.REGULAR:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return inode.disk[0 : len(inode.disk)]

    def sync(self) -> int:
        """sync(2) (simulator only): write back every dirty page; returns how many."""
        self._check_open()
        count = self.kernel.sync()
        self.after_syscall()
        return count

    def crash(self) -> None:
        """A power failure (simulator only): every process dies, the page cache is lost.

        Afterwards each file holds what reached its disk image: data written
        through a mapping survives only if it was written back first (msync
        MS_SYNC, fsync, sync).
        """
        self._check_open()
        self.kernel.crash()
        self.after_syscall()

    def advance(self, seconds: float) -> int:
        """Let ``seconds`` of simulated time pass (simulator only).

        Nothing runs but the kernel's timers: the writeback daemon wakes every
        ``dirty_writeback_centisecs`` and writes the files dirty for at least
        ``dirty_expire_centisecs``.  Returns how many pages it wrote to disk.
        """
        self._check_open()
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError("seconds must be a number")
        if not seconds >= 0 or seconds == float("inf"):
            raise ValueError("seconds must be a finite number, not negative")
        count = self.kernel.advance(round(seconds * NS_PER_SEC))
        self.after_syscall()
        return count

    @property
    def uptime(self) -> float:
        """Seconds of simulated time since the machine booted (simulator only)."""
        return self.kernel.clock.uptime_ns / NS_PER_SEC

    def disk_image(self) -> DiskImage:
        """The disk as a power failure now would leave it (simulator only).

        Every regular file with its bytes on disk, not those in the page cache;
        the system's files are left out: those shown from the host
        (``host_mounts``) and the program every spawned process runs, which a
        booted machine installs again.
        """
        self._check_open()
        return image.capture(self.kernel.fs, self.system_paths())

    @classmethod
    def boot(cls, disk: DiskImage, **options: Any) -> Machine:
        """A new machine whose disk holds ``disk``'s files (simulator only).

        Nothing is cached and no process runs: the first access to each page
        reads it from the disk, as after a reboot.  ``options`` are
        :class:`Machine`'s.
        """
        if not isinstance(disk, DiskImage):
            raise TypeError("disk must be a DiskImage (from Machine.disk_image())")
        machine = cls(**options)
        image.restore(machine.kernel.fs, disk)
        machine.after_syscall()
        return machine

    def system_paths(self) -> list[str]:
        """The paths (and folders) of system files, not of a program's data."""
        roots = list(self.host.roots) if self.host is not None else []
        return [*roots, first_image.PROGRAM_PATH]

    @property
    def processes(self) -> list[Process]:
        """The live processes, and the zombies (ended, their parent has not waited)."""
        return [p for p in self._processes.values() if p.alive or p.zombie]

    def process(self, pid: int) -> Process:
        """The Process object of ``pid`` (live or not)."""
        return self._processes[pid]

    def after_syscall(self) -> None:
        """Run the invariant checker when asked to."""
        if self.check_invariants:
            from mmapsim.invariants import check_invariants

            check_invariants(self)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Machine is closed")

    def close(self) -> None:
        """End every process and release everything (idempotent)."""
        if not self._closed:
            self.kernel.close()
            self._closed = True

    def __enter__(self) -> Machine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Machine {len(self.processes)} processes>"

    def _repr_html_(self) -> str | None:
        """The machine drawn by the step-through page, for Jupyter, once
        :mod:`mmapsim.viz` is imported (:mod:`mmapsim.display`)."""
        return display.html("machine", self)


@contextmanager
def _enomem() -> Iterator[None]:
    """A machine with no free frame answers ENOMEM."""
    try:
        yield
    except OutOfMemory:
        raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM)) from None


#: API.md's Machine and the simulator's extras, checked by mypy (mmapsim.contract).
_contract: type[SimOnly] = Machine
