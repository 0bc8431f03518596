"""The zygote of one HostMachine: forks a fresh worker for each ``spawn()``.

It is forked from the master, leads the machine's process group and is the child
subreaper of every process of the machine.  It reaps nothing on its own: an
ended child or orphan stays a zombie until the controller, having read its wait
status from the kernel, asks for it to be reaped (``reap``; see ``fault``).
Before it forks anything it puts itself under the kernel's confinement
(``sandbox``), which every worker inherits.  When its channel closes it kills
its whole process group, itself included.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import NoReturn

from mmapsim.host import exec_image, libc, sandbox
from mmapsim.host.channel import Channel, ChannelBroken, ChannelClosed
from mmapsim.host.worker import Worker, adopt_channel, announce, reset_signals


def run_zygote(fd: int, root: str, master_pid: int) -> NoReturn:
    """The body of a machine's zygote process (never returns)."""
    os.setpgid(0, 0)
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != master_pid:
        os._exit(1)
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    chan = adopt_channel(fd)
    layers = sandbox.confine(root, exec_image.PKGDIR)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # no reaping but on request
    chan.send(("ready", os.getpid(), layers))
    Zygote(chan, root).serve()


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
    """Serves the ``spawn`` and ``reap`` requests of one machine."""

    def __init__(self, chan: Channel, root: str) -> None:
        self.chan = chan
        self.root = root

    def serve(self) -> NoReturn:
        while True:
            try:
                rid, op, args, fds = self.chan.recv_request()
            except (ChannelClosed, ChannelBroken, OSError):
                os.killpg(0, signal.SIGKILL)
                os._exit(0)
            if op == "spawn" and len(fds) == 1:
                reply: tuple[bool, object] = self.spawn(fds[0])
            elif op == "reap" and not fds:
                reply = (True, _reap([int(str(pid)) for pid in args]))
            else:
                reply = (False, RuntimeError(f"zygote: bad request {op!r}"))
            self.chan.send((rid, reply))

    def spawn(self, fd: int) -> tuple[bool, object]:
        """Fork a worker that serves on channel ``fd``."""
        zpid = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(fd)
            return (False, exc)
        if pid == 0:
            try:
                self.become_worker(fd, zpid)
            finally:
                os._exit(127)
        os.close(fd)
        return (True, pid)

    def become_worker(self, fd: int, zpid: int) -> NoReturn:
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
        Worker(chan, announce(chan)).serve()


def _reap(pids: list[int]) -> list[int]:
    """waitpid(2) of each of ``pids`` that is an ended child here; the pids reaped."""
    reaped = []
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                reaped.append(pid)
    return reaped
