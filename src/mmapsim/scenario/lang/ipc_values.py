"""Scenario values of the second round's calls: a segment's status and pids.

``shmctl(id, IPC_STAT)`` answers a :class:`ShmDs` whose fields a scenario reads
as C does (``s.shm_nattch``, ``s.shm_perm_mode``, ``s.shm_cpid``, ...).
``waitpid`` answers ``(pid, status)``: the pid is a :class:`Pid`, which prints
as its number and which ``mmapsim diff`` compares as the process it names
(the two kernels number processes differently).  The wait-status macros
``WIFEXITED``, ``WEXITSTATUS``, ``WIFSIGNALED``, ``WTERMSIG`` read a status.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from mmapsim.constants import IPC_SET

#: The fields of shmctl(IPC_STAT)'s answer that a scenario can read.
SHM_FIELDS: Final = (
    "shm_perm_key",
    "shm_perm_mode",
    "shm_segsz",
    "shm_nattch",
    "shm_cpid",
    "shm_lpid",
)

#: The wait-status macros of <sys/wait.h>, by name.
WAIT_MACROS: Final[dict[str, Callable[[int], int]]] = {
    "WIFEXITED": lambda s: int(os.WIFEXITED(s)),
    "WEXITSTATUS": os.WEXITSTATUS,
    "WIFSIGNALED": lambda s: int(os.WIFSIGNALED(s)),
    "WTERMSIG": os.WTERMSIG,
}


class Pid(int):
    """A process id; ``process`` is the scenario's name for it ("" if none)."""

    process: str

    def __new__(cls, value: int, process: str = "") -> Pid:
        pid = super().__new__(cls, value)
        pid.process = process
        return pid


@dataclass(frozen=True, slots=True)
class ShmDs:
    """What ``shmctl(id, IPC_STAT)`` answers: the fields a scenario can read."""

    shm_perm_key: int
    shm_perm_mode: int
    shm_segsz: int
    shm_nattch: int
    shm_cpid: Pid
    shm_lpid: Pid

    @classmethod
    def of(cls, raw: Any, names: Mapping[int, str]) -> ShmDs:
        """Copy the fields out of a machine's ShmInfo; ``names``: pid -> process name."""
        cpid, lpid = int(raw.shm_cpid), int(raw.shm_lpid)
        return cls(
            int(raw.shm_perm_key),
            int(raw.shm_perm_mode),
            int(raw.shm_segsz),
            int(raw.shm_nattch),
            Pid(cpid, names.get(cpid, "")),
            Pid(lpid, names.get(lpid, "")),
        )

    def shown(self, pid: Callable[[Pid], str] = str) -> str:
        """``{shm_segsz = 4096, shm_nattch = 1, ...}``, pids written by ``pid``."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Pid):
                parts.append(f"{f.name} = {pid(value)}")
            elif f.name == "shm_perm_mode":
                parts.append(f"{f.name} = {value:#o}")
            elif f.name == "shm_perm_key":
                parts.append(f"{f.name} = {value & 0xFFFFFFFF:#x}")
            else:
                parts.append(f"{f.name} = {value}")
        return "{" + ", ".join(parts) + "}"


def relative_pid(pid: Pid) -> str:
    """How ``mmapsim diff`` compares a pid: by the process it names."""
    if int(pid) == 0:
        return "0"
    return f"pid of {pid.process}" if pid.process else "the pid of no process of the scenario"


class IpcBuf:
    """The ``struct shmid_ds`` that ``shmctl(id, IPC_SET, mode)`` passes: its mode."""

    __slots__ = ("shm_perm_mode",)

    def __init__(self, mode: int) -> None:
        self.shm_perm_mode = mode


def ipc_args(args: list[Any]) -> list[Any]:
    """shmctl's arguments as the machines take them: IPC_SET's mode becomes its buf."""
    if len(args) == 3:
        return [args[0], args[1], IpcBuf(int(args[2])) if args[1] == IPC_SET else None]
    return args


def wrap_ipc(
    name: str, raw: Any, scope: Any, scopes: Mapping[str, Any]
) -> ShmDs | tuple[int, ...] | int | None:
    """shmctl's and waitpid's answers as scenario values, their pids named by the
    scopes (the scenario's processes); None for other calls."""
    if name not in ("shmctl", "waitpid"):
        return None
    names = {s.process.pid: label for label, s in scopes.items()}
    if scope is not None:
        names.setdefault(scope.process.pid, scope.name)
    if name == "shmctl":
        return 0 if raw is None else ShmDs.of(raw, names)
    if name == "waitpid":
        pid, status = (int(v) for v in raw)
        return (Pid(pid, names.get(pid, "")), status)
    return None
