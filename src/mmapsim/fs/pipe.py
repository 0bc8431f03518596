"""Pipes: a bounded byte buffer between a read end and a write end.

The simulated machine runs one call at a time, so nothing may block: reading
an empty pipe that still has writers fails with EAGAIN, and a write that does
not fit writes what fits (EAGAIN if nothing does), as with O_NONBLOCK.
Writing with no reader left fails with EPIPE (SIGPIPE ignored, as in Python).
"""

from __future__ import annotations

import errno

from mmapsim.errors import syscall_error

PIPE_CAPACITY = 65536


class Pipe:
    """The buffer and the number of open ends of each kind."""

    __slots__ = ("buffer", "readers", "writers")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.readers = 0
        self.writers = 0

    def read(self, count: int) -> bytes:
        """pipe_read: a read of 0 bytes returns at once, before any check."""
        if count == 0:
            return b""
        if not self.buffer:
            if self.writers:
                raise syscall_error(errno.EAGAIN)
            return b""
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if not self.readers:
            raise syscall_error(errno.EPIPE)
        room = PIPE_CAPACITY - len(self.buffer)
        if room <= 0 and len(data):
            raise syscall_error(errno.EAGAIN)
        chunk = bytes(data[:room])
        self.buffer += chunk
        return len(chunk)
