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

from mmapsim.host import cgroup, launcher, sandbox
from mmapsim.host.boundary import ProgramPages
from mmapsim.host.channel import Channel, ChannelClosed
from mmapsim.host.limits import HostTimeout, Limits
from mmapsim.host.paths import Namespace
from mmapsim.host.slots import N_SLOTS, SlotTable

#: How long a dead process's reaper may take to publish its wait status.
REAP_TIMEOUT: Final = 10.0


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (exists and is no zombie): a status for it is then forged."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


@dataclass
class ProcRecord:
    """One real process of a machine, as the controller knows it."""

    pid: int
    slot: int
    chan: Channel
    alive: bool = True
    exit_status: int | None = None
    term_signal: signal.Signals | None = None
    fault_va: int = 0
    pages: ProgramPages = field(default_factory=ProgramPages)
    parent: ProcRecord | None = None  # the machine's process that forked it
    reaped: bool = False  # its parent waited for it


@dataclass
class MachineState:
    """The master, zygote, slot table and private root of one machine."""

    master: launcher.Master
    zpid: int
    zchan: Channel
    table: SlotTable
    table_fd: int  # the table's memfd, for a worker's fresh image after execve
    ns: Namespace
    lock: threading.RLock = field(default_factory=threading.RLock)
    records: list[ProcRecord] = field(default_factory=list)
    free_slots: list[int] = field(default_factory=lambda: list(range(N_SLOTS - 1, -1, -1)))
    closed: bool = False
    ids: itertools.count[int] = field(default_factory=itertools.count)
    limits: Limits = field(default_factory=Limits)
    groups: list[str] = field(default_factory=list)
    stores: int = 0  # stores made, to check the disk every so often

    @classmethod
    def start(cls, limits: Limits | None = None) -> MachineState:
        """Fork a zygote from the master and attach to its slot table."""
        ns = Namespace.create()
        try:
            master = launcher.master()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            with theirs:
                fsize = (limits or Limits()).max_file_size
                zpid = master.request("machine", (ns.root, fsize), (theirs.fileno(),))
            zchan = Channel(ours)
            ready, fds = zchan.recv(reply=True)
            os.set_inheritable(fds[0], False)
            layers = list(ready[2]) if isinstance(ready, tuple) and len(ready) == 3 else []
            table = SlotTable.attach(fds[0])
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
        return cls(master, zpid, zchan, table, fds[0], ns, limits=limits, groups=groups)

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
            ready, _w, _x = select.select([chan.sock], [], [], self.limits.max_call_seconds)
            if not ready:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                raise HostTimeout(
                    errno.ETIMEDOUT,
                    f"{op} ran longer than {self.limits.max_call_seconds:g} s, so process "
                    f"{pid} was killed (HostMachine(max_call_seconds=...))",
                )
        return chan.recv_reply(rid)

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
            ok, value = self.rpc(self.zchan, "spawn", (slot,), (theirs.fileno(),))
        if not ok or not isinstance(value, int):
            chan.close()
            raise value if isinstance(value, BaseException) else RuntimeError(value)
        return self.adopt(value, slot, chan)

    def adopt(self, pid: int, slot: int, chan: Channel) -> ProcRecord:
        """Start tracking the new process ``pid``."""
        chan.limit = self.limits.max_io_bytes + (1 << 20)  # a reply's data, and its frame
        record = ProcRecord(pid, slot, chan)
        self.records.append(record)
        return record

    def poll(self, record: ProcRecord) -> bool:
        """Whether ``record`` still runs (it is buried if it was reaped)."""
        if record.alive:
            status = self.table.status(record.slot)
            if status is not None and not _running(record.pid):
                self.bury(record, status)
        return record.alive

    def wait_dead(self, record: ProcRecord) -> None:
        """After its channel closed: wait for the reaper to publish the status.

        A reaper runs its SIGCHLD handler in Python, which can miss a signal that
        lands just before it blocks in recvmsg (the handler then waits for the
        next request).  So every few milliseconds a zombie's parent, always one
        of this machine's own processes, is sent SIGCHLD again: a signal that
        arrives during the blocking call interrupts it and the handler runs.
        """
        deadline = time.monotonic() + REAP_TIMEOUT
        delay, nudged = 20e-6, time.monotonic()
        while self.poll(record):
            now = time.monotonic()
            if now > deadline:  # the table said nothing: the kernel's word that it ended
                if not _running(record.pid):
                    self.bury(record, signal.SIGKILL)
                    return
                raise RuntimeError(f"host process {record.pid} vanished without a wait status")
            if now - nudged > 2e-3:
                self.nudge_reaper(record.pid)
                nudged = now
            time.sleep(delay)
            delay = min(delay * 2, 1e-3)

    def nudge_reaper(self, pid: int) -> None:
        """Send SIGCHLD to the parent of the zombie ``pid`` if it is one of ours."""
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return
        state, ppid = fields[0], int(fields[1])
        ours = {self.zpid} | {r.pid for r in self.records if r.alive}
        if state == "Z" and ppid in ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(ppid, signal.SIGCHLD)

    def bury(self, record: ProcRecord, status: int) -> None:
        """Record how the process ended and free its slot and channel."""
        if os.WIFSIGNALED(status):
            try:
                record.term_signal = signal.Signals(os.WTERMSIG(status))
            except ValueError:  # not a signal: the table was written by someone else
                record.term_signal = signal.SIGKILL
        else:
            record.exit_status = os.WEXITSTATUS(status)
        record.fault_va = self.table.fault_va(record.slot)
        record.alive = False
        self.table.clear(record.slot)
        self.free_slots.append(record.slot)
        record.chan.close()

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
            self.zchan.close()
            self.table.close()
            with contextlib.suppress(OSError):
                os.close(self.table_fd)
            self.ns.remove()
            cgroup.remove(self.groups)
