"""A worker after execve(2): a fresh image that takes up the process's service.

Started by ``image.exec_fresh_worker`` in the same process (same pid, same
parent), with only the program's surviving descriptors, the channel and the
memfd of its fault page.  It re-establishes what a worker needs and the exec did not
keep: its death signal (checked against its parent, as at spawn), no core
dumps, SIGINT and SIGTERM at their default actions (Python itself leaves SIGPIPE
and SIGXFSZ ignored), the fence of its new address space and its fault page (its
children stay zombies: see ``fault``); then it answers the execve
request and serves calls.
"""

from __future__ import annotations

import faulthandler
import os
import resource
import signal
import traceback
from typing import NoReturn

from mmapsim.host import fence, libc
from mmapsim.host.channel import Channel
from mmapsim.host.exit_status import FaultPage
from mmapsim.host.worker import Worker, reset_signals


def main(argv: list[str]) -> NoReturn:
    """Entry point: channel fd, fault page fd, request id, death signal, parent pid."""
    try:
        chan_fd, fault_fd, rid, pdeathsig, ppid = (int(a) for a in argv[:5])
        _restore(pdeathsig, ppid)
        page = FaultPage.attach(fault_fd)
        os.close(fault_fd)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.set_inheritable(chan_fd, False)
        chan = Channel.from_fd(chan_fd)
        worker = Worker(chan, page)
        chan.send((rid, (True, None)))
        worker.serve()
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(127)


def _restore(pdeathsig: int, ppid: int) -> None:
    """The process-wide settings of a worker, and the fence of the new address space."""
    if pdeathsig:
        libc.prctl(libc.PR_SET_PDEATHSIG, pdeathsig)
        if os.getppid() != ppid:  # the parent ended during the exec
            os._exit(1)
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 0)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    faulthandler.disable()
    reset_signals()
    fence.build_fence()
