"""The master: one interpreter per controller process that forks machine zygotes.

Started once (``python -c 'from mmapsim.host.master import main; main()'``), it
imports everything a worker needs, fences its address space (see ``fence``),
and then forks a zygote for each new HostMachine, so that a machine costs a
fork rather than an interpreter start.  It is the child subreaper of all its
machines: closing a machine kills the machine's process group and reaps every
member.  When the controller goes away (EOF) it closes every machine and exits.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import resource
import signal
from typing import NoReturn

from mmapsim.host import fence, libc
from mmapsim.host.channel import Channel, ChannelBroken, ChannelClosed
from mmapsim.host.limits import NOFILE
from mmapsim.host.zygote import run_zygote


class Master:
    """Serves ``machine`` and ``close`` requests of one controller."""

    def __init__(self, chan: Channel) -> None:
        self.chan = chan
        self.zygotes: set[int] = set()

    def serve(self) -> NoReturn:
        while True:
            try:
                rid, op, args, fds = self.chan.recv_request()
            except (ChannelClosed, ChannelBroken, OSError):
                self.close_all()
                os._exit(0)
            try:
                reply: tuple[bool, object] = (True, self.dispatch(op, args, fds))
            except Exception as exc:
                reply = (False, exc)
            self.chan.send((rid, reply))

    def dispatch(self, op: str, args: tuple[object, ...], fds: list[int]) -> object:
        if op == "machine" and len(fds) == 1:
            fsize = args[1] if len(args) > 1 and isinstance(args[1], int) else None
            return self.new_machine(fds[0], str(args[0]), fsize)
        if op == "close":
            self.close_machine(int(str(args[0])))
            return None
        raise RuntimeError(f"master: bad request {op!r}")

    def new_machine(self, fd: int, root: str, fsize: int | None) -> int:
        """Fork the zygote of a new machine, serving on channel ``fd``.

        ``fsize``: the machine's RLIMIT_FSIZE (None: unlimited).
        """
        master_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                self.chan.close()
                if fsize is not None:
                    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
                # RLIMIT_NOFILE as a login gets it and the simulator has it: 1024
                resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE + 1))
                run_zygote(fd, root, master_pid)
            finally:
                os._exit(127)
        with contextlib.suppress(OSError):  # the child got there first, or died
            os.setpgid(pid, pid)
        os.close(fd)
        self.zygotes.add(pid)
        return pid

    def close_machine(self, zpid: int) -> None:
        """Kill every process of the machine led by ``zpid`` and reap them all.

        Invariant: the zygote is our child and is reaped only here, so its
        process group id cannot belong to anyone else when we signal it.
        """
        if zpid not in self.zygotes:
            return
        self.zygotes.discard(zpid)
        os.killpg(zpid, signal.SIGKILL)
        while True:
            try:
                os.waitpid(-zpid, 0)
            except ChildProcessError:
                return

    def close_all(self) -> None:
        for zpid in list(self.zygotes):
            self.close_machine(zpid)


def main(argv: list[str]) -> NoReturn:
    """Entry point: ``argv`` is the channel fd, the controller pid, pdeathsig 0/1."""
    fd, parent, pdeathsig = (int(a) for a in argv[:3])
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    if pdeathsig:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    faulthandler.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(ImportError, OSError):  # libseccomp, loaded once before the fence
        import pyseccomp  # type: ignore[import-untyped]  # noqa: F401
    fence.build_fence()
    chan = Channel.from_fd(fd)
    chan.send(("ready", os.getpid()))
    Master(chan).serve()
