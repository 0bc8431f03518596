"""HostMachine: API.md's Machine on this computer's real Linux kernel (the oracle).

    controller (this process)        master            one per machine
    HostMachine ── channel ──▶  python (fresh) ──fork──▶ zygote ──fork──▶ worker
    HostProcess ── channel ─────────────────────────────────────────────▶ worker
                                                                worker ──fork──▶ child

Every process is a real process (a worker) that serves calls over a Unix
socket.  ``spawn`` forks a fresh worker from the machine's zygote; ``fork`` is a
real fork(2) of the worker, so the child inherits the real mappings.  Files live
in a private temporary root.  ``close()``, the ``with`` block, garbage collection
and interpreter exit all kill and reap every process and delete every file.
"""

from __future__ import annotations

import errno
import os
import sys
import weakref
from types import TracebackType

from mmapsim import abi
from mmapsim.contract import MachineAPI
from mmapsim.errors import HostRefused
from mmapsim.host import disk_io, limits
from mmapsim.host.channel import ChannelClosed
from mmapsim.host.host_process import HostProcess, _Died
from mmapsim.host.limits import Limits, room
from mmapsim.host.state import MachineState, ProcRecord


def _require_linux() -> None:
    if not sys.platform.startswith("linux"):
        raise RuntimeError(
            f"HostMachine runs the calls on the real Linux kernel; this is {sys.platform}"
        )


class HostMachine:
    """The same contract as ``mmapsim.Machine``, on the real kernel.

    Processes run as the user who runs the controller, confined by the kernel
    (``sandbox``) and kept off the worker's own memory (``boundary``).  The
    limits of the machine are options (``limits`` says what each bounds and
    its default); docs/security.md has the whole threat model.
    ``check_invariants`` is accepted for symmetry with the simulator and
    ignored (the kernel is the truth).
    """

    def __init__(
        self,
        *,
        check_invariants: bool = False,
        max_processes: int = limits.MAX_PROCESSES,
        max_memory: int = limits.MAX_MEMORY,
        max_disk_bytes: int = limits.MAX_DISK_BYTES,
        max_file_size: int | None = None,
        max_io_bytes: int = limits.MAX_IO_BYTES,
        max_call_seconds: float = limits.MAX_CALL_SECONDS,
    ) -> None:
        _require_linux()
        del check_invariants
        bounds = Limits(
            max_processes, max_memory, max_disk_bytes, max_file_size, max_io_bytes, max_call_seconds
        )
        self._state = MachineState.start(bounds)
        self._processes: list[HostProcess] = []
        self._finalizer = weakref.finalize(self, self._state.close)

    def _check_open(self) -> None:
        if self._state.closed:
            raise RuntimeError("this HostMachine is closed")

    def spawn(self, name: str | None = None) -> HostProcess:
        """A new real process, forked from the machine's zygote."""
        self._check_open()
        if name is not None and not isinstance(name, str):
            raise TypeError("name must be a str")
        state = self._state
        with state.lock:
            slot = state.alloc_slot()
            try:
                record = state.spawn(slot)
            except BaseException:
                state.free_slots.append(slot)
                raise
        return self._adopt(HostProcess(self, record, name))

    def _adopt(self, proc: HostProcess) -> HostProcess:
        self._processes.append(proc)
        return proc

    def _fork(self, parent: HostProcess, name: str | None) -> HostProcess:
        """fork(2) of ``parent``: its worker forks, the child keeps a new channel."""
        if name is not None and not isinstance(name, str):
            raise TypeError("name must be a str")
        state = self._state
        with state.lock:
            slot = state.alloc_slot()
            chan, theirs = state.new_channel()
            try:
                with theirs:
                    parent._call("fork_room")
                    pid = parent._call("fork", slot, fds=(theirs.fileno(),))
            except BaseException as exc:
                state.free_slots.append(slot)
                chan.close()
                if isinstance(exc, _Died):
                    parent._gone()
                raise
            assert isinstance(pid, int)
            record = state.adopt(pid, slot, chan)
            record.pages = parent._record.pages.copy()  # fork(2) copies the mappings
            record.parent = parent._record
        return self._adopt(HostProcess(self, record, name))

    def write_file(self, path: str, data: bytes) -> None:
        """Create a file, or rewrite it in place (same inode, truncated then written).

        The bytes are written back (fsync) before this returns, so that the page
        cache is clean, as on the simulator, and not at the flusher's whim.
        """
        self._check_open()
        state = self._state
        real = state.ns.outside(abi.path("path", path))
        payload = memoryview(abi.data("data", data))
        state.limits.check_io("write_file", len(payload))
        old = os.stat(real).st_blocks * 512 if os.path.isfile(real) else 0
        pids = [r.pid for r in state.records if r.alive]
        if payload and room(state.limits, state.ns.root, pids, len(payload) + old) < len(payload):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        try:
            fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise self._state.ns.contract_error(exc) from None
        try:
            while payload:
                payload = payload[os.write(fd, payload) :]
            os.fsync(fd)  # on disk, as the simulator's write_file leaves it
        finally:
            os.close(fd)

    def read_file(self, path: str) -> bytes:
        """The file's contents as read() sees them now."""
        self._check_open()
        real = self._state.ns.outside(abi.path("path", path))
        cap = self._state.limits.max_io_bytes
        try:
            with open(real, "rb") as f:
                data = f.read(cap + 1)  # /dev/zero has no end
        except OSError as exc:
            raise self._state.ns.contract_error(exc) from None
        if len(data) > cap:
            raise HostRefused(
                f"read_file of {path!r} refused: it holds more than {cap} bytes, what one "
                "call of this HostMachine moves at most (HostMachine(max_io_bytes=...))"
            )
        return data

    def stat_file(self, path: str) -> os.stat_result:
        """stat(2) of ``path``, as a tool outside every process would ask it."""
        self._check_open()
        real = self._state.ns.outside(abi.path("path", path))
        try:
            return os.stat(real)
        except OSError as exc:
            raise self._state.ns.contract_error(exc) from None

    def read_disk(self, path: str) -> bytes:
        """The file's bytes on its disk, read past the page cache (O_DIRECT).

        Only while the file has no dirty page: see :mod:`mmapsim.host.disk_io`
        for why Linux cannot show the older bytes under a dirty page
        (:class:`mmapsim.errors.NotOnThisKernel`).
        """
        self._check_open()
        shown = abi.path("path", path)
        real = self._state.ns.outside(shown)
        try:
            return disk_io.read_disk(real, shown)
        except OSError as exc:
            raise self._state.ns.contract_error(exc) from None

    def page_cache_state(self, path: str, pages: int) -> dict[int, tuple[bool, bool]]:
        """(in the page cache, dirty) of each of the file's first ``pages`` pages (cachestat)."""
        self._check_open()
        real = self._state.ns.outside(abi.path("path", path))
        try:
            return disk_io.page_states(real, pages)
        except OSError as exc:
            raise self._state.ns.contract_error(exc) from None

    def sync(self) -> int:
        """sync(2) of this machine: every file of its private root written back.

        Returns how many dirty pages there were (cachestat(2)).  A file that is
        unlinked but still mapped is not reached (the simulator's sync writes it).
        """
        self._check_open()
        return disk_io.sync_tree(self._state.ns.root)

    @property
    def max_call_seconds(self) -> float:
        """The wall time one call may take before its process is killed (HostTimeout)."""
        return self._state.limits.max_call_seconds

    @property
    def processes(self) -> list[HostProcess]:
        """The live processes, and the zombies (ended, their parent has not waited)."""
        return [p for p in self._processes if p.alive or p.zombie]

    def _reaped(self, parent: ProcRecord, pid: int) -> None:
        """``parent``'s waitpid reaped its child ``pid``: no longer a zombie."""
        with self._state.lock:
            for record in self._state.records:
                if record.pid == pid and record.parent is parent:
                    record.reaped = True

    def process(self, pid: int) -> HostProcess:
        """The HostProcess of ``pid`` (live or not)."""
        for p in self._processes:
            if p.pid == pid:
                return p
        raise KeyError(pid)

    def close(self) -> None:
        """Kill and reap every real process and delete every file (idempotent)."""
        self._finalizer()

    def __enter__(self) -> HostMachine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._state.closed:
            return "<HostMachine closed>"
        return f"<HostMachine zygote {self._state.zpid}, {len(self.processes)} processes>"


#: API.md's Machine on the real kernel, checked by mypy (mmapsim.contract).
_contract: type[MachineAPI] = HostMachine


__all__ = ["ChannelClosed", "HostMachine"]
