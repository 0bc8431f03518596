"""API.md as typing protocols: the contract that both machines implement.

:class:`MachineAPI` and :class:`ProcessAPI` are API.md's Machine and Process;
``mmapsim.Machine`` and ``mmapsim.host.HostMachine`` (and their processes)
implement them, so that a test, a scenario or a program runs unchanged on
either kernel.  :class:`ProcessAPI` is made of API.md's sections: the first
round's calls, :class:`MemoryAPI` (mremap, madvise, mincore, the locking
calls) and :class:`IpcAPI` (shared memory, memfd, dup, waitpid).
:class:`SimOnly` and :class:`SimOnlyProcess` add what only the simulator has.

Each module that implements a protocol ends with an assignment that mypy
checks (``_: type[ProcessAPI] = HostProcess``), so a method missing or of
another signature on either machine is a type error, not a surprise at run time.

The argument types are the Python values the calls accept after
:func:`mmapsim.abi.decode` (any int, checked against its C type at run time).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from mmapsim.errors import NotOnThisKernel
from mmapsim.pageinfo import PageInfo
from mmapsim.shminfo import ShmInfo

if TYPE_CHECKING:
    from mmapsim.events import EventBus
    from mmapsim.fs.image import DiskImage


class StatAPI(Protocol):
    """What ``fstat`` and ``stat_file`` answer: at least these fields of ``struct stat``."""

    @property
    def st_mode(self) -> int: ...

    @property
    def st_size(self) -> int: ...

    @property
    def st_mtime_ns(self) -> int: ...

    @property
    def st_ctime_ns(self) -> int: ...


class MemoryAPI(Protocol):
    """API.md's mremap, madvise, mincore and the memory-locking calls."""

    def mremap(
        self, old_addr: int, old_size: int, new_size: int, flags: int = 0, new_addr: int = 0
    ) -> int: ...

    def madvise(self, addr: int, length: int, advice: int) -> None: ...

    def mincore(self, addr: int, length: int) -> bytes: ...

    def mlock(self, addr: int, length: int) -> None: ...

    def mlock2(self, addr: int, length: int, flags: int) -> None: ...

    def munlock(self, addr: int, length: int) -> None: ...

    def mlockall(self, flags: int) -> None: ...

    def munlockall(self) -> None: ...


class IpcAPI(Protocol):
    """API.md's System V and POSIX shared memory, memfd_create, dup and waitpid."""

    def shmget(self, key: int, size: int, shmflg: int) -> int: ...

    def shmat(self, shmid: int, addr: int | None = 0, shmflg: int = 0) -> int: ...

    def shmdt(self, addr: int) -> None: ...

    def shmctl(self, shmid: int, cmd: int, buf: object = None) -> ShmInfo | None: ...

    def shm_open(self, name: str, flags: int, mode: int = 0o600) -> int: ...

    def shm_unlink(self, name: str) -> None: ...

    def memfd_create(self, name: str, flags: int = 0) -> int: ...

    def dup(self, fd: int) -> int: ...

    def dup2(self, fd: int, fd2: int) -> int: ...

    def waitpid(self, pid: int, options: int = 0) -> tuple[int, int]: ...

    @property
    def zombie(self) -> bool:
        """Ended, and not yet waited for by its parent, which still runs."""
        ...


class ProcessAPI(MemoryAPI, IpcAPI, Protocol):
    """A process of either machine (API.md, Process)."""

    @property
    def pid(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def alive(self) -> bool: ...

    @property
    def exit_status(self) -> int | None: ...

    @property
    def term_signal(self) -> signal.Signals | None: ...

    # -- files ----------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o644) -> int: ...

    def close(self, fd: int) -> None: ...

    def read(self, fd: int, n: int) -> bytes: ...

    def write(self, fd: int, data: bytes) -> int: ...

    def pread(self, fd: int, n: int, offset: int) -> bytes: ...

    def pwrite(self, fd: int, data: bytes, offset: int) -> int: ...

    def lseek(self, fd: int, offset: int, whence: int) -> int: ...

    def ftruncate(self, fd: int, length: int) -> None: ...

    def fsync(self, fd: int) -> None: ...

    def unlink(self, path: str) -> None: ...

    def pipe(self) -> tuple[int, int]: ...

    def chmod(self, path: str, mode: int) -> None: ...

    def fstat(self, fd: int) -> StatAPI: ...

    # -- memory ---------------------------------------------------------------

    def mmap(
        self, addr: int | None, length: int, prot: int, flags: int, fd: int = -1, offset: int = 0
    ) -> int: ...

    def munmap(self, addr: int, length: int) -> None: ...

    def msync(self, addr: int, length: int, flags: int) -> None: ...

    def mprotect(self, addr: int, length: int, prot: int) -> None: ...

    def load(self, addr: int, size: int) -> bytes: ...

    def store(self, addr: int, data: bytes) -> None: ...

    # -- processes ------------------------------------------------------------

    def fork(self) -> ProcessAPI: ...

    def execve(self, path: str, argv: tuple[str, ...] | list[str] = ()) -> None: ...

    def exit(self, status: int = 0) -> None: ...

    # -- inspection -----------------------------------------------------------

    def maps(self) -> str: ...

    def smaps(self) -> str: ...

    def pagemap(self, va: int) -> PageInfo: ...


class MachineAPI(Protocol):
    """A machine of either kind (API.md, Machine)."""

    def spawn(self, name: str | None = None) -> ProcessAPI: ...

    def write_file(self, path: str, data: bytes) -> None: ...

    def read_file(self, path: str) -> bytes: ...

    def stat_file(self, path: str) -> StatAPI:
        """stat(2) of ``path``, as a tool outside every process would ask it."""
        ...

    @property
    def processes(self) -> Sequence[ProcessAPI]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class SimOnlyProcess(ProcessAPI, Protocol):
    """What only a simulated process has: brk, sbrk, and execve's environment and libraries."""

    def fork(self, name: str | None = None) -> SimOnlyProcess: ...

    def execve(
        self,
        path: str,
        argv: tuple[str, ...] | list[str] = (),
        *,
        env: tuple[str, ...] | list[str] = (),
        libraries: bool = False,
    ) -> None: ...

    def brk(self, addr: int) -> int: ...

    def sbrk(self, increment: int) -> int: ...


class SimOnly(MachineAPI, Protocol):
    """What only the simulator has (API.md marks them "simulator only")."""

    def spawn(self, name: str | None = None) -> SimOnlyProcess: ...

    @property
    def processes(self) -> Sequence[SimOnlyProcess]: ...

    @property
    def events(self) -> EventBus: ...

    def crash(self) -> None: ...

    def advance(self, seconds: float) -> int: ...

    @property
    def uptime(self) -> float: ...

    def disk_image(self) -> DiskImage: ...


MachineFactory = Callable[[], MachineAPI]


def read_disk(machine: MachineAPI, path: str) -> bytes:
    """The bytes of ``path`` on its disk (``m.read_disk``), past the page cache."""
    method: Callable[[str], bytes] | None = getattr(machine, "read_disk", None)
    if method is None:
        raise NotOnThisKernel("this machine cannot read a file's disk")
    return method(path)


def sync(machine: MachineAPI) -> int:
    """sync(2) on ``machine``: how many dirty pages were written back."""
    method: Callable[[], int] | None = getattr(machine, "sync", None)
    if method is None:
        raise NotOnThisKernel("this machine cannot sync")
    return method()


def crash(machine: MachineAPI) -> None:
    """A power failure of ``machine`` (``m.crash()``, the simulator's)."""
    method: Callable[[], None] | None = getattr(machine, "crash", None)
    if method is None:
        raise NotOnThisKernel(CRASH_NEEDS_SIM)
    method()


#: Why a scenario with ``crash`` cannot run on the real kernel.
CRASH_NEEDS_SIM = (
    "crash needs the simulator (--kernel sim): a power failure of this computer's "
    "kernel cannot be made and survived by a test"
)


def syscall(process: ProcessAPI, name: str) -> Callable[..., Any]:
    """The method of ``process`` that performs the C call ``name``."""
    method: Callable[..., Any] = getattr(process, "exit" if name == "_exit" else name)
    return method
