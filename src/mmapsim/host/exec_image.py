"""execve(2) of a worker: the kernel's verdict on the program, then a fresh worker image.

A worker cannot become the program it is asked to exec and still serve calls.
So ``execve`` is done in two real steps:

1. the verdict: the real kernel execs the named program in a traced child that
   stops with SIGTRAP before the program's first instruction and is killed; a
   failure (ENOENT, EACCES, ENOEXEC, ...) comes back through a close-on-exec
   pipe and leaves the worker as it was;
2. the exec: when the kernel accepts the program, the worker itself calls the
   real execve(2) of a fresh worker image (this Python interpreter, running
   ``mmapsim.host.reborn``).  The kernel tears down every old mapping (writes
   through shared file mappings stay in the page cache, as with any exec),
   closes every O_CLOEXEC descriptor and keeps the others, and the pid stays.
   The channel socket and the memfd of the process's own fault page (see
   ``fault``; the controller sends it with the request) are the only
   descriptors of the worker's own that cross the exec; the new image maps the
   page, closes the memfd and puts close-on-exec back on the channel.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Final

from mmapsim.host import libc

#: The fresh image's program: the host package under a bare ``mmapsim`` package,
#: without the simulator, as the master starts (see ``launcher``).
BOOT: Final = (
    "import sys, types\n"
    "pkg = types.ModuleType('mmapsim'); pkg.__path__ = [sys.argv[1]]\n"
    "sys.modules['mmapsim'] = pkg\n"
    "from mmapsim.host.reborn import main\n"
    "main(sys.argv[2:])\n"
)
PKGDIR: Final = str(Path(__file__).resolve().parent.parent)


def probe_exec(path: str, argv: list[str]) -> int:
    """The errno of execve(path, argv) in a traced child, or 0 if it would succeed.

    The caller blocks SIGCHLD; this child is reaped here, before it returns.
    """
    rfd, wfd = os.pipe()  # close-on-exec: a successful exec closes it empty
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            libc.ptrace_traceme()
            os.execve(path, argv or [path], {})
        except OSError as exc:
            os.write(wfd, str(exc.errno).encode())
        finally:
            os._exit(127)
    os.close(wfd)
    with open(rfd, "rb") as report:
        code = report.read()
    _pid, status = os.waitpid(pid, 0)
    if os.WIFSTOPPED(status):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return int(code or 0)


def exec_fresh_worker(chan_fd: int, fault_fd: int, rid: int) -> OSError:
    """execve(2) of a fresh worker image in this process; returns only if it failed.

    The new image answers request ``rid`` on ``chan_fd`` once it serves and maps
    its fault page from ``fault_fd``.  The caller blocks SIGCHLD:
    the mask survives the exec, and the new image unblocks it (its
    children stay zombies: see ``fault``).  On failure the descriptors are
    close-on-exec again and the process is unchanged.
    """
    ppid = os.getppid()
    argv = [sys.executable, "-P", "-c", BOOT, PKGDIR]
    argv += [str(v) for v in (chan_fd, fault_fd, rid, libc.get_pdeathsig(), ppid)]
    os.set_inheritable(chan_fd, True)
    os.set_inheritable(fault_fd, True)
    try:
        os.execve(sys.executable, argv, os.environ)
    except OSError as exc:
        os.set_inheritable(chan_fd, False)
        os.set_inheritable(fault_fd, False)
        return exc
    raise AssertionError("execve returned")  # pragma: no cover
