"""A worker: one real process of a HostMachine, serving calls over its channel.

Each request is ``(rid, op, args)`` and is answered ``(rid, (True, value))`` or
``(rid, (False, exception))``; a file descriptor that rides with a request (the
channel of a fork child) is appended to ``args``.  Memory accesses are real CPU
accesses: a SIGSEGV or SIGBUS kills this process with the default action, and
the address it was about to touch is in its own fault page (see ``fault``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
from collections.abc import Callable
from typing import Final, NoReturn

from mmapsim.constants import O_CLOEXEC
from mmapsim.host import exec_image, libc
from mmapsim.host.channel import Channel, ChannelBroken, ChannelClosed
from mmapsim.host.exit_status import FaultPage
from mmapsim.host.limits import NOFILE
from mmapsim.host.worker_files import FileOps
from mmapsim.host.worker_ipc import IpcOps
from mmapsim.host.worker_memory import MemoryOps, TouchedPages, _Range, claimed, plant

#: The file descriptor that a worker's channel lives at, out of the way of the
#: program's own descriptors (which start at 3, as in a freshly exec'd program).
CHANNEL_FD: Final = 1023

_CHILD: Final = object()  # a fork child: the parent's request is not its to answer
_ANSWERED: Final = object()  # a batch: each of its calls was answered in turn


def adopt_channel(fd: int) -> Channel:
    """Move the channel socket ``fd`` to CHANNEL_FD and wrap it."""
    if fd != CHANNEL_FD:
        os.dup2(fd, CHANNEL_FD, inheritable=False)
        os.close(fd)
    return Channel.from_fd(CHANNEL_FD)


def announce(chan: Channel) -> FaultPage:
    """A new worker's first message: its pid and the memfd of its own fault page.

    Only this process and the controller ever hold that page.
    """
    page, memfd = FaultPage.create()
    try:
        chan.send(("hello", os.getpid()), (memfd,))
    finally:
        os.close(memfd)
    return page


def _program_nofile() -> None:
    """RLIMIT_NOFILE's soft limit back at the program's NOFILE."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE + 1))


def reset_signals() -> None:
    """SIGINT, SIGTERM and SIGCHLD back to their default actions.

    SIGCHLD at its default reaps nothing: an ended child stays a zombie, whose
    wait status the controller reads from the kernel (see ``fault``).

    SIGPIPE and SIGXFSZ stay ignored, as Python leaves them (and as the simulator
    models it): a write to a pipe without readers fails with EPIPE and a write
    past the file size limit with EFBIG, instead of killing the process.
    """
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)


class Worker(FileOps, IpcOps, MemoryOps):
    """Serves the system calls of one real process."""

    def __init__(self, chan: Channel, page: FaultPage) -> None:
        self.chan = chan
        self.page = page
        self.word = page.word
        self.rid = -1  # the request being served
        self.ops: dict[str, Callable[..., object] | None] = {}  # op_<name>, found once

    def serve(self) -> NoReturn:
        """Answer requests until the controller goes away, then exit."""
        while True:
            try:
                rid, op, args, fds = self.chan.recv_request()
            except (ChannelClosed, ChannelBroken, OSError):
                os._exit(0)
            self.rid = rid
            reply = self.handle(op, (*args, *fds))
            if reply is _CHILD or reply is _ANSWERED:
                continue
            try:
                self.chan.send((rid, reply))
            except (ChannelClosed, ChannelBroken, OSError):
                os._exit(0)

    def handle(self, op: str, args: tuple[object, ...]) -> object:
        method = self.ops.get(op)
        if method is None:
            method = self.ops[op] = getattr(self, "op_" + op, None)
        if method is None:
            return (False, NotImplementedError(f"unknown host call {op!r}"))
        try:
            result = method(*args)
        except Exception as exc:  # the caller's errno, or a bug to show in the controller
            return (False, exc)
        return result if result is _CHILD or result is _ANSWERED else (True, result)

    def _fd(self, fd: int) -> int:
        """The program's view of descriptor numbers: the channel is not open."""
        return -1 if fd == CHANNEL_FD else fd

    # -- memory ------------------------------------------------------------

    def op_mmap(
        self, addr: int, length: int, prot: int, flags: int, fd: int, off: int, *claims: _Range
    ) -> int:
        """mmap(2); a MAP_FIXED one over holes claims them first (``worker_memory.claimed``)."""
        if not claims:
            return libc.mmap(addr, length, prot, flags, self._fd(fd), off)
        with claimed(claims):
            return libc.mmap(addr, length, prot, flags, self._fd(fd), off)

    def op_mprotect(self, addr: int, length: int, prot: int) -> None:
        libc.mprotect(addr, length, prot)

    def op_batch(self, calls: list[tuple[str, tuple[object, ...]]]) -> object:
        """Loads and stores in order; the answers go in frames of ``[(ok, value), ...]``.

        A fault kills this process inside a call: every answer before that
        call must have reached the controller (see ``host_process_batch``).
        So the answers held are sent before each call that could fault, one
        that touches a page that no earlier call of the batch has touched
        the same way (``TouchedPages``), and when they grow large.
        """
        touched, held, size = TouchedPages(), list[object](), 0
        for op, args in calls:
            if held and (size >= HELD_BYTES or not touched.cannot_fault(op, args)):
                self._answer(held)
                held, size = [], 0
            reply = self.handle(op, args) if op in _BATCHED else (False, NotImplementedError(op))
            if isinstance(reply, tuple) and reply[0]:
                touched.note(op, args)
                size += len(reply[1]) if isinstance(reply[1], bytes) else 0
            held.append(reply)
        if held:
            self._answer(held)
        return _ANSWERED

    def _answer(self, replies: list[object]) -> None:
        try:
            self.chan.send((self.rid, (True, replies)))
        except (ChannelClosed, ChannelBroken, OSError):
            os._exit(0)

    # -- processes ---------------------------------------------------------

    def op_fork_room(self) -> None:
        """Before a fork: room for one descriptor above the program's RLIMIT_NOFILE,
        for the child's channel, even when the program has every descriptor open
        (fork(2) itself needs none).  ``op_fork`` gives the room back."""
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE + 1, NOFILE + 1))

    def op_fork(self, _slot: int, fd: int) -> object:
        """fork(2): the child keeps ``fd`` as its channel and answers nothing here.

        The child gives up its parent's fault page and announces its own.  Both
        then have RLIMIT_NOFILE's soft limit back at NOFILE.
        """
        try:
            pid = os.fork()
        except BaseException:
            _program_nofile()
            raise
        if pid == 0:
            self.chan.close()
            self.chan = adopt_channel(fd)
            self.page.release()
            self.page = announce(self.chan)
            self.word = self.page.word
            _program_nofile()
            return _CHILD
        os.close(fd)
        _program_nofile()
        return pid

    def op_execve(self, path: str, argv: list[str], fault_fd: int) -> None:
        """execve(2): the kernel's verdict on ``path``, then a fresh worker exec_image.

        A failure is this call's OSError and the process is unchanged (see
        ``image``).  On success this image is gone: the new one answers.
        """
        try:
            os.set_inheritable(fault_fd, False)
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            try:
                code = exec_image.probe_exec(path, argv)
                if code:
                    raise OSError(code, os.strerror(code), path)
                raise exec_image.exec_fresh_worker(CHANNEL_FD, fault_fd, self.rid)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        finally:
            os.close(fault_fd)

    def op_exit(self, status: int) -> NoReturn:
        os._exit(status)

    def op_raw_probe(self, kind: str, arg: str) -> int:
        """Test-only: a raw system call made by code inside the worker; its errno (0: done).

        Answers only where ``MMAPSIM_HOST_TEST_HOOKS=1`` was in the environment of
        the controller that started the master: it lets the tests check the
        kernel's confinement (``sandbox``) on its own, without the boundary.
        """
        if os.environ.get("MMAPSIM_HOST_TEST_HOOKS") != "1":
            raise NotImplementedError("unknown host call 'raw_probe'")
        return _raw_probe(kind, arg)


#: The calls a batch may hold: accesses, which change no mapping.
_BATCHED: Final = frozenset({"load", "store"})
#: A batch's answers are sent once they carry this many bytes of loads.
HELD_BYTES: Final = 1 << 18


_RAW: Final = {"open": 257, "socket": 41, "execve": 59}  # openat, socket, execve (x86-64)


def _raw_probe(kind: str, arg: str) -> int:
    """One raw system call of the test hook (see ``Worker.op_raw_probe``)."""
    path = ctypes.c_char_p(os.fsencode(arg))
    addr = ctypes.cast(path, ctypes.c_void_p).value or 0
    try:
        if kind == "open":  # openat(AT_FDCWD, arg, O_RDWR | O_CREAT | O_CLOEXEC, 0600)
            flags = os.O_RDWR | os.O_CREAT | O_CLOEXEC
            os.close(libc.syscall(_RAW[kind], -100 % 2**64, addr, flags, 0o600))
        elif kind == "read":  # openat(AT_FDCWD, arg, O_RDONLY | O_CLOEXEC)
            os.close(libc.syscall(_RAW["open"], -100 % 2**64, addr, O_CLOEXEC))
        elif kind == "socket":  # socket(int(arg), SOCK_STREAM, 0)
            os.close(libc.syscall(_RAW[kind], int(arg), 1, 0))
        elif kind == "plant":  # map file ``path`` at ``addr`` right before the next hole
            return plant(arg)
        elif kind == "scribble":  # write 0x3f over each shared writable mapping here
            return _scribble()
        elif kind == "open_memory":  # open the memory of process ``arg`` for writing
            return _open_memory(int(arg))
        elif kind == "execve":  # execve(arg, {arg, NULL}, {NULL})
            argv = (ctypes.c_char_p * 2)(os.fsencode(arg), None)
            envp = (ctypes.c_char_p * 1)(None)
            libc.syscall(_RAW[kind], addr, ctypes.addressof(argv), ctypes.addressof(envp))
        else:
            raise ValueError(kind)
    except OSError as exc:
        return exc.errno or -1
    return 0


def _scribble() -> int:
    """Overwrite every ``rw-s`` mapping of this process; 0 (the test hook's answer)."""
    with open("/proc/self/maps", encoding="ascii", errors="replace") as f:
        lines = [line.split() for line in f]
    for fields in lines:
        if fields[1] == "rw-s":
            start, end = (int(v, 16) for v in fields[0].split("-"))
            ctypes.memset(start, 0x3F, end - start)
    return 0


def _open_memory(pid: int) -> int:
    """Open ``pid``'s memory and each of its mapped files read-write through /proc.

    0 if one of them opened, else the errno of the last attempt.
    """
    code = errno.ENOENT
    try:
        names = [f"map_files/{n}" for n in os.listdir(f"/proc/{pid}/map_files")]
    except OSError as exc:
        names, code = [], exc.errno or -1
    for name in ["mem", *names]:
        try:
            os.close(os.open(f"/proc/{pid}/{name}", os.O_RDWR | O_CLOEXEC))
            return 0
        except OSError as exc:
            code = exc.errno or -1
    return code
