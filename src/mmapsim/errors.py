"""The two error channels of mmapsim (STYLE.md 4), and what a machine refuses.

A caller's mistake is an ``OSError`` carrying Linux's errno, raised by
:func:`syscall_error`.  A memory access that the kernel answers with a signal is
:class:`ProcessKilled`.  A bug in the simulated kernel itself is
:class:`KernelPanic`, named after the function that found it; it never means the
caller did something wrong.

HostMachine's own refusals (:class:`HostRefused`, :class:`HostTimeout`) live
here too, so that code above both machines (the scenario runner) can catch
them without importing :mod:`mmapsim.host`.
"""

from __future__ import annotations

import enum
import errno
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


class HostRefused(PermissionError):
    """A call refused by HostMachine before the kernel: it would touch the host worker's
    own memory (``addr`` names the first such address), or pass a limit of the machine.

    ``op`` is what the call would do to the pages (a ``mmapsim.host.boundary.Op``).
    """

    def __init__(self, message: str, addr: int | None = None, op: enum.Enum | None = None) -> None:
        super().__init__(errno.EPERM, message)
        self.addr = addr
        self.op = op

    def __reduce__(self) -> tuple[type[HostRefused], tuple[str, int | None, enum.Enum | None]]:
        return (type(self), (str(self.strerror), self.addr, self.op))

    @classmethod
    def worker_page(cls, op: enum.Enum, addr: int, pid: int) -> HostRefused:
        """The refusal of ``op`` at ``addr``, a page of the worker serving process ``pid``."""
        message = (
            f"{op.value} at {addr:#x} refused: that page belongs to the host worker "
            f"(the interpreter serving process {pid}), not to the program"
        )
        return cls(message, addr, op)

    def __str__(self) -> str:
        return str(self.strerror)


class HostTimeout(TimeoutError):
    """A HostMachine call ran longer than its ``max_call_seconds``; the process was killed."""

    def __str__(self) -> str:
        return str(self.strerror)
