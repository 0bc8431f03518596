"""The controller's handle on its master process, started once and on demand.

The master is a fresh interpreter (never a fork of the controller, which may
have threads and state), started with glibc's malloc in place of pymalloc and
a high mmap threshold, so that the interpreter's own allocations stay in the
brk heap instead of landing among a program's mappings.  It loads the host
package under a bare ``mmapsim`` package, without the simulator.
"""

from __future__ import annotations

import atexit
import itertools
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Final

from mmapsim.host.channel import Channel, ChannelBroken, ChannelClosed

_BOOT: Final = (
    "import sys, types\n"
    "pkg = types.ModuleType('mmapsim'); pkg.__path__ = [sys.argv[1]]\n"
    "sys.modules['mmapsim'] = pkg\n"
    "from mmapsim.host.master import main\n"
    "main(sys.argv[2:])\n"
)
_DROPPED_ENV: Final = frozenset(
    {
        "PYTHONFAULTHANDLER",
        "PYTHONTRACEMALLOC",
        "PYTHONDEVMODE",
        "PYTHONMALLOCSTATS",
        "PYTHONINSPECT",
        "PYTHONPROFILEIMPORTTIME",
        "PYTHONDEBUG",
        "PYTHONPATH",
        "PYTHONSTARTUP",
    }
)
MMAP_THRESHOLD: Final = 32 << 20


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["PYTHONMALLOC"] = "malloc"
    env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class Master:
    """A running master process and the channel to it."""

    def __init__(self, proc: subprocess.Popen[bytes], chan: Channel) -> None:
        self.proc = proc
        self.chan = chan
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    @classmethod
    def start(cls) -> Master:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        main_thread = threading.current_thread() is threading.main_thread()
        args = [str(theirs.fileno()), str(os.getpid()), "1" if main_thread else "0"]
        pkgdir = str(Path(__file__).resolve().parent.parent)
        with theirs:
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, pkgdir, *args],
                env=_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                process_group=0,
            )
        master = cls(proc, Channel(ours))
        try:
            master.chan.recv()  # ("ready", pid)
        except BaseException:
            master.kill()
            raise RuntimeError("the HostMachine master process did not start") from None
        return master

    @property
    def usable(self) -> bool:
        return self.owner == os.getpid() and not self.chan.broken and self.proc.poll() is None

    def request(self, op: str, args: tuple[object, ...], fds: tuple[int, ...] = ()) -> object:
        """Ask the master to do ``op``; raises what it raised."""
        with self.lock:
            rid = next(self._ids)
            self.chan.send((rid, op, args), fds)
            ok, value = self.chan.recv_reply(rid)
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        return value

    def kill(self) -> None:
        """End the master (its machines die with it) and reap it."""
        self.chan.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_lock = threading.Lock()
_master: Master | None = None


def master() -> Master:
    """The master of this controller process, started if needed."""
    global _master
    with _lock:
        if _master is None or not _master.usable:
            old, _master = _master, None
            if old is not None and old.owner == os.getpid():
                old.kill()
            _master = Master.start()
        return _master


@atexit.register
def _shutdown() -> None:
    global _master
    with _lock:
        if _master is not None and _master.owner == os.getpid():
            _master.kill()
        _master = None


__all__ = ["ChannelBroken", "ChannelClosed", "Master", "master"]
