"""HostProcess: API.md's Process, as a real process on this computer's kernel."""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import signal
from typing import TYPE_CHECKING, NoReturn

from mmapsim import abi
from mmapsim.constants import MAP_FIXED, MAP_FIXED_NOREPLACE
from mmapsim.contract import ProcessAPI
from mmapsim.errors import HostRefused, HostTimeout, ProcessKilled
from mmapsim.host import boundary, growth, limits, proc_read
from mmapsim.host.boundary import Op, ProgramPages, Verdict
from mmapsim.host.channel import ChannelBroken, ChannelClosed
from mmapsim.host.host_process_batch import BatchCalls
from mmapsim.host.host_process_ipc import HostIpcCalls
from mmapsim.host.host_process_memory import (
    GROWS,
    MemoryCalls,
    _pieces,
    claims,
    hugetlb_extent,
)
from mmapsim.host.state import MachineState, ProcRecord
from mmapsim.pageinfo import PageInfo

if TYPE_CHECKING:
    from mmapsim.host.host_machine import HostMachine


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"host worker answered {value!r} where an int belongs")
    return value


def _bytes(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"host worker answered {type(value).__name__} where bytes belong")
    return value


class _Died(Exception):
    """The worker ended while serving a call."""


class HostProcess(HostIpcCalls, MemoryCalls, BatchCalls):
    """A real process (a worker) of a HostMachine; every call is a real system call.

    Arguments are checked here, in the controller, before anything is sent:
    wrong types raise TypeError, ints outside their C type OverflowError.
    """

    def __init__(self, machine: HostMachine, record: ProcRecord, name: str | None) -> None:
        self.machine = machine
        self._record = record
        self.pid = record.pid
        self.name = name if name is not None else f"host-{record.pid}"

    @property
    def _state(self) -> MachineState:
        return self.machine._state

    # -- state ----------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether the real process still runs."""
        with self._state.lock:
            return not self._state.closed and self._state.poll(self._record)

    @property
    def exit_status(self) -> int | None:
        """Its _exit(2) status (None while alive or if a signal ended it)."""
        self.alive  # noqa: B018 - notice a death first
        return self._record.exit_status

    @property
    def term_signal(self) -> signal.Signals | None:
        """The signal that ended it (None while alive or if it exited)."""
        self.alive  # noqa: B018 - notice a death first
        return self._record.term_signal

    def _gone(self) -> NoReturn:
        raise ProcessLookupError(errno.ESRCH, f"process {self.pid} has ended")

    def _call(self, op: str, *args: object, fds: tuple[int, ...] = ()) -> object:
        """Run ``op`` in the worker; raises its OSError, or _Died if it ended."""
        state = self._state
        with state.lock:
            if not (not state.closed and state.poll(self._record)):
                self._gone()
            try:
                ok, value = state.rpc(self._record.chan, op, args, fds, pid=self.pid)
            except ChannelClosed:
                state.wait_dead(self._record)
                raise _Died from None
            except HostTimeout:
                state.wait_dead(self._record)
                raise
            except ChannelBroken:  # a reply that no worker of ours would send
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                state.wait_dead(self._record)
                raise _Died from None
        if not ok:
            assert isinstance(value, BaseException)
            raise state.ns.contract_error(value)
        return value

    @property
    def pages(self) -> ProgramPages:
        """The pages that belong to the program (see ``boundary``)."""
        return self._record.pages

    def _guard(
        self, op: Op, addr: int, length: int, *, noreplace: bool = False, whole: bool = False
    ) -> Verdict:
        """The boundary's verdict on a call over ``[addr, addr + length)``.

        Raises HostRefused for a call that would touch the host worker's own
        pages, and ProcessLookupError if the process has ended.
        """
        state = self._state
        with state.lock:
            if not (not state.closed and state.poll(self._record)):
                self._gone()
            try:
                pages = self._record.pages
                return boundary.guard(
                    self.pid, pages, op, addr, length, noreplace=noreplace, whole=whole
                )
            except FileNotFoundError:
                self._gone()

    def _syscall(self, op: str, *args: object) -> object:
        """A call that cannot end the process (if it did, it is gone)."""
        try:
            return self._call(op, *args)
        except _Died:
            self._gone()

    def _access(self, op: str, *args: object) -> object:
        """A load or store: a fatal fault is ProcessKilled at the lowest faulting address."""
        try:
            return self._call(op, *args)
        except _Died:
            record = self._record
            if record.term_signal is None:
                self._gone()
            raise ProcessKilled(record.term_signal, self.pid, record.fault_va) from None

    # -- memory ---------------------------------------------------------------

    def mmap(
        self,
        addr: int | None,
        length: int,
        prot: int,
        flags: int,
        fd: int = -1,
        offset: int = 0,
    ) -> int:
        """Implements mmap(2) on the real kernel; ``addr`` 0 or None lets it choose.

        A MAP_FIXED (or MAP_FIXED_NOREPLACE) mapping over a page of the host
        worker is refused (HostRefused); the new pages become the program's.
        """
        va, n, prot, flags, fd, off = abi.decode("mmap", addr, length, prot, flags, fd, offset)
        args = (prot, flags, fd)
        n = hugetlb_extent(flags, n)
        holes: tuple[tuple[int, int], ...] = ()
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
            try:
                verdict = self._guard(Op.MAP_FIXED, va, n, noreplace=not flags & MAP_FIXED)
            except HostRefused:
                if flags & MAP_FIXED:
                    self._probe_fixed(va, n, *args, off)
                raise
            holes = claims(verdict, va, n)
        start = _int(self._syscall("mmap", va, n, *args, off, *holes))
        self._record.pages.add(start, n)
        return start

    def _probe_fixed(self, va: int, n: int, prot: int, flags: int, fd: int, off: int) -> None:
        """The kernel's own objection to a MAP_FIXED mapping refused by the boundary.

        The same mapping with MAP_FIXED_NOREPLACE instead fails without
        touching a page: with EEXIST (the worker's pages are there), or first
        with what the program alone gets (EBADF, EINVAL, ...), which is raised.
        """
        probe = (flags & ~MAP_FIXED) | MAP_FIXED_NOREPLACE
        try:
            start = _int(self._syscall("mmap", va, n, prot, probe, fd, off))
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return
            raise
        self._syscall("munmap", start, n)  # the worker's pages moved away meanwhile

    def munmap(self, addr: int, length: int) -> None:
        """Implements munmap(2) on the real kernel (never over the worker's pages)."""
        va, n = abi.decode("munmap", addr, length)
        verdict = self._guard(Op.UNMAP, va, n)
        self._syscall("munmap", va, n, *_pieces(verdict))
        self._record.pages.remove(va, n)

    def msync(self, addr: int, length: int, flags: int) -> None:
        """Implements msync(2) on the real kernel (never over the worker's pages)."""
        va, n, flags = abi.decode("msync", addr, length, flags)
        verdict = self._guard(Op.SYNC, va, n)
        self._syscall("msync", va, n, flags, *_pieces(verdict))

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        """Implements mprotect(2) on the real kernel.

        As Linux, it changes the program's mappings up to the first page that
        is not the program's and fails there with ENOMEM; a worker page is a
        hole to the program, and is never changed (see ``boundary``).
        """
        va, n, prot = abi.decode("mprotect", addr, length, prot)
        verdict = self._guard(Op.PROTECT, va, n, whole=bool(prot & GROWS))
        self._syscall("mprotect", va, verdict.length, prot)
        verdict.finish()

    def load(self, addr: int, size: int) -> bytes:
        """A real CPU read of ``size`` bytes at ``addr`` in this process."""
        va, n = abi.address("addr", addr), abi.u64("size", size)
        verdict = self._guard(Op.READ, va, n)
        self._state.limits.check_io("load", n)
        data = _bytes(self._access("load", va, n, *self._holes(verdict, va, n)))
        growth.adopt_growth(self.pid, self.pages, va, n)
        return data

    def store(self, addr: int, data: bytes) -> None:
        """A real CPU write of ``data`` at ``addr`` in this process."""
        va, payload = abi.address("addr", addr), abi.data("data", data)
        verdict = self._guard(Op.WRITE, va, len(payload))
        self._state.limits.check_io("store", len(payload))
        limits.check_store(self._state, len(payload))
        self._access("store", va, payload, *self._holes(verdict, va, len(payload)))
        growth.adopt_growth(self.pid, self.pages, va, len(payload))

    # -- files ----------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o644) -> int:
        """Implements open(2) on the real kernel (O_CLOEXEC only when asked for)."""
        shown, flags, mode = abi.decode("open", path, flags, mode)
        real = self._state.ns.real(shown)
        # os.open takes a C int: the same 32 bits; the kernel keeps only mode's 0o7777
        return _int(self._syscall("open", real, abi.signed_int(flags), mode & 0o7777))

    def close(self, fd: int) -> None:
        """Implements close(2): the file's mappings stay."""
        self._syscall("close", *abi.decode("close", fd))

    def read(self, fd: int, n: int) -> bytes:
        """Implements read(2) (at most ``max_io_bytes`` bytes: HostRefused beyond)."""
        args = abi.decode("read", fd, n)
        return _bytes(self._syscall("read", *args, self._state.limits.max_io_bytes))

    def write(self, fd: int, data: bytes) -> int:
        """Implements write(2); returns the count written (a full disk: see ``limits``)."""
        fd, data = abi.decode("write", fd, data)
        return _int(self._syscall("write", fd, limits.fitting(self._state, self.pid, fd, data)))

    def pread(self, fd: int, n: int, offset: int) -> bytes:
        """Implements pread(2) (at most ``max_io_bytes`` bytes: HostRefused beyond)."""
        args = abi.decode("pread", fd, n, offset)
        return _bytes(self._syscall("pread", *args, self._state.limits.max_io_bytes))

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        """Implements pwrite(2) (a full disk: see ``limits``)."""
        fd, data, off = abi.decode("pwrite", fd, data, offset)
        data = limits.fitting(self._state, self.pid, fd, data)
        return _int(self._syscall("pwrite", fd, data, off))

    def lseek(self, fd: int, offset: int, whence: int) -> int:
        """Implements lseek(2); returns the new position."""
        return _int(self._syscall("lseek", *abi.decode("lseek", fd, offset, whence)))

    def ftruncate(self, fd: int, length: int) -> None:
        """Implements ftruncate(2)."""
        self._syscall("ftruncate", *abi.decode("ftruncate", fd, length))

    def fsync(self, fd: int) -> None:
        """Implements fsync(2)."""
        self._syscall("fsync", *abi.decode("fsync", fd))

    def fstat(self, fd: int) -> os.stat_result:
        """Implements fstat(2): an os.stat_result."""
        result = self._syscall("fstat", *abi.decode("fstat", fd))
        assert isinstance(result, os.stat_result)
        return result

    def unlink(self, path: str) -> None:
        """Implements unlink(2)."""
        (shown,) = abi.decode("unlink", path)
        self._syscall("unlink", self._state.ns.changeable(shown))

    def chmod(self, path: str, mode: int) -> None:
        """Implements chmod(2)."""
        shown, mode = abi.decode("chmod", path, mode)
        self._syscall("chmod", self._state.ns.changeable(shown), mode & 0o7777)

    def pipe(self) -> tuple[int, int]:
        """Implements pipe(2): (read end, write end), neither close-on-exec.

        As on the simulator, both ends are O_NONBLOCK (reading an empty pipe that
        has writers fails with EAGAIN instead of blocking forever), and SIGPIPE is
        ignored, as Python leaves it, so a write with no reader fails with EPIPE.
        """
        fds = self._syscall("pipe")
        assert isinstance(fds, tuple)
        return _int(fds[0]), _int(fds[1])

    # -- processes --------------------------------------------------------------

    def fork(self, name: str | None = None) -> HostProcess:
        """Implements fork(2) with a real fork of the worker: the child, a new process."""
        return self.machine._fork(self, name)

    def exit(self, status: int = 0) -> None:
        """Implements _exit(2): the real process ends; its mappings and fds go with it."""
        (status,) = abi.decode("exit", status)
        try:
            self._call("exit", status)
        except _Died:
            return

    def execve(self, path: str, argv: tuple[str, ...] | list[str] = ()) -> None:
        """execve(2): the real kernel's verdict on ``path``, then a real exec of the worker.

        First the kernel execs ``path`` in a traced throwaway child that is killed
        before the program's first instruction: a failure (ENOENT, EACCES,
        ENOEXEC, ...) is exact and leaves this process unchanged.  When the
        kernel accepts the program, the worker itself calls the real execve(2)
        of a fresh worker image (the Python interpreter running the worker), so
        the kernel drops every old mapping (stores through a MAP_SHARED file
        mapping are in the file), closes the O_CLOEXEC descriptors and keeps the
        others; the pid stays, and the new image goes on serving calls.  The
        program ``path`` itself never runs and its segments are not mapped:
        ``maps()`` then shows the new interpreter's mappings.  The name becomes
        the file's base name, as on the simulator.
        """
        shown, args = abi.decode("execve", path, argv)
        real = self._state.ns.real(shown)
        try:
            self._call("execve", real, args, fds=(self._record.fault_fd,))
        except _Died:
            self._gone()
        self._record.pages.clear()  # the new image holds nothing of the program
        self.name = posixpath.basename(real) or self.name

    def _proc_text(self, name: str) -> str:
        with self._state.lock:
            if not self.alive:
                self._gone()
            return self._state.ns.contract(proc_read.read_text(self.pid, name))

    def maps(self) -> str:
        """The real /proc/<pid>/maps, with the machine's files at their contract paths."""
        return self._proc_text("maps")

    def program_maps(self) -> tuple[str, int]:
        """The lines of ``maps()`` that hold the program's pages, and how many were left out.

        The lines left out are the host worker's own mappings (the interpreter,
        its libraries, the fence, its stacks): what ``show maps`` hides on the host.
        """
        return boundary.program_lines(self.maps(), self._record.pages)

    def smaps(self) -> str:
        """The real /proc/<pid>/smaps, with the machine's files at their contract paths."""
        return self._proc_text("smaps")

    def pagemap(self, va: int) -> PageInfo:
        """What the real /proc/<pid>/pagemap says of the page holding ``va`` (needs root)."""
        va = abi.address("va", va)
        with self._state.lock:
            if not self.alive:
                self._gone()
            return proc_read.pagemap(self.pid, va)

    def __repr__(self) -> str:
        state = "alive" if self._record.alive else "dead"
        return f"<HostProcess {self.pid} {self.name!r} {state}>"


#: API.md's Process on the real kernel, checked by mypy (mmapsim.contract).
_contract: type[ProcessAPI] = HostProcess
