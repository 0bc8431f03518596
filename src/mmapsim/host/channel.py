"""Framed messages between the controller and its real processes.

A frame is an 8-byte little-endian length and a pickle; file descriptors ride as
SCM_RIGHTS on the first byte of a frame.  Requests are the controller's own, but
a reply comes from a worker, which runs a program from anyone: in case that
worker was subverted, a reply is unpickled by :class:`_ReplyUnpickler`, which
builds nothing but plain values, exceptions and ``os.stat_result`` (a pickle
could otherwise run any code in the controller, outside the confinement), and a
frame longer than the channel's ``limit`` is refused.  A peer that is gone
(EOF, EPIPE, ECONNRESET) is :class:`ChannelClosed`; an interrupted send
leaves the channel ``broken``.
"""

from __future__ import annotations

import array
import builtins
import io
import math
import os
import pickle
import select
import socket
import struct
from typing import Final

HEADER: Final = struct.Struct("<Q")
_MAX_FDS: Final = 4
_FD_SPACE: Final = socket.CMSG_SPACE(_MAX_FDS * 4)
#: Payloads up to this size are received with one recv (a larger one into one buffer).
_SMALL: Final = 1 << 16


class ChannelClosed(Exception):
    """The process at the other end of the channel is gone."""


class ChannelBroken(RuntimeError):
    """An earlier send or receive was interrupted, so the framing is lost."""


#: The classes a reply may hold, besides the builtin exceptions.
_REPLY_CLASSES: Final = {
    ("os", "stat_result"),
    ("posix", "stat_result"),
    ("mmapsim.host.boundary", "HostRefused"),
    ("mmapsim.host.boundary", "Op"),
    ("mmapsim.host.limits", "HostTimeout"),
    ("mmapsim.errors", "HostRefused"),
    ("mmapsim.errors", "HostTimeout"),
}


class _ReplyUnpickler(pickle.Unpickler):
    """Unpickles plain values, builtin exceptions and the few classes above; nothing else."""

    def find_class(self, module: str, name: str) -> type:
        if module == "builtins":
            found = getattr(builtins, name, None)
            if isinstance(found, type) and issubclass(found, BaseException):
                return found
        elif (module, name) in _REPLY_CLASSES:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"a reply may not hold {module}.{name}")


def _load_reply(payload: bytes) -> object:
    try:
        return _ReplyUnpickler(io.BytesIO(payload)).load()
    except Exception as exc:  # a subverted or broken peer: never trust the frame
        raise ChannelBroken(f"unreadable reply: {exc}") from None


class Channel:
    """One end of a framed, pickled message stream over a Unix stream socket."""

    __slots__ = ("_watch", "broken", "limit", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.broken = False
        self.limit: int | None = None  # the longest frame accepted (None: any)
        self._watch: select.poll | None = None

    def wait(self, seconds: float) -> bool:
        """Whether something (a frame, or the end of the stream) arrives within ``seconds``."""
        watch = self._watch
        if watch is None:
            watch = self._watch = select.poll()
            watch.register(self.sock, select.POLLIN)
        return bool(watch.poll(max(0, math.ceil(seconds * 1000))))

    @classmethod
    def from_fd(cls, fd: int) -> Channel:
        """Wrap a socket file descriptor that this process owns."""
        return cls(socket.socket(fileno=fd))

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send(self, message: object, fds: tuple[int, ...] = ()) -> None:
        """Send one message (and ``fds``, duplicated into the receiver)."""
        if self.broken:
            raise ChannelBroken("channel lost its framing after an interruption")
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        frame = HEADER.pack(len(payload)) + payload
        try:
            self._send_frame(frame, fds)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ChannelClosed(str(exc)) from None
        except BaseException:
            self.broken = True
            raise

    def _send_frame(self, frame: bytes, fds: tuple[int, ...]) -> None:
        if not fds:
            self.sock.sendall(frame)
            return
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sent = self.sock.sendmsg([frame], rights)
        if sent < len(frame):
            self.sock.sendall(frame[sent:])

    def recv(self, *, reply: bool = False) -> tuple[object, list[int]]:
        """The next message and any file descriptors that came with it.

        ``reply``: the message is a reply from a worker (see the module doc).
        """
        if self.broken:
            raise ChannelBroken("channel lost its framing after an interruption")
        try:
            header, fds = self._recv_header()
            size = HEADER.unpack(header)[0]
            if self.limit is not None and size > self.limit:
                for fd in fds:
                    os.close(fd)
                raise ChannelBroken(f"a frame of {size} bytes is over this channel's limit")
            payload = self._recv_exact(size)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ChannelClosed(str(exc)) from None
        except ChannelClosed:
            raise
        except BaseException:
            self.broken = True
            raise
        if reply:
            try:
                return _load_reply(payload), fds
            except ChannelBroken:
                self.broken = True
                for fd in fds:
                    os.close(fd)
                raise
        return pickle.loads(payload), fds

    def recv_request(self) -> tuple[int, str, tuple[object, ...], list[int]]:
        """The next request ``(rid, op, args)`` and the fds that came with it."""
        message, fds = self.recv()
        if not (isinstance(message, tuple) and len(message) == 3):
            raise ChannelBroken(f"not a request: {message!r}")
        rid, op, args = message
        return int(rid), str(op), tuple(args), fds

    def recv_reply(self, rid: int) -> tuple[bool, object]:
        """The reply ``(ok, value)`` to request ``rid``; stale replies are dropped."""
        while True:
            message, fds = self.recv(reply=True)
            for fd in fds:
                os.close(fd)
            if not (isinstance(message, tuple) and len(message) == 2):
                raise ChannelBroken(f"not a reply: {message!r}")
            got, reply = message
            if got == rid:
                ok, value = reply
                return bool(ok), value

    def _recv_header(self) -> tuple[bytes, list[int]]:
        data, ancdata, _flags, _addr = self.sock.recvmsg(HEADER.size, _FD_SPACE)
        fds: list[int] = []
        for level, kind, blob in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(blob) - len(blob) % 4
                fds.extend(array.array("i", blob[:usable]))
        if not data:
            raise ChannelClosed("end of file")
        if len(data) < HEADER.size:
            data += self._recv_exact(HEADER.size - len(data))
        return data, fds

    def _recv_exact(self, size: int) -> bytes:
        first = self.sock.recv(size) if size <= _SMALL else b""  # the usual frame: one call
        if len(first) == size:
            return first
        if size <= _SMALL and not first:
            raise ChannelClosed("end of file inside a frame")
        buf = bytearray(size)
        view = memoryview(buf)
        got = len(first)
        view[:got] = first
        while got < size:
            n = self.sock.recv_into(view[got:], size - got)
            if n == 0:
                raise ChannelClosed("end of file inside a frame")
            got += n
        return bytes(buf)
