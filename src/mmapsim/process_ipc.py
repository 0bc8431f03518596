"""The second round's process calls of the simulated Process (API.md, "The rest
of the memory-mapping system"): System V and POSIX shared memory, memfd, dup,
waitpid.  :class:`mmapsim.process.Process` inherits them; like its other calls
they decode their arguments into C's types and make one system call.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mmapsim import abi, shm_name
from mmapsim.contract import IpcAPI
from mmapsim.kernel import Task
from mmapsim.shminfo import ShmInfo
from mmapsim.syscalls import fds, files, ipc, memfd, wait

if TYPE_CHECKING:
    from mmapsim.machine import Machine

T = TypeVar("T")


class IpcCalls:
    """shmget, shmat, shmdt, shmctl, shm_open, shm_unlink, memfd_create, dup, dup2, waitpid."""

    machine: Machine
    _task: Task

    if TYPE_CHECKING:

        def _call(self, fn: Callable[..., T], *a: Any) -> T: ...

    # -- System V shared memory ----------------------------------------------

    def shmget(self, key: int, size: int, shmflg: int) -> int:
        """shmget(2): the id of a new segment, or of the one with ``key``."""
        return self._call(ipc.sys_shmget, *abi.decode("shmget", key, size, shmflg))

    def shmat(self, shmid: int, addr: int | None = 0, shmflg: int = 0) -> int:
        """shmat(2): map the segment; returns its address."""
        return self._call(ipc.sys_shmat, *abi.decode("shmat", shmid, addr, shmflg))

    def shmdt(self, addr: int) -> None:
        """shmdt(2): unmap the segment attached at ``addr``."""
        self._call(ipc.sys_shmdt, *abi.decode("shmdt", addr))

    def shmctl(self, shmid: int, cmd: int, buf: object = None) -> ShmInfo | None:
        """shmctl(2): IPC_STAT returns a ShmInfo; IPC_SET takes ``buf``; IPC_RMID."""
        return self._call(ipc.sys_shmctl, *abi.decode("shmctl", shmid, cmd, buf))

    # -- POSIX shared memory and memfd -----------------------------------------

    def shm_open(self, name: str, flags: int, mode: int = 0o600) -> int:
        """shm_open(3): open (or create) ``/dev/shm/NAME``; the fd is close-on-exec."""
        name, flags, mode = abi.decode("shm_open", name, flags, mode)
        path = shm_name.shm_path(name, errno.EINVAL)
        try:
            return self._call(files.sys_open, path, flags | shm_name.SHM_OPEN_FLAGS, mode)
        except OSError as exc:
            raise shm_name.open_error(exc) from None

    def shm_unlink(self, name: str) -> None:
        """shm_unlink(3): remove the name ``/dev/shm/NAME``."""
        (name,) = abi.decode("shm_unlink", name)
        path = shm_name.shm_path(name, errno.ENOENT)
        try:
            self._call(files.sys_unlink, path)
        except OSError as exc:
            raise shm_name.unlink_error(exc) from None

    def memfd_create(self, name: str, flags: int = 0) -> int:
        """memfd_create(2): an anonymous file; returns its fd."""
        return self._call(memfd.sys_memfd_create, *abi.decode("memfd_create", name, flags))

    # -- descriptors and children ------------------------------------------------

    def dup(self, fd: int) -> int:
        """dup(2): the lowest free fd, sharing ``fd``'s open file description."""
        return self._call(fds.sys_dup, *abi.decode("dup", fd))

    def dup2(self, fd: int, fd2: int) -> int:
        """dup2(2): ``fd2`` now shares ``fd``'s open file description."""
        return self._call(fds.sys_dup2, *abi.decode("dup2", fd, fd2))

    def waitpid(self, pid: int, options: int = 0) -> tuple[int, int]:
        """waitpid(2): ``(pid, status)`` of an ended child, reaping it; (0, 0) with WNOHANG."""
        return self._call(wait.sys_waitpid, *abi.decode("waitpid", pid, options))

    @property
    def zombie(self) -> bool:
        """Ended, and not yet waited for by its parent, which still runs."""
        return wait.is_zombie(self._task)


#: API.md's shared memory, memfd, dup and waitpid, checked by mypy (mmapsim.contract).
_contract: type[IpcAPI] = IpcCalls
