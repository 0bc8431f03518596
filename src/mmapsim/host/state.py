"""What a HostMachine holds, kept apart from the HostMachine object itself.

The finalizer that ends a machine's real processes when the machine is garbage
collected may hold this state, never the machine (that would keep it alive).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import select
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Final

from mmapsim.host import cgroup, exit_status, launcher, sandbox
from mmapsim.host.boundary import ProgramPages
from mmapsim.host.channel import Channel, ChannelBroken, ChannelClosed
from mmapsim.host.limits import HostTimeout, Limits
from mmapsim.host.paths import Namespace

#: How many real processes a machine may have at most, whatever its limits.
N_SLOTS: Final = 4096
#: How long a process whose channel closed may take to become a zombie.
REAP_TIMEOUT: Final = 10.0


@dataclass
class ProcRecord:
    """One real process of a machine, as the controller knows it."""

    pid: int
    slot: int
    chan: Channel
    fault_fd: int = -1  # the memfd of its fault page (see ``fault``)
    pidfd: int = -1  # readable once the process has ended (see ``MachineState.poll``)
    watch: select.poll | None = field(default=None, repr=False)  # polls the pidfd
    alive: bool = True
    exit_status: int | None = None
    term_signal: signal.Signals | None = None
    fault_va: int = 0
    pages: ProgramPages = field(default_factory=ProgramPages)
    parent: ProcRecord | None = None  # the machine's process that forked it
    reaped: bool = False  # its parent waited for it


@dataclass
class MachineState:
    """The master, zygote and private root of one machine, and its processes."""

    master: launcher.Master
    zpid: int
    zchan: Channel
    ns: Namespace
    lock: threading.RLock = field(default_factory=threading.RLock)
    records: list[ProcRecord] = field(default_factory=list)
    free_slots: list[int] = field(default_factory=lambda: list(range(N_SLOTS - 1, -1, -1)))
    closed: bool = False
    ids: itertools.count[int] = field(default_factory=itertools.count)
    limits: Limits = field(default_factory=Limits)
    groups: list[str] = field(default_factory=list)
    stores: int = 0  # stores made, to check the disk every so often
    zombies: set[int] = field(default_factory=set)  # buried, still to be reaped

    @classmethod
    def start(cls, limits: Limits | None = None) -> MachineState:
        """Fork a zygote from the master and wait until it is ready."""
        ns = Namespace.create()
        try:
            master = launcher.master()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            with theirs:
                fsize = (limits or Limits()).max_file_size
                zpid = master.request("machine", (ns.root, fsize), (theirs.fileno(),))
            zchan = Channel(ours)
            ready, fds = zchan.recv(reply=True)
            for fd in fds:
                os.close(fd)
            layers = list(ready[2]) if isinstance(ready, tuple) and len(ready) == 3 else []
        except BaseException:
            ns.remove()
            raise
        assert isinstance(zpid, int)
        limits = limits or Limits()
        groups = cgroup.create(zpid, limits.max_processes, limits.max_memory)
        if groups:
            layers.append("cgroup")
        sandbox.warn_missing([str(name) for name in layers])
        if "shm" in layers:
            ns.use_private_tmpfs(zpid)
        return cls(master, zpid, zchan, ns, limits=limits, groups=groups)

    def rpc(
        self,
        chan: Channel,
        op: str,
        args: tuple[object, ...],
        fds: tuple[int, ...] = (),
        pid: int | None = None,
    ) -> tuple[bool, object]:
        """One request and its reply; ChannelClosed when the process died meanwhile.

        A process ``pid`` that has not answered within ``max_call_seconds`` is
        killed (SIGKILL), and the call raises HostTimeout.
        """
        rid = next(self.ids)
        chan.send((rid, op, args), fds)
        if pid is not None:
            self.await_reply(chan, op, pid)
        return chan.recv_reply(rid)

    def await_reply(self, chan: Channel, op: str, pid: int) -> None:
        """Wait until process ``pid`` answers (or ends); after ``max_call_seconds``
        it is killed (SIGKILL) and the call ``op`` raises HostTimeout."""
        if not chan.wait(self.limits.max_call_seconds):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            raise HostTimeout(
                errno.ETIMEDOUT,
                f"{op} ran longer than {self.limits.max_call_seconds:g} s, so process "
                f"{pid} was killed (HostMachine(max_call_seconds=...))",
            )

    def alloc_slot(self) -> int:
        live = sum(1 for r in self.records if r.alive)
        if not self.free_slots or live >= self.limits.max_processes:
            raise OSError(11, os.strerror(11))  # EAGAIN, as fork(2) at its limit
        return self.free_slots.pop()

    def new_channel(self) -> tuple[Channel, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return Channel(ours), theirs

    def spawn(self, slot: int) -> ProcRecord:
        """A fresh worker forked by the zygote."""
        chan, theirs = self.new_channel()
        with theirs:
            ok, value = self.rpc(self.zchan, "spawn", (), (theirs.fileno(),))
        if not ok or not isinstance(value, int):
            chan.close()
            raise value if isinstance(value, BaseException) else RuntimeError(value)
        return self.adopt(value, slot, chan)

    def adopt(self, pid: int, slot: int, chan: Channel) -> ProcRecord:
        """Start tracking the new process ``pid``, once it announced its fault page.

        A process that ended before it could, or that said anything else, is
        tracked as ended (killed, if it still runs).
        """
        chan.limit = 4096
        fault_fd = -1
        try:
            ready, _w, _x = select.select([chan.sock], [], [], self.limits.max_call_seconds)
            hello, fds = chan.recv(reply=True) if ready else (None, [])
            if hello == ("hello", pid) and len(fds) == 1:
                fault_fd = fds.pop()
            for fd in fds:
                os.close(fd)
        except (ChannelClosed, OSError):
            pass
        if fault_fd < 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        chan.limit = self.limits.max_io_bytes + (1 << 20)  # a reply's data, and its frame
        record = ProcRecord(pid, slot, chan, fault_fd, _open_pidfd(pid))
        self.records.append(record)
        return record

    def poll(self, record: ProcRecord) -> bool:
        """Whether ``record`` still runs; it is buried once the kernel says it ended.

        The wait status is the zombie's own, in ``/proc`` (see ``fault``); a
        process reaped before the controller saw it (its status lost) is taken
        as killed.  The kernel first says whether it ended at all through the
        record's pidfd (pidfd_open(2)), which polls readable once the process
        is a zombie or gone (``pidfd_poll``): a live process costs one poll(2)
        instead of a read of ``/proc/<pid>/stat``.
        """
        if record.alive and record.pidfd >= 0 and not _ended(record):
            return True
        if record.alive:
            done, status, _ppid = exit_status.ended(record.pid)
            if done:
                self.bury(record, signal.SIGKILL if status is None else status)
        return record.alive

    def wait_dead(self, record: ProcRecord) -> None:
        """After its channel closed: wait until the kernel says the process ended."""
        deadline = time.monotonic() + REAP_TIMEOUT
        delay = 20e-6
        while self.poll(record):
            if time.monotonic() > deadline:
                raise RuntimeError(f"host process {record.pid} still runs after its channel closed")
            time.sleep(delay)
            delay = min(delay * 2, 1e-3)

    def bury(self, record: ProcRecord, status: int) -> None:
        """Record how the process ended, free its slot and channel, have it reaped."""
        if os.WIFSIGNALED(status):
            try:
                record.term_signal = signal.Signals(os.WTERMSIG(status))
            except ValueError:  # no signal the kernel would report
                record.term_signal = signal.SIGKILL
        else:
            record.exit_status = os.WEXITSTATUS(status)
        if record.fault_fd >= 0:
            with contextlib.suppress(OSError):
                record.fault_va = exit_status.fault_va(record.fault_fd)
            os.close(record.fault_fd)
            record.fault_fd = -1
        _close_handles(record)
        record.alive = False
        self.free_slots.append(record.slot)
        record.chan.close()
        self.zombies.add(record.pid)
        self.reap_zombies()

    def reap_zombies(self) -> None:
        """Ask the zygote to reap the buried processes that are its zombies now.

        A zombie of a worker stays one until its parent waits for it or ends
        (the zygote, the machine's child subreaper, then inherits it).
        """
        ours = []
        for pid in list(self.zombies):
            done, status, ppid = exit_status.ended(pid)
            if status is None and done:
                self.zombies.discard(pid)  # reaped: gone from /proc
            elif done and ppid == self.zpid:
                ours.append(pid)
        if ours:
            with contextlib.suppress(ChannelClosed, ChannelBroken, OSError):
                ok, reaped = self.rpc(self.zchan, "reap", tuple(ours))
                if ok and isinstance(reaped, list):
                    self.zombies.difference_update(reaped)

    def close(self) -> None:
        """Kill and reap every process, delete every file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.master.owner == os.getpid():
                self.master.request("close", (self.zpid,))
        except (ChannelClosed, OSError, RuntimeError):
            pass  # the master is gone, and its machines died with it
        finally:
            for record in self.records:
                if record.alive:
                    record.alive, record.term_signal = False, signal.SIGKILL
                record.chan.close()
                if record.fault_fd >= 0:
                    os.close(record.fault_fd)
                    record.fault_fd = -1
                _close_handles(record)
            self.zchan.close()
            self.ns.remove()
            cgroup.remove(self.groups)


def _open_pidfd(pid: int) -> int:
    """A pidfd of ``pid`` (-1 where the kernel has none: ``poll`` reads /proc instead)."""
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return -1


def _ended(record: ProcRecord) -> bool:
    """Whether the record's pidfd polls readable now: its process has ended."""
    watch = record.watch
    if watch is None:
        watch = record.watch = select.poll()
        watch.register(record.pidfd, select.POLLIN)
    return bool(watch.poll(0))


def _close_handles(record: ProcRecord) -> None:
    """Close what the controller holds of an ended process: its pidfd and open maps."""
    if record.pidfd >= 0:
        os.close(record.pidfd)
        record.pidfd, record.watch = -1, None
    record.pages.close_query()
