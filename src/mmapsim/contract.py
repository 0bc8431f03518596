"""The part of API.md that the scenario runner uses, as typing protocols.

Both ``mmapsim.Machine`` and ``mmapsim.host.HostMachine`` satisfy these; the
runner depends on nothing else, so a scenario runs unchanged on either kernel.
System calls are reached by their C name (``getattr(process, "mmap")``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mmapsim.errors import NotOnThisKernel
from mmapsim.pageinfo import PageInfo


class ProcessAPI(Protocol):
    """A process of either machine (API.md, Process)."""

    @property
    def pid(self) -> int: ...

    @property
    def alive(self) -> bool: ...

    def load(self, addr: int, size: int) -> bytes: ...

    def store(self, addr: int, data: bytes) -> None: ...

    def fork(self) -> Any: ...

    def maps(self) -> str: ...

    def smaps(self) -> str: ...

    def pagemap(self, va: int) -> PageInfo: ...


class MachineAPI(Protocol):
    """A machine of either kind (API.md, Machine)."""

    def spawn(self, name: str | None = None) -> Any: ...

    def write_file(self, path: str, data: bytes) -> None: ...

    def read_file(self, path: str) -> bytes: ...

    def stat_file(self, path: str) -> Any: ...

    def close(self) -> None: ...


MachineFactory = Callable[[], MachineAPI]


def read_disk(machine: MachineAPI, path: str) -> bytes:
    """The bytes of ``path`` on its disk (``m.read_disk``), past the page cache."""
    method: Callable[[str], bytes] | None = getattr(machine, "read_disk", None)
    if method is None:
        raise NotOnThisKernel("this machine cannot read a file's disk")
    return method(path)


def sync(machine: MachineAPI) -> int:
    """sync(2) on ``machine``: how many dirty pages were written back."""
    method: Callable[[], int] | None = getattr(machine, "sync", None)
    if method is None:
        raise NotOnThisKernel("this machine cannot sync")
    return method()


def crash(machine: MachineAPI) -> None:
    """A power failure of ``machine`` (``m.crash()``, the simulator's)."""
    method: Callable[[], None] | None = getattr(machine, "crash", None)
    if method is None:
        raise NotOnThisKernel(CRASH_NEEDS_SIM)
    method()


#: Why a scenario with ``crash`` cannot run on the real kernel.
CRASH_NEEDS_SIM = (
    "crash needs the simulator (--kernel sim): a power failure of this computer's "
    "kernel cannot be made and survived by a test"
)


def syscall(process: ProcessAPI, name: str) -> Callable[..., Any]:
    """The method of ``process`` that performs the C call ``name``."""
    method: Callable[..., Any] = getattr(process, "exit" if name == "_exit" else name)
    return method
