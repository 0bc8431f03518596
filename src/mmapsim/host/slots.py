"""The status table that a machine's processes share with the controller.

A real process that dies cannot say how it died, and only its parent can reap
it.  So every process of a machine gets a *slot* in a small shared-memory table
(a memfd that the machine's zygote maps MAP_SHARED before it forks anything, and
that the controller maps too):

    slot i, 32 bytes:  pid | state | wait status | fault va
                       q     q       q             Q

The parent writes ``pid`` right after fork(2); whoever reaps the process (its
parent, or the zygote as child subreaper for orphans) writes the wait status and
then ``state = REAPED``; the process itself writes, before it touches each page
in a load or store, the address it is about to touch, so that after a SIGSEGV
or SIGBUS the controller knows the lowest faulting address.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from typing import Final

SLOT: Final = struct.Struct("<qqqQ")
SLOT_SIZE: Final = SLOT.size
N_SLOTS: Final = 4096
TABLE_SIZE: Final = N_SLOTS * SLOT_SIZE

RUNNING: Final = 0
REAPED: Final = 1

_PID: Final = struct.Struct("<q")
_STATE_STATUS: Final = struct.Struct("<qq")


class SlotTable:
    """A view of the shared table, usable from the controller and the workers."""

    __slots__ = ("buf",)

    def __init__(self, buf: mmap.mmap | ctypes.Array[ctypes.c_char]) -> None:
        self.buf = buf

    @classmethod
    def attach(cls, fd: int) -> SlotTable:
        """Map the table behind ``fd`` (the controller's side)."""
        return cls(mmap.mmap(fd, TABLE_SIZE))

    def set_pid(self, slot: int, pid: int) -> None:
        """Claim ``slot`` for the new process ``pid`` (its parent calls this)."""
        SLOT.pack_into(self.buf, slot * SLOT_SIZE, pid, RUNNING, 0, 0)

    def fault_word(self, slot: int) -> ctypes.c_uint64:
        """The shared word that the process of ``slot`` writes its next address into."""
        return ctypes.c_uint64.from_buffer(self.buf, slot * SLOT_SIZE + 24)

    def publish(self, pid: int, status: int) -> bool:
        """Record the wait status of ``pid``; False when no running slot has it."""
        pattern, snapshot = _PID.pack(pid), bytes(self.buf)
        pos = snapshot.find(pattern)
        while pos >= 0:
            if pos % SLOT_SIZE == 0 and _PID.unpack_from(self.buf, pos + 8)[0] == RUNNING:
                _PID.pack_into(self.buf, pos + 16, status)
                _PID.pack_into(self.buf, pos + 8, REAPED)
                return True
            pos = snapshot.find(pattern, pos + 1)
        return False

    def status(self, slot: int) -> int | None:
        """The wait status of the process of ``slot``, or None while it is not reaped."""
        state, status = _STATE_STATUS.unpack_from(self.buf, slot * SLOT_SIZE + 8)
        return int(status) if state == REAPED else None

    def fault_va(self, slot: int) -> int:
        """The last address that the process of ``slot`` was about to touch."""
        return int(SLOT.unpack_from(self.buf, slot * SLOT_SIZE)[3])

    def clear(self, slot: int) -> None:
        """Forget ``slot`` so that it can be given to a new process."""
        SLOT.pack_into(self.buf, slot * SLOT_SIZE, 0, RUNNING, 0, 0)

    def close(self) -> None:
        if isinstance(self.buf, mmap.mmap):
            self.buf.close()
