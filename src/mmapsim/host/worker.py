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
import signal
import stat
from collections.abc import Callable
from typing import Final, NoReturn

from mmapsim.constants import O_CLOEXEC
from mmapsim.host import exec_image, libc
from mmapsim.host.boundary import USER_SPAN, HostRefused
from mmapsim.host.channel import Channel, ChannelBroken, ChannelClosed
from mmapsim.host.exit_status import FaultPage
from mmapsim.host.worker_ipc import IpcOps
from mmapsim.host.worker_memory import MemoryOps, TouchedPages, _Range, claimed, plant

#: The file descriptor that a worker's channel lives at, out of the way of the
#: program's own descriptors (which start at 3, as in a freshly exec'd program).
CHANNEL_FD: Final = 1023
MAX_RW_COUNT: Final = 0x7FFFF000
READ_CHUNK: Final = 1 << 20

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


class Worker(IpcOps, MemoryOps):
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

    def op_fork(self, _slot: int, fd: int) -> object:
        """fork(2): the child keeps ``fd`` as its channel and answers nothing here.

        The child gives up its parent's fault page and announces its own.
        """
        pid = os.fork()
        if pid == 0:
            self.chan.close()
            self.chan = adopt_channel(fd)
            self.page.release()
            self.page = announce(self.chan)
            self.word = self.page.word
            return _CHILD
        os.close(fd)
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

    # -- files -------------------------------------------------------------

    def op_open(self, path: str, flags: int, mode: int) -> int:
        fd = os.open(path, flags, mode)
        if not flags & O_CLOEXEC:  # Python adds O_CLOEXEC; open(2) does not
            os.set_inheritable(fd, True)
        return fd

    def op_close(self, fd: int) -> None:
        os.close(self._fd(fd))

    def op_read(self, fd: int, n: int, cap: int) -> bytes:
        """read(2) into a buffer of ``n`` bytes, in chunks (see ``_check_count``).

        At most ``cap`` bytes (the machine's max_io_bytes) come back: a read
        that would give more is refused once ``cap`` bytes were read.
        """
        fd = self._fd(fd)
        if n > READ_CHUNK:
            _check_count(fd, n, None)
        n = _capped(n, cap)
        if n <= READ_CHUNK or not _is_seekable_data(fd):
            return _within(os.read(fd, min(n, READ_CHUNK)), cap)
        chunks = []
        while n > 0:
            chunk = os.read(fd, min(n, READ_CHUNK))
            chunks.append(chunk)
            n -= len(chunk)
            if len(chunk) < READ_CHUNK:
                break
        return _within(b"".join(chunks), cap)

    def op_write(self, fd: int, data: bytes) -> int:
        return os.write(self._fd(fd), data)

    def op_pread(self, fd: int, n: int, offset: int, cap: int) -> bytes:
        """pread(2) into a buffer of ``n`` bytes, in chunks (see ``_check_count``, ``op_read``)."""
        fd = self._fd(fd)
        if n > READ_CHUNK:
            _check_count(fd, n, offset)
        n = _capped(n, cap)
        chunks = []
        while True:
            chunk = os.pread(fd, min(n, READ_CHUNK), offset)
            chunks.append(chunk)
            n, offset = n - len(chunk), offset + len(chunk)
            if n <= 0 or len(chunk) < READ_CHUNK:
                return _within(b"".join(chunks), cap)

    def op_pwrite(self, fd: int, data: bytes, offset: int) -> int:
        return os.pwrite(self._fd(fd), data, offset)

    def op_lseek(self, fd: int, offset: int, whence: int) -> int:
        return os.lseek(self._fd(fd), offset, whence)

    def op_ftruncate(self, fd: int, length: int) -> None:
        os.ftruncate(self._fd(fd), length)

    def op_fsync(self, fd: int) -> None:
        fd = self._fd(fd)
        if fd < 0:  # os.fsync raises ValueError for these; fsync(2) says EBADF
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        os.fsync(fd)

    def op_fstat(self, fd: int) -> os.stat_result:
        return os.fstat(self._fd(fd))

    def op_unlink(self, path: str) -> None:
        os.unlink(path)

    def op_chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def op_raw_probe(self, kind: str, arg: str) -> int:
        """Test-only: a raw system call made by code inside the worker; its errno (0: done).

        Answers only where ``MMAPSIM_HOST_TEST_HOOKS=1`` was in the environment of
        the controller that started the master: it lets the tests check the
        kernel's confinement (``sandbox``) on its own, without the boundary.
        """
        if os.environ.get("MMAPSIM_HOST_TEST_HOOKS") != "1":
            raise NotImplementedError("unknown host call 'raw_probe'")
        return _raw_probe(kind, arg)

    def op_pipe(self) -> tuple[int, int]:
        """pipe2(O_NONBLOCK): a call never blocks the one-call-at-a-time controller."""
        rfd, wfd = os.pipe2(os.O_NONBLOCK)
        os.set_inheritable(rfd, True)
        os.set_inheritable(wfd, True)
        return rfd, wfd


LLONG_MAX: Final = 2**63 - 1
#: The calls a batch may hold: accesses, which change no mapping.
_BATCHED: Final = frozenset({"load", "store"})
#: A batch's answers are sent once they carry this many bytes of loads.
HELD_BYTES: Final = 1 << 18


def _check_count(fd: int, count: int, pos: int | None) -> None:
    """What the kernel says of a read count that the chunks would not show it.

    A program's buffer of ``count`` bytes is implicit here.  No buffer can reach
    past user space: then the real kernel is asked with a scratch buffer, and it
    fails before copying (access_ok gives EFAULT).  Below that, rw_verify_area
    rejects a range whose end passes LLONG_MAX with EINVAL; the chunks read less
    at a time, so that one check is made here, from the file's real position.
    """
    if count >= USER_SPAN:
        libc.refuse_read(fd, count, pos)
    if pos is None:
        try:
            pos = os.lseek(fd, 0, os.SEEK_CUR)
        except OSError:  # a pipe or socket has no position, and no such check
            return
    if pos >= 0 and pos + count > LLONG_MAX:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))


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


def _capped(n: int, cap: int) -> int:
    """The count to read: the kernel's MAX_RW_COUNT, and one byte past ``cap`` to see more."""
    return min(n, MAX_RW_COUNT, cap + 1)


def _within(data: bytes, cap: int) -> bytes:
    """``data``, unless it passes the per-call limit ``cap``."""
    if len(data) > cap:
        raise HostRefused(
            f"a read of more than {cap} bytes refused: one call of this HostMachine moves "
            "at most that many (HostMachine(max_io_bytes=...))"
        )
    return data


def _is_seekable_data(fd: int) -> bool:
    """True for regular files and devices, whose reads fill the whole count."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))
