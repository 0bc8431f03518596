"""The zygote of one HostMachine: forks a fresh worker for each ``spawn()``.

It is forked from the master, leads the machine's process group, is the child
subreaper of every process of the machine (so that orphans are reaped and their
wait status published), and owns the slot table.  Before it forks anything it
puts itself under the kernel's confinement (``sandbox``), which every worker
inherits.  When its channel closes it
kills its whole process group, itself included.
"""

from __future__ import annotations

import ctypes
import os
import signal
from typing import NoReturn

from mmapsim.constants import MAP_SHARED, PROT_READ, PROT_WRITE
from mmapsim.host import image, libc, sandbox
from mmapsim.host.channel import Channel, ChannelBroken, ChannelClosed
from mmapsim.host.slots import TABLE_SIZE, SlotTable
from mmapsim.host.worker import Worker, adopt_channel, install_reaper, reset_signals


def run_zygote(fd: int, root: str, master_pid: int) -> NoReturn:
    """The body of a machine's zygote process (never returns)."""
    os.setpgid(0, 0)
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != master_pid:
        os._exit(1)
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    chan = adopt_channel(fd)
    table, memfd = _create_table()
    layers = sandbox.confine(root, image.PKGDIR)
    install_reaper(table)
    chan.send(("ready", os.getpid(), layers), (memfd,))
    os.close(memfd)
    Zygote(chan, table, root).serve()


def _create_table() -> tuple[SlotTable, int]:
    """A zeroed slot table mapped here, and its memfd (for the controller).

    Mapped through libc rather than Python's mmap module, which would keep a
    duplicate of the memfd open in every worker.
    """
    memfd = os.memfd_create("mmapsim-slots", os.MFD_CLOEXEC)
    os.ftruncate(memfd, TABLE_SIZE)
    return map_table(memfd), memfd


def map_table(memfd: int) -> SlotTable:
    """The slot table behind ``memfd``, mapped shared here through libc."""
    prot, flags = PROT_READ | PROT_WRITE, MAP_SHARED
    addr = libc.mmap(0, TABLE_SIZE, prot, flags, memfd, 0)
    return SlotTable((ctypes.c_char * TABLE_SIZE).from_address(addr))


def _null_stdio(root: str) -> None:
    """Descriptors 0, 1 and 2 on the machine's /dev/null, as on the simulator.

    They never reach the controller's terminal or log file: a write(2, ...) of
    the program goes nowhere outside the machine.
    """
    path = root + "/dev/null" if os.path.exists(root + "/dev/null") else os.devnull
    fd = os.open(path, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


class Zygote:
    """Serves ``spawn`` requests of one machine."""

    def __init__(self, chan: Channel, table: SlotTable, root: str) -> None:
        self.chan = chan
        self.table = table
        self.root = root

    def serve(self) -> NoReturn:
        while True:
            try:
                rid, op, args, fds = self.chan.recv_request()
            except (ChannelClosed, ChannelBroken, OSError):
                os.killpg(0, signal.SIGKILL)
                os._exit(0)
            if op != "spawn" or len(fds) != 1:
                reply: tuple[bool, object] = (False, RuntimeError(f"zygote: bad request {op!r}"))
            else:
                reply = self.spawn(int(str(args[0])), fds[0])
            self.chan.send((rid, reply))

    def spawn(self, slot: int, fd: int) -> tuple[bool, object]:
        """Fork a worker that serves on channel ``fd`` with slot ``slot``."""
        zpid = os.getpid()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            pid = os.fork()
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(fd)
            return (False, exc)
        if pid == 0:
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                self.become_worker(fd, slot, zpid)
            finally:
                os._exit(127)
        self.table.set_pid(slot, pid)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(fd)
        return (True, pid)

    def become_worker(self, fd: int, slot: int, zpid: int) -> NoReturn:
        """In the new child: become a worker as if a small program had just started."""
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != zpid:
            os._exit(1)
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 0)
        reset_signals()
        self.chan.close()
        chan = adopt_channel(fd)
        os.chdir(self.root)
        os.umask(0o022)
        _null_stdio(self.root)
        Worker(chan, self.table, slot).serve()
