"""The public contract (API.md) on the simulated kernel: ``Process``.

A Process is a thin handle on a kernel task: it decodes Python arguments into
the C types of the system-call ABI (:mod:`mmapsim.abi`), calls one
system call, and turns a fatal memory fault into
:class:`~mmapsim.errors.ProcessKilled`.  All policy lives in
:mod:`mmapsim.syscalls` and below.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mmapsim import abi, display
from mmapsim.abi import U64_MAX
from mmapsim.contract import SimOnlyProcess
from mmapsim.errors import ProcessKilled
from mmapsim.kernel import Task
from mmapsim.loader.aslr import Randomizer
from mmapsim.mm.fault import MemoryFault
from mmapsim.mm.proc_maps import pagemap_entry, render_maps, render_smaps
from mmapsim.pageinfo import PageInfo
from mmapsim.physmem import OutOfMemory
from mmapsim.process_ipc import IpcCalls
from mmapsim.process_memory import MemoryCalls
from mmapsim.syscalls import brk, files, fork_exec, mman
from mmapsim.syscalls.files import StatResult
from mmapsim.userspace import ld_so

if TYPE_CHECKING:
    from mmapsim.machine import Machine

T = TypeVar("T")


class Process(IpcCalls, MemoryCalls):
    """A process of a simulated Machine (API.md's Process)."""

    def __init__(self, machine: Machine, task: Task) -> None:
        self.machine = machine
        self._task = task
        self.pid = task.pid

    # -- state ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._task.name

    @name.setter
    def name(self, value: str) -> None:
        self._task.name = value

    @property
    def alive(self) -> bool:
        return self._task.alive

    @property
    def exit_status(self) -> int | None:
        return self._task.exit_status

    @property
    def term_signal(self) -> signal.Signals | None:
        return self._task.term_signal

    def _live(self) -> Task:
        return self.machine.kernel.task(self.pid)

    def _call(self, fn: Callable[..., T], *a: Any) -> T:
        k = self.machine.kernel
        k.current = task = self._live()
        try:
            result = fn(k, task, *a)
        except OutOfMemory:
            raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM)) from None
        self.machine.after_syscall()
        return result

    # -- memory ---------------------------------------------------------------

    def mmap(
        self, addr: int | None, length: int, prot: int, flags: int, fd: int = -1, offset: int = 0
    ) -> int:
        """mmap(2); ``addr`` 0 or None lets the kernel choose; returns the address."""
        return self._call(mman.sys_mmap, *abi.decode("mmap", addr, length, prot, flags, fd, offset))

    def munmap(self, addr: int, length: int) -> None:
        """munmap(2)."""
        self._call(mman.sys_munmap, *abi.decode("munmap", addr, length))

    def msync(self, addr: int, length: int, flags: int) -> None:
        """msync(2)."""
        self._call(mman.sys_msync, *abi.decode("msync", addr, length, flags))

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        """mprotect(2)."""
        self._call(mman.sys_mprotect, *abi.decode("mprotect", addr, length, prot))

    def load(self, addr: int, size: int) -> bytes:
        """The CPU reads ``size`` bytes at ``addr``."""
        if type(addr) is not int or not 0 <= addr <= U64_MAX:
            addr = abi.address("addr", addr)
        if type(size) is not int or not 0 <= size <= U64_MAX:
            size = abi.u64("size", size)
        task = self._task
        if not task.alive:
            raise ProcessLookupError(errno.ESRCH, "No such process")
        try:
            return task.mm.load(addr, size) if size else b""
        except MemoryFault as fault:
            raise self._killed(task, fault) from None
        finally:
            if self.machine.check_invariants:
                self.machine.after_syscall()

    def store(self, addr: int, data: bytes) -> None:
        """The CPU writes ``data`` at ``addr``."""
        if type(addr) is not int or not 0 <= addr <= U64_MAX:
            addr = abi.address("addr", addr)
        if type(data) is not bytes:
            data = abi.data("data", data)
        task = self._task
        if not task.alive:
            raise ProcessLookupError(errno.ESRCH, "No such process")
        try:
            if data:
                task.mm.store(addr, data)
        except MemoryFault as fault:
            raise self._killed(task, fault) from None
        finally:
            if self.machine.check_invariants:
                self.machine.after_syscall()

    def _killed(self, task: Task, fault: MemoryFault) -> ProcessKilled:
        self.machine.kernel.current = task
        fork_exec.kill(self.machine.kernel, task, fault.signal)
        return ProcessKilled(fault.signal, task.pid, fault.va)

    # -- files ----------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o644) -> int:
        """open(2); returns a file descriptor."""
        return self._call(files.sys_open, *abi.decode("open", path, flags, mode))

    def close(self, fd: int) -> None:
        """close(2): mappings of the file stay."""
        self._call(files.sys_close, *abi.decode("close", fd))

    def read(self, fd: int, n: int) -> bytes:
        """read(2)."""
        return self._call(files.sys_read, *abi.decode("read", fd, n))

    def write(self, fd: int, data: bytes) -> int:
        """write(2); returns the count written."""
        return self._call(files.sys_write, *abi.decode("write", fd, data))

    def pread(self, fd: int, n: int, offset: int) -> bytes:
        """pread(2)."""
        return self._call(files.sys_pread, *abi.decode("pread", fd, n, offset))

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        """pwrite(2)."""
        return self._call(files.sys_pwrite, *abi.decode("pwrite", fd, data, offset))

    def lseek(self, fd: int, offset: int, whence: int) -> int:
        """lseek(2); returns the new position."""
        return self._call(files.sys_lseek, *abi.decode("lseek", fd, offset, whence))

    def ftruncate(self, fd: int, length: int) -> None:
        """ftruncate(2)."""
        self._call(files.sys_ftruncate, *abi.decode("ftruncate", fd, length))

    def fsync(self, fd: int) -> None:
        """fsync(2)."""
        self._call(files.sys_fsync, *abi.decode("fsync", fd))

    def unlink(self, path: str) -> None:
        """unlink(2)."""
        self._call(files.sys_unlink, *abi.decode("unlink", path))

    def pipe(self) -> tuple[int, int]:
        """pipe(2): (read end, write end)."""
        return self._call(files.sys_pipe)

    def chmod(self, path: str, mode: int) -> None:
        """chmod(2)."""
        self._call(files.sys_chmod, *abi.decode("chmod", path, mode))

    def fstat(self, fd: int) -> StatResult:
        """fstat(2)."""
        return self._call(files.sys_fstat, *abi.decode("fstat", fd))

    # -- processes --------------------------------------------------------------

    def fork(self, name: str | None = None) -> Process:
        """fork(2): the child, a new Process."""
        child = self._call(fork_exec.sys_fork, name)
        return self.machine._adopt(child)

    def exit(self, status: int = 0) -> None:
        """_exit(2): every mapping is removed, every fd closed."""
        self._call(fork_exec.sys_exit, *abi.decode("exit", status))

    def execve(
        self,
        path: str,
        argv: tuple[str, ...] | list[str] = (),
        *,
        env: tuple[str, ...] | list[str] = (),
        libraries: bool = False,
    ) -> None:
        """execve(2): the old mappings go, the ELF program and its interpreter are mapped.

        ``env``: the environment strings (none by default, as ``env -i``).
        ``libraries`` (simulator only): also make the mappings that the dynamic
        loader makes for the program's needed libraries.
        """
        path, args = abi.decode("execve", path, argv)
        envp = abi.argv("env", env)
        rand = Randomizer(self.machine.rng)
        exe, interp = self._call(fork_exec.sys_execve, path, args or [path], envp, rand)
        if libraries and interp is not None:  # ld.so runs in the new image, in user space
            self._call(ld_so.start, exe, interp)

    def brk(self, addr: int) -> int:
        """The brk system call (not glibc's wrapper): returns the break after the call."""
        return self._call(brk.sys_brk, *abi.decode("brk", addr))

    def sbrk(self, increment: int) -> int:
        """sbrk(3): move the break by ``increment``; returns the old break (ENOMEM)."""
        if isinstance(increment, bool) or not isinstance(increment, int):
            raise TypeError("increment must be an int")
        return self._call(brk.sys_sbrk, increment)

    # -- inspection ---------------------------------------------------------

    def maps(self) -> str:
        """The text of /proc/<pid>/maps."""
        return render_maps(self._live().mm)

    def smaps(self) -> str:
        """The text of /proc/<pid>/smaps."""
        return render_smaps(self._live().mm, self.machine.kernel.pkeys)

    def pagemap(self, va: int) -> PageInfo:
        """What /proc/<pid>/pagemap says of the page holding ``va``."""
        return pagemap_entry(self._live().mm, abi.address("va", va))

    def __repr__(self) -> str:
        state = "alive" if self.alive else "dead"
        return f"<Process {self.pid} {self.name!r} {state}>"

    def _repr_html_(self) -> str | None:
        """The process's mappings and present pages as a table, for Jupyter, once
        :mod:`mmapsim.viz` is imported (:mod:`mmapsim.display`)."""
        return display.html("process", self)


#: API.md's Process and the simulator's extras, checked by mypy (mmapsim.contract).
_contract: type[SimOnlyProcess] = Process
