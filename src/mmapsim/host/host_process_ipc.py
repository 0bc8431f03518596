"""The second round's process calls of HostProcess: System V and POSIX shared
memory, memfd, dup and waitpid, on the real kernel.

:class:`HostIpcCalls` is mixed into :class:`mmapsim.host.host_process.HostProcess`.
Arguments are decoded here, as for every call; the memory boundary
(``boundary``) is checked before a request that names addresses:

- ``shmat`` at an address is a mapping made at a fixed place: refused
  (HostRefused) over a page of the host worker; the segment's pages then
  become the program's;
- ``shmdt`` removes only System V mappings, which only the program makes; it
  is refused if one that is not the program's would go, and afterwards the
  program's pages that are no longer mapped are forgotten.

The machine's segments live in its own IPC namespace and its POSIX shared
memory in its own tmpfs at /dev/shm (``sandbox``, ``paths``).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from mmapsim import abi, shm_name
from mmapsim.constants import IPC_SET, IPC_STAT, SHM_REMAP, SHM_RND, SHMLBA
from mmapsim.contract import IpcAPI
from mmapsim.errors import HostRefused
from mmapsim.host import boundary
from mmapsim.host.boundary import Op, Verdict
from mmapsim.host.host_process_memory import claims
from mmapsim.host.state import MachineState, ProcRecord
from mmapsim.shminfo import ShmInfo

if TYPE_CHECKING:
    from mmapsim.host.host_machine import HostMachine


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"host worker answered {value!r} where an int belongs")
    return value


class HostIpcCalls:
    """shmget, shmat, shmdt, shmctl, shm_open, shm_unlink, memfd_create, dup, dup2, waitpid."""

    machine: HostMachine
    pid: int
    _record: ProcRecord

    if TYPE_CHECKING:

        @property
        def _state(self) -> MachineState: ...

        @property
        def alive(self) -> bool: ...

        def _syscall(self, op: str, *args: object) -> object: ...

        def _guard(self, op: Op, addr: int, length: int, *, noreplace: bool = False) -> Verdict: ...

    # -- System V shared memory ----------------------------------------------

    def shmget(self, key: int, size: int, shmflg: int) -> int:
        """shmget(2) in the machine's own IPC namespace."""
        return _int(self._syscall("shmget", *abi.decode("shmget", key, size, shmflg)))

    def shmat(self, shmid: int, addr: int | None = 0, shmflg: int = 0) -> int:
        """shmat(2); at an address, never over the host worker's pages."""
        shmid, va, flags = abi.decode("shmat", shmid, addr, shmflg)
        size = self._segment_size(shmid)
        start = va & ~(SHMLBA - 1) if flags & SHM_RND else va
        holes: tuple[tuple[int, int], ...] = ()
        if start and size:
            verdict = self._guard(Op.ATTACH, start, size, noreplace=not flags & SHM_REMAP)
            holes = claims(verdict, start, size)  # held by the worker first, as for MAP_FIXED
        got = _int(self._syscall("shmat", shmid, va, flags, *holes))
        if size:
            self._record.pages.add(got, size)
        return got

    def _segment_size(self, shmid: int) -> int:
        """The size of segment ``shmid`` (0 if the kernel knows no such segment)."""
        if shmid < 0:
            return 0
        try:
            raw = self._syscall("shmctl", shmid, IPC_STAT, None)
        except OSError:
            return 0
        assert isinstance(raw, bytes)
        return ShmInfo.decode(raw).shm_segsz

    def shmdt(self, addr: int) -> None:
        """shmdt(2): only System V mappings go, and only the program makes them."""
        (va,) = abi.decode("shmdt", addr)
        self._check_detach(va)
        self._syscall("shmdt", va)
        with self._state.lock:
            self._record.pages.keep_only(boundary.mapped_ranges(self.pid))

    def _check_detach(self, va: int) -> None:
        """Refuse a shmdt that could remove a System V mapping that is not the program's."""
        pages = self._record.pages
        with self._state.lock:
            if not self.alive:
                raise ProcessLookupError(errno.ESRCH, f"process {self.pid} has ended")
            try:
                mappings = _sysv_mappings(self.pid)
            except FileNotFoundError:
                raise ProcessLookupError(errno.ESRCH, f"process {self.pid} has ended") from None
        for start, end in mappings:
            if end > va and not (start in pages and pages.first_gap(start, end) is None):
                raise HostRefused.worker_page(Op.UNMAP, start, self.pid)

    def shmctl(self, shmid: int, cmd: int, buf: object = None) -> ShmInfo | None:
        """shmctl(2): IPC_STAT returns a ShmInfo; IPC_SET takes ``buf``'s mode (uid, gid)."""
        shmid, cmd, buf = abi.decode("shmctl", shmid, cmd, buf)
        patch = None
        if cmd == IPC_SET and buf is not None:
            mode = abi.cint("shm_perm_mode", getattr(buf, "shm_perm_mode"))  # noqa: B009
            uid, gid = getattr(buf, "shm_perm_uid", None), getattr(buf, "shm_perm_gid", None)
            patch = (mode, uid, gid)
        raw = self._syscall("shmctl", shmid, cmd, patch)
        return ShmInfo.decode(raw) if isinstance(raw, bytes) and cmd == IPC_STAT else None

    # -- POSIX shared memory and memfd -----------------------------------------

    def shm_open(self, name: str, flags: int, mode: int = 0o600) -> int:
        """shm_open(3) as glibc makes it, in the machine's own /dev/shm."""
        name, flags, mode = abi.decode("shm_open", name, flags, mode)
        real = self._state.ns.real(shm_name.shm_path(name, errno.EINVAL))
        flags = abi.signed_int(flags | shm_name.SHM_OPEN_FLAGS)  # os.open takes a C int
        try:
            return _int(self._syscall("open", real, flags, mode & 0o7777))
        except OSError as exc:
            raise shm_name.open_error(exc) from None

    def shm_unlink(self, name: str) -> None:
        """shm_unlink(3) as glibc makes it, in the machine's own /dev/shm."""
        (name,) = abi.decode("shm_unlink", name)
        path = shm_name.shm_path(name, errno.ENOENT)
        try:
            self._syscall("unlink", self._state.ns.changeable(path))
        except OSError as exc:
            raise shm_name.unlink_error(exc) from None

    def memfd_create(self, name: str, flags: int = 0) -> int:
        """memfd_create(2)."""
        return _int(self._syscall("memfd_create", *abi.decode("memfd_create", name, flags)))

    # -- descriptors and children ------------------------------------------------

    def dup(self, fd: int) -> int:
        """dup(2)."""
        return _int(self._syscall("dup", *abi.decode("dup", fd)))

    def dup2(self, fd: int, fd2: int) -> int:
        """dup2(2) (descriptor 1023 holds the worker's channel: EBADF)."""
        return _int(self._syscall("dup2", *abi.decode("dup2", fd, fd2)))

    def waitpid(self, pid: int, options: int = 0) -> tuple[int, int]:
        """waitpid(2): reaps a zombie child; EDEADLK where the real call would block."""
        args = abi.decode("waitpid", pid, options)
        with self._state.lock:  # each ended child's status, read from its zombie first
            for record in self._state.records:
                if record.parent is self._record:
                    self._state.poll(record)
        got = self._syscall("waitpid", *args)
        assert isinstance(got, tuple)
        child, status = _int(got[0]), _int(got[1])
        if child > 0:
            self.machine._reaped(self._record, child)
        return child, status

    @property
    def zombie(self) -> bool:
        """Ended, and not yet waited for by its parent, which still runs."""
        with self._state.lock:
            record, parent = self._record, self._record.parent
            if self._state.closed or self._state.poll(record) or record.reaped:
                return False
            return parent is not None and self._state.poll(parent)


def _sysv_mappings(pid: int) -> list[tuple[int, int]]:
    """(start, end) of the System V mappings of process ``pid``."""
    out = []
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            name = fields[5].strip() if len(fields) > 5 else ""
            if name.startswith("/SYSV"):
                lo, _, hi = fields[0].partition("-")
                out.append((int(lo, 16), int(hi, 16)))
    return out


#: API.md's shared memory, memfd, dup and waitpid on the real kernel, checked by mypy.
_contract: type[IpcAPI] = HostIpcCalls


__all__ = ["HostIpcCalls"]
