"""What one HostMachine may use of this computer: processes, memory, disk, bytes and time.

Each limit is an option of ``HostMachine(...)`` (the defaults below), checked
where Linux itself would answer, with Linux's error where it has one:

* ``max_processes`` (64): a spawn or fork beyond it fails with EAGAIN, as
  fork(2) at RLIMIT_NPROC; a cgroup ``pids.max`` of the same number (with
  room for the zygote) also holds any process made behind the contract's back;
* ``max_memory`` (2 GiB): the cgroup ``memory`` limit of all the machine's
  processes together; a process that passes it is killed by the kernel's OOM
  killer (SIGKILL), and nothing changes what a program may *map*;
* ``max_disk_bytes`` (1 GiB): the blocks of every file under the private root
  (and of every file the machine's processes hold open): a write or pwrite
  that would pass it writes what fits, then fails with ENOSPC, as on a full
  disk; ``max_file_size`` (None: no limit) is RLIMIT_FSIZE (EFBIG, as Linux);
* ``max_io_bytes`` (64 MiB): the bytes one call may move (read, pread, load,
  store, write, pwrite, read_file, write_file); more is refused with
  :class:`~mmapsim.host.boundary.HostRefused` before the call reaches the kernel;
* ``max_call_seconds`` (30.0): the wall time of one call; past it the process
  is killed (SIGKILL) and the call raises :class:`HostTimeout`.

The cgroup limits need a writable cgroup hierarchy (root, v1 or v2); without
one the machine warns once (``sandbox.ConfinementWarning``) and goes on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from mmapsim.errors import HostRefused
from mmapsim.errors import HostTimeout as HostTimeout  # its home before errors.py

if TYPE_CHECKING:
    from mmapsim.host.state import MachineState

GiB: Final = 1 << 30
MiB: Final = 1 << 20


MAX_PROCESSES: Final = 64
MAX_MEMORY: Final = 2 * GiB
MAX_DISK_BYTES: Final = GiB
MAX_IO_BYTES: Final = 64 * MiB
MAX_CALL_SECONDS: Final = 30.0
#: RLIMIT_NOFILE of every process of a machine: the simulator's fd table limit
#: (``FdTable.limit``) and the soft limit a login gets.  The hard limit is one
#: more, so that a worker whose table is full can still take the descriptor of
#: a fork child's channel (``Worker.op_fork_room``).
NOFILE: Final = 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one HostMachine (see the module doc)."""

    max_processes: int = MAX_PROCESSES
    max_memory: int = MAX_MEMORY
    max_disk_bytes: int = MAX_DISK_BYTES
    max_file_size: int | None = None
    max_io_bytes: int = MAX_IO_BYTES
    max_call_seconds: float = MAX_CALL_SECONDS

    def __post_init__(self) -> None:
        for name in ("max_processes", "max_memory", "max_disk_bytes", "max_io_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"HostMachine({name}=...) must be a positive int, not {value!r}")
        size = self.max_file_size
        if size is not None and (not isinstance(size, int) or size <= 0):
            raise ValueError("HostMachine(max_file_size=...) must be a positive int or None")
        seconds = self.max_call_seconds
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            raise ValueError("HostMachine(max_call_seconds=...) must be a positive number")

    def check_io(self, what: str, count: int) -> None:
        """Refuse a call that would move more than ``max_io_bytes``."""
        if count > self.max_io_bytes:
            raise HostRefused(
                f"{what} of {count} bytes refused: one call of this HostMachine moves at "
                f"most {self.max_io_bytes} bytes (HostMachine(max_io_bytes=...))"
            )


def disk_usage(root: str, pids: list[int]) -> int:
    """Bytes of the blocks of the files under ``root`` and of those ``pids`` hold open."""
    seen: set[tuple[int, int]] = set()
    total = 0

    def count(st: os.stat_result) -> None:
        nonlocal total
        key = (st.st_dev, st.st_ino)
        if stat.S_ISREG(st.st_mode) and key not in seen:
            seen.add(key)
            total += st.st_blocks * 512

    for top, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                count(os.lstat(os.path.join(top, name)))
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    count(os.stat(f"/proc/{pid}/fd/{fd}"))
    return total


def room(limits: Limits, root: str, pids: list[int], count: int) -> int:
    """How many of ``count`` new bytes fit on the machine's disk; ENOSPC if none."""
    if count == 0:
        return 0
    free = limits.max_disk_bytes - disk_usage(root, pids)
    if free <= 0:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return min(count, free)


def fitting(state: MachineState, pid: int, fd: int, data: bytes) -> bytes:
    """What of ``data``, written to ``fd`` of process ``pid``, fits on the machine's disk.

    Only a regular file takes disk blocks; a pipe or device takes all.  ENOSPC
    when nothing fits (see ``room``).
    """
    state.limits.check_io("write", len(data))
    try:
        if not stat.S_ISREG(os.stat(f"/proc/{pid}/fd/{fd}").st_mode):
            return data
    except OSError:
        return data  # EBADF and the like: the kernel answers
    pids = [r.pid for r in state.records if r.alive]
    return data[: room(state.limits, state.ns.root, pids, len(data))]


def check_store(state: MachineState, size: int) -> None:
    """Stores through shared file mappings fill a file's holes: a full disk refuses them.

    Checked for every store of 64 KiB or more and every 256th smaller one
    (so that small stores stay cheap), the disk's use can pass
    ``max_disk_bytes`` by at most 16 MiB this way.  Linux would kill the
    process with SIGBUS at the page that finds no room; the host refuses the
    store instead, with a message that names the limit.
    """
    state.stores += 1
    if size < 1 << 16 and state.stores % 256:
        return
    pids = [r.pid for r in state.records if r.alive]
    if disk_usage(state.ns.root, pids) >= state.limits.max_disk_bytes:
        raise HostRefused(
            f"store of {size} bytes refused: this HostMachine's disk is full "
            f"({state.limits.max_disk_bytes} bytes, HostMachine(max_disk_bytes=...))"
        )
