"""The differential test's side of the second round's calls (see test_differential).

:class:`IpcRun` is mixed into ``test_differential.Run``: each ``call_<name>``
resolves the step's symbols on its machine, keeps a host worker's own pages
out of reach (an attach at an address stays in the run's territory), and
records an outcome that means the same on both machines: segment ids and file
descriptors as numbers (both kernels hand out the same ones), pids as the step
that made the process, a segment's status without its times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mmapsim import IPC_SET, IPC_STAT, PAGE_SIZE, SHM_REMAP, SHM_RND, SHMLBA
from strategies.programs import Ref

Obs = tuple[object, ...]


class IpcRun:
    """shmget, shmat, shmdt, shmctl, memfd_create, shm_open, shm_unlink, dup, dup2, waitpid."""

    m: Any
    values: dict[int, object]
    procs: dict[int, Any]

    if TYPE_CHECKING:  # the methods of Run that these use

        def outcome(self, index: int, fn: Callable[[], object]) -> Obs: ...
        def addr(self, spec: object) -> int | None: ...
        def fd(self, spec: object) -> int: ...
        def safe_range(self, call: str, va: int, length: int) -> bool: ...
        def inside(self, start: int, end: int) -> bool: ...

    def _value(self, spec: object, default: int = -1) -> int:
        if isinstance(spec, Ref):
            value = self.values.get(spec.step)
            return value if isinstance(value, int) else default
        assert isinstance(spec, int)
        return spec

    def _proc_of(self, pid: int) -> object:
        """A pid as the step that made its process (pids differ between machines)."""
        for index, p in self.procs.items():
            if p.pid == pid:
                return ("proc", index)
        return pid if pid <= 0 else "another pid"

    def call_shmget(self, index: int, p: Any, key: int, size: int, flags: int) -> Obs:
        return self.outcome(index, lambda: p.shmget(key, size, flags))

    def call_shmat(self, index: int, p: Any, shmid: object, spec: object, flags: int) -> Obs:
        sid = self._value(shmid)
        va = self.addr(spec)
        if spec is not None and va is None:
            return ("unresolved",)
        if va:
            start = va & ~(SHMLBA - 1) if flags & SHM_RND else va
            size = self._segment_size(p, sid)
            if start and size and not self.safe_range("mmap-fixed", start, size):
                return ("outside",)
            if flags & SHM_REMAP and not start and not self.inside(0, size):
                return ("outside",)
        result = self.outcome(index, lambda: p.shmat(sid, va or 0, flags))
        if result[0] == "ok":
            return ("ok", result[1])
        return result

    def _segment_size(self, p: Any, shmid: int) -> int:
        try:
            size = int(p.shmctl(shmid, IPC_STAT).shm_segsz)
        except (OSError, OverflowError, ProcessLookupError):
            return 0
        return (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE

    def call_shmdt(self, index: int, p: Any, spec: object) -> Obs:
        va = self.addr(spec)
        if va is None:
            return ("unresolved",)
        return self.outcome(index, lambda: p.shmdt(va))

    def call_shmctl(self, index: int, p: Any, shmid: object, cmd: int) -> Obs:
        sid = self._value(shmid)
        buf = type("Buf", (), {"shm_perm_mode": 0o640})() if cmd == IPC_SET else None
        result = self.outcome(index, lambda: p.shmctl(sid, cmd, buf))
        info = self.values.get(index)
        if result[0] != "ok" or info is None:
            return result
        return (
            "ok",
            info.shm_perm_key,  # type: ignore[attr-defined]
            info.shm_perm_mode,  # type: ignore[attr-defined]
            info.shm_segsz,  # type: ignore[attr-defined]
            info.shm_nattch,  # type: ignore[attr-defined]
            self._proc_of(info.shm_cpid),  # type: ignore[attr-defined]
            self._proc_of(info.shm_lpid),  # type: ignore[attr-defined]
        )

    def call_memfd_create(self, index: int, p: Any, name: str, flags: int) -> Obs:
        return self.outcome(index, lambda: p.memfd_create(name, flags))

    def call_shm_open(self, index: int, p: Any, name: str, flags: int) -> Obs:
        return self.outcome(index, lambda: p.shm_open(name, flags, 0o600))

    def call_shm_unlink(self, index: int, p: Any, name: str) -> Obs:
        return self.outcome(index, lambda: p.shm_unlink(name))

    def call_dup(self, index: int, p: Any, fd: object) -> Obs:
        return self.outcome(index, lambda: p.dup(self.fd(fd)))

    def call_dup2(self, index: int, p: Any, fd: object, fd2: int) -> Obs:
        return self.outcome(index, lambda: p.dup2(self.fd(fd), fd2))

    def call_waitpid(self, index: int, p: Any, spec: object, options: int) -> Obs:
        if isinstance(spec, Ref):
            child = self.procs.get(spec.step)
            pid = child.pid if child is not None else 99999
        else:
            assert isinstance(spec, int)
            pid = spec
        result = self.outcome(index, lambda: p.waitpid(pid, options))
        got = self.values.get(index)
        if result[0] != "ok" or not isinstance(got, tuple):
            return result
        return ("ok", self._proc_of(got[0]), got[1])

    def zombies(self) -> list[int]:
        """The steps whose processes the machine lists but which no longer run."""
        listed = {p.pid for p in self.m_processes()}
        return sorted(i for i, p in self.procs.items() if not p.alive and p.pid in listed)

    def m_processes(self) -> list[Any]:
        return list(self.m.processes)
