"""The two error channels of mmapsim (STYLE.md 4).

A caller's mistake is an ``OSError`` carrying Linux's errno, raised by
:func:`syscall_error`.  A memory access that the kernel answers with a signal is
:class:`ProcessKilled`.  A bug in the simulated kernel itself is
:class:`KernelPanic`, named after the function that found it; it never means the
caller did something wrong.
"""

from __future__ import annotations

import os
import signal as _signal


def syscall_error(code: int, what: str | None = None) -> OSError:
    """The OSError that Python's ``os`` functions raise for errno ``code``."""
    if what is None:
        return OSError(code, os.strerror(code))
    return OSError(code, os.strerror(code), what)


class ProcessKilled(Exception):
    """A load or store made the kernel kill the process with ``signal``.

    ``addr`` is the lowest address that faulted; ``pid`` the process that died.
    The same class is raised by the simulated machine and by HostMachine.
    """

    def __init__(self, sig: _signal.Signals, pid: int, addr: int) -> None:
        super().__init__(f"process {pid} killed by {sig.name} at {addr:#x}")
        self.signal = sig
        self.pid = pid
        self.addr = addr

    def __reduce__(self) -> tuple[type[ProcessKilled], tuple[_signal.Signals, int, int]]:
        return (ProcessKilled, (self.signal, self.pid, self.addr))


class NotOnThisKernel(NotImplementedError):
    """What this machine cannot do (HostMachine: a power failure, the disk under a dirty page).

    Not a failing system call: the request is sound, but this kernel gives no
    faithful way to answer it.  The message says why and what can (the simulator).
    """


class KernelPanic(AssertionError):
    """An invariant of the simulated kernel does not hold: a bug in mmapsim."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
